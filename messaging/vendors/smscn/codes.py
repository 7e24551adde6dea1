"""sms.cn code tables: the ``stat`` codes of its plain-text replies and its report statuses."""

from __future__ import annotations

from messaging.statuses import Status

from ..base import ERROR_KINDS, Code, RateLimited, VendorError

STAT_OK = "100"

# The document's one table (section 四) answers every request: /mt/ sends, /mm/ counters and,
# by the note "返回发送的状态码" under /rx/, polling too.  100 is the only non-error meaning.
STAT_CODES: dict[str, Code] = {
    "100": Code("ok", "发送成功", "Sent successfully"),
    "101": Code("auth", "验证失败", "Authentication failed"),
    "102": Code("balance", "短信不足", "Not enough message credit"),
    # A generic refusal that names no cause: sending it again unchanged will not help.
    "103": Code("invalid_request", "操作失败", "Operation failed"),
    "104": Code("content_rejected", "非法字符", "Illegal characters in the content"),
    "105": Code("content_rejected", "内容过多", "Content too long"),
    "106": Code("invalid_request", "号码过多", "Too many numbers in one request"),
    "107": Code("rate_limited", "频率过快", "Requests too frequent"),
    "108": Code("invalid_request", "号码内容空", "Number or content empty"),
    "109": Code("auth", "账号冻结", "Account frozen"),
    "110": Code("rate_limited", "禁止频繁单条发送", "Frequent single sends are not allowed"),
    "112": Code("invalid_number", "号码错误", "Invalid number"),
    # Quirk: the document has this code but never documents a scheduled-time parameter.
    "113": Code("invalid_request", "定时时间格式不对", "Scheduled time format is wrong"),
    # Locked for ten minutes (after failed logins): the credentials may be right, so wait.
    "114": Code("rate_limited", "账号被锁，10分钟后登录", "Account locked, retry in 10 min"),
    "116": Code("auth", "禁止接口发送", "Sending through the API is not allowed"),
    "117": Code("auth", "绑定IP不正确", "Request IP is not the bound IP"),
    "120": Code("transient", "系统升级", "System upgrade in progress"),
}

UNLISTED_KIND = "vendor_error"

RETRY_AFTER_S: dict[str, float] = {"114": 600.0}
"""How long to wait after a rate-limit code when the document says (other codes: 5 s)."""

# Quirk: the document (section 5.1) shows report lines only with status 100 and lists no other
# report status.  100 is its success code everywhere else, so it means delivered.  Failures come
# as the operators' CMPP stat words, which gateways relaying CMPP reports pass on: those with a
# meaning of their own are listed; anything else is a final report that the message was not
# delivered (see ``report_status``).
REPORT_CODES: dict[str, Code] = {
    "100": Code(Status.DELIVERED.value, "成功", "Delivered"),
    "DELIVRD": Code(Status.DELIVERED.value, "成功送达", "Delivered to the handset"),
    "EXPIRED": Code(Status.EXPIRED.value, "短信过期", "Expired before it could be delivered"),
    "UNDELIV": Code(Status.UNDELIVERED.value, "无法送达", "Undeliverable"),
    "REJECTD": Code(Status.REJECTED.value, "短信被拒绝", "Rejected by the operator"),
    "DELETED": Code(Status.UNDELIVERED.value, "短信被删除", "Deleted by the operator"),
    "UNKNOWN": Code(Status.UNDELIVERED.value, "未知状态", "Unknown state (not delivered)"),
}


def report_status(code: str) -> Code:
    """The normalized meaning of a report status; unlisted codes are undelivered."""
    return REPORT_CODES.get(code.strip()) or Code(
        Status.UNDELIVERED.value, f"未送达（状态码 {code}）", f"Not delivered (status {code})"
    )


def error_for(code: str, raw: str, message: str = "") -> VendorError:
    """The typed error for a ``stat`` code other than 100.  ``message`` is what the reply said."""
    row = STAT_CODES.get(code)
    if row is None or row.meaning == "ok":
        # A code outside the table of section 四: the document says nothing of other values
        # (not even that they mean failure), so it says nothing either way: maybe taken.
        return ERROR_KINDS[UNLISTED_KIND](
            f"sms.cn answered stat={code!r}, a code its document does not list",
            code=code,
            description_zh=message,
            raw=raw,
        )
    details = {
        "code": code,
        "description_zh": message or row.zh,
        "description_en": row.en,
        "raw": raw,
    }
    if row.meaning == "rate_limited":
        return RateLimited(retry_after=RETRY_AFTER_S.get(code, 5.0), **details)
    return ERROR_KINDS[row.meaning](**details)
