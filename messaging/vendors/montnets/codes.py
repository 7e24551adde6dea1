"""Montnets code tables: report ``errcode`` words and the section 4 error-code table.

This manual is the English edition, so it gives no Chinese wording: ``zh`` is our translation and
``en`` is the document's own text.
"""

from __future__ import annotations

from messaging.statuses import Status

from ..base import ERROR_KINDS, Code, Refused, VendorError

# Report ``errcode`` values.  The document shows only DELIVRD (and says ``status`` 0 is success,
# non-0 failure); the others are the SMPP 3.4 message states that the gateway forwards from the
# carriers, listed so a failure report keeps its specific meaning.  An errcode missing here still
# resolves through ``status`` (see ``client.parse_report``).
REPORT_CODES: dict[str, Code] = {
    "DELIVRD": Code(Status.DELIVERED, "成功送达", "Delivered"),
    "UNDELIV": Code(Status.UNDELIVERED, "无法送达", "Undeliverable"),
    "EXPIRED": Code(Status.EXPIRED, "超过有效期", "Validity period expired"),
    "REJECTD": Code(Status.REJECTED, "被拒绝", "Rejected"),
    "DELETED": Code(Status.UNDELIVERED, "已被删除", "Deleted"),
    "UNKNOWN": Code(Status.UNDELIVERED, "未知错误", "Unknown error"),
}

# Section 4 "Error code table": the ``result`` of send_single, send_batch and get_rpt.
ERROR_CODES: dict[str, Code] = {
    "-100001": Code(
        "auth",
        "鉴权不通过，请检查账号、密码、时间戳、固定串以及MD5算法是否按照文档要求进行设置",
        "Authentication fails, please check whether the account, password, timestamp, fixed "
        "string, and MD5 algorithm are set according to the requirements of the document",
    ),
    "-100002": Code(
        "auth",
        "用户多次鉴权不通过，请检查账号、密码、时间戳、固定串以及MD5算法是否按照文档要求进行设置",
        "User fails to pass multiple authentications, please check the account, password, "
        "timestamp, fixed string, and whether the MD5 algorithm is set according to the "
        "requirements of the document",
    ),
    "-100004": Code(
        "invalid_request",
        "custid或者exdata字段填写不合法",
        "Illegal to fill in the custid or exdata field",
    ),
    "-100011": Code("content_rejected", "短信内容超长", "SMS content is too long"),
    "-100012": Code("invalid_number", "手机号码不合法", "Invalid mobile phone number"),
    "-100014": Code(
        "invalid_request",
        "手机号码超过最大支持数量（1000）",
        "The mobile number exceeds the maximum supported number (1000)",
    ),
    "-100056": Code(
        "rate_limited",
        "用户账号登录的连接数超限",
        "The number of connections logged in by the user account exceeds the limit",
    ),
    # A login from an address the account is not bound to: the credentials are right, the
    # account's setup at Montnets (its IP list) must change before anything is sent.
    "-100057": Code("account", "用户账号登录的IP错误", "User account login IP is wrong"),
    # A non-zero result is a failure and comes with msgid 0 (2.1.6): nothing was accepted, and
    # an internal error of the platform is worth trying again later.
    "-100999": Code("transient", "平台数据库内部错误", "Platform database internal error"),
    "-100807": Code("invalid_request", "号码数量超限", "Exceeded number of numbers"),
    # The signed timestamp is too far from the gateway's clock (3.1 "the server may reject
    # your request"): the signature fails until our clock is fixed.
    "-100268": Code("auth", "请求报文时间过期", "Request message time expired"),
    "-100269": Code("invalid_request", "定时时间格式错误", "Timing time format error"),
    "-100270": Code("invalid_request", "有效期格式错误", "Invalid expiration date format"),
    "-100271": Code("invalid_request", "短信内容为空", "SMS content is empty"),
    "-100272": Code("content_rejected", "未匹配到短信验证码", "No SMS verification code matched"),
    "-100273": Code(
        "content_rejected",
        "DSC为0时，短信内容格式不是ASCII",
        "DSC is 0, the content format of the SMS is not ASCII.",
    ),
    "-100274": Code(
        "invalid_number", "手机号码不符合规则", "Mobile number does not meet the rules"
    ),
    # The table gives this row as the range "-100100~-100090".
    **{
        str(code): Code(
            "invalid_request", "请求报文体格式错误", "Request message body format error"
        )
        for code in range(-100100, -100089)
    },
}


def result_code(result: int) -> str:
    """The table's code for a ``result``.  Section 4 writes every code negative, and so do the
    samples (-100999), but the gateway also answers them without the sign (100001, 100999):
    a positive result that is a table code without its minus is that code."""
    code = str(result)
    if result > 0 and code not in ERROR_CODES and f"-{code}" in ERROR_CODES:
        return f"-{code}"
    return code


def error_for(code: str, raw: str | bytes, message: str = "") -> VendorError:
    """The typed error for a non-zero ``result``.

    A code missing from the table is still a refusal: 2.1.6, 2.2.6 and 2.4.5 say "non 0:
    failure" and 2.1.6 that a failed send's msgid is 0, so the gateway took nothing
    (``Refused``: failed for good, never re-sent blindly nor left "maybe taken")."""
    entry = ERROR_CODES.get(code)
    if entry is None:
        return Refused(message or f"Montnets error {code}", code=code, raw=raw)
    # RateLimited's default retry_after (5 s) is also the document's pause between polls.
    return ERROR_KINDS[entry.meaning](
        message, code=code, description_zh=entry.zh, description_en=entry.en, raw=raw
    )
