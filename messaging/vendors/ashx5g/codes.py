"""The ashx5g document's code tables ("5G SMS Interface" v8.33).

Report codes come from the report samples (3.3) and the overview ("the only success flag of a
report is DELIVRD"); error codes are the table in section 6, shared by every endpoint (the
template upload and its review push carry them as ``code`` instead of ``result``).
"""

from __future__ import annotations

import re

from messaging.statuses import Status

from ..base import ERROR_KINDS, Code, RateLimited, Refused, VendorError

SUCCESS = "0"

# The document has no table of report codes: only DELIVRD and UNDELIV appear (3.3 samples,
# with their ``sc_chn``).  It describes ``sc`` as "一般为 7 为字符组成的状态报告" - the
# seven-character stat of the carriers' CMPP gateways - so the other CMPP stats are listed
# too, each with the status it means.  Any other ``sc`` (carrier codes such as "MK:0001") is a
# failure as well, because DELIVRD is "the only success flag" (overview item 6): see
# ``report_status``.
REPORT_CODES: dict[str, Code] = {
    "DELIVRD": Code(Status.DELIVERED.value, "成功", "Delivered"),
    "UNDELIV": Code(Status.UNDELIVERED.value, "失败", "Not delivered"),
    # CMPP stats (not in the document's samples).
    "EXPIRED": Code(Status.EXPIRED.value, "超过有效期", "Validity period expired"),
    "REJECTD": Code(Status.REJECTED.value, "被拒绝", "Rejected"),
    "DELETED": Code(Status.UNDELIVERED.value, "已被删除", "Deleted"),
    "UNKNOWN": Code(Status.UNDELIVERED.value, "未知状态", "Unknown state (not delivered)"),
    "ACCEPTD": Code(Status.UNDELIVERED.value, "已接收(未送达)", "Accepted, not delivered"),
}


def report_status(code: str) -> str:
    """The normalized status of a report's ``sc``: DELIVRD is the only success flag, so an
    unlisted code is a failed delivery."""
    known = REPORT_CODES.get(code)
    return known.meaning if known else Status.UNDELIVERED.value


# Section 6 "常见错误代码", each with the ``VendorError.kind`` that says what it means for the
# messages of the request (see ``messaging.services.outcomes``).  "0" is listed there as well;
# its meaning "ok" is no error kind and ``error_for`` is never called with it.
ERROR_CODES: dict[str, Code] = {
    "0": Code("ok", "提交成功 或 认证成功", "Submitted or authenticated"),
    # -1 is a failed submission *or* a failed authentication: nothing was taken either way,
    # and which of the two it is cannot be told.  The simulator answers it for an unknown
    # account and for a template that is not approved there.  Read as "the account must be
    # fixed": the campaign pauses with the vendor's words and no message is lost, where
    # "refused" would fail a whole campaign for a credentials problem.
    "-1": Code("account", "提交失败 或 认证失败", "Submission or authentication failed"),
    "901": Code("auth", "密码错误", "Wrong password"),
    "902": Code("auth", "MD5 验证失败", "MD5 signature check failed"),
    "903": Code("auth", "MD5-TS 错误", "Invalid MD5 timestamp (ts)"),
    # IP binding and the account's access type are how the account is set up (overview 5).
    "904": Code("account", "IP 鉴权错误", "IP authentication error"),
    "905": Code("auth", "验证信息缺失", "Credentials missing"),
    "906": Code("balance", "余额不足", "Insufficient balance"),
    "907": Code("account", "非法 IP 鉴权", "IP address not allowed"),
    "908": Code("account", "非 WEB 账号", "Not a web account"),
    "909": Code("account", "非 HTTP 账号", "Not an HTTP account"),
    "910": Code("auth", "账号缺失", "Account missing"),
    "911": Code("auth", "密码缺失", "Password missing"),
    "912": Code("invalid_request", "号码缺失", "Phone number missing"),
    "913": Code("invalid_request", "内容缺失", "Content missing"),
    "914": Code("auth", "MD5-TS 缺失", "MD5 timestamp (ts) missing"),
    "915": Code("content_rejected", "内容长度错误", "Invalid content length"),
    "916": Code("invalid_number", "号码长度错误", "Invalid phone number length"),
    "917": Code("invalid_request", "定时格式错误", "Invalid scheduled time format"),
    "918": Code("invalid_request", "仅支持 POST", "Only POST is supported"),
    "919": Code("invalid_request", "变量参数缺失", "Variable parameters missing"),
    "920": Code("rate_limited", "接口频次限制 5 秒以上", "Too frequent: wait 5 seconds or more"),
}

POLL_INTERVAL_S = 5.0
"""Reports, replies and balance may be fetched at most once per 5 s, all of them together
(section 3, item 4)."""


def error_for(code: str, raw: str | bytes, vendor_text: str = "") -> VendorError:
    """The typed error for a non-zero ``result`` / ``code``.  ``vendor_text`` is the reply's
    own wording where it has one (``status`` of the template upload)."""
    row = ERROR_CODES.get(code)
    if row is None:
        # "result=其他代表提交失败" (2.5): an unlisted code is still a refusal.
        return Refused(
            vendor_text or f"ashx5g refused with code {code}",
            code=code,
            description_zh=vendor_text or "提交失败",
            description_en="Submission failed",
            raw=raw,
        )
    details = {"code": code, "description_zh": row.zh, "description_en": row.en, "raw": raw}
    error_class = ERROR_KINDS.get(row.meaning, VendorError)
    if error_class is RateLimited:
        return RateLimited(vendor_text, retry_after=POLL_INTERVAL_S, **details)
    return error_class(vendor_text, **details)


# Not in the document: the vendor's older gateway family answers a too-frequent call (a poll
# or a send) with this plain text and HTTP 200, instead of result=920:
#     frequency deny.please query slowly.f:5sec.
# "f:<n>sec" is how long to wait.
FREQUENCY_DENY = re.compile(r"\s*frequency\s+deny\b", re.IGNORECASE)
_WAIT = re.compile(r"\bf:\s*(\d+(?:\.\d+)?)\s*s(?:ec)?\b", re.IGNORECASE)


def frequency_denied(text: str) -> RateLimited | None:
    """The RateLimited error for the older gateways' "frequency deny" answer, else None."""
    if not FREQUENCY_DENY.match(text):
        return None
    wait = _WAIT.search(text)
    seconds = float(wait.group(1)) if wait else POLL_INTERVAL_S
    return RateLimited(
        text.strip(),
        retry_after=seconds if seconds > 0 else POLL_INTERVAL_S,
        description_zh=f"接口频次限制，请 {seconds:g} 秒后再试",
        description_en=f"Too frequent: wait {seconds:g} s",
        raw=text,
    )
