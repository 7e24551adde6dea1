"""actiongw's code tables (document sections 7, 8 and 9), and the typed error for a code.

* ``STATUS_CODES``: the request-level ``status`` of every reply (section 7, STATUS错误代码表);
* ``RESULT_CODES``: the per-number ``result`` of a send / p2p reply (section 8, RESULT错误代码表);
* ``STAT_CODES``: the ``stat`` of a delivery report (section 9, STAT状态代码表).

The ``zh`` texts are the document's own words (for EXPIRED / DELETED / REJECTED the document's
description column is already English, and is kept as written).  The success rows (status 0,
result 0) have the meaning ``"ok"``: they are not errors.
"""

from __future__ import annotations

from messaging.statuses import Status

from ..base import ERROR_KINDS, Code, VendorError

OK = "ok"

STATUS_CODES: dict[str, Code] = {
    "0": Code(OK, "鉴权成功", "Authenticated"),
    "1": Code("invalid_request", "消息包格式错误", "Malformed request"),
    "2": Code("auth", "IP鉴权错误", "IP address not allowed"),
    "3": Code("auth", "账号密码不正确", "Wrong account or password"),
    "4": Code("invalid_request", "版本号错误", "Wrong version number"),
    # "Other error" says nothing about whether anything was taken: the generic kind, which
    # the pipeline never re-sends blindly.
    "5": Code("vendor_error", "其它错误", "Other error"),
    # The account is configured for another access method (e.g. CMPP): nothing is taken until
    # the gateway's administrator changes how the account is set up.
    "6": Code(
        "account",
        "接入点错误（如账户本身开的是CMPP接入）",
        "Wrong access point (e.g. the account is set up for CMPP access)",
    ),
    "7": Code("auth", "账号状态异常（账号已停用）", "Account disabled"),
    "21": Code("rate_limited", "连接过多", "Too many connections"),
    # Refused before anything was accepted (the document's example: no outbound route for the
    # number's carrier), so a later retry is safe.
    "100": Code(
        "transient",
        "系统内部错误，一般情况下例如：提交手机号码为 电信，但是该账号没用可用的电信接出点",
        "Internal gateway error, e.g. no outbound route for the number's carrier (China Telecom)",
    ),
    "102": Code(
        "invalid_request",
        "单次提交的号码数过多（建议200以内）",
        "Too many numbers in one request (200 or fewer recommended)",
    ),
}

RESULT_CODES: dict[str, Code] = {
    "0": Code(OK, "提交成功", "Submitted"),
    # Section 10 (常见错误), 错误码10: the extno is not the account's access number; only the
    # account's settings (or the gateway's administrator) can fix it.
    "10": Code("account", "原发号码错误，即extno错误", "Wrong sender number (extno)"),
    # 错误码15: "网关管理员 对该账号充值" or make the account post-paid.
    "15": Code("balance", "余额不足", "Insufficient balance"),
    # 错误码17: 签名 here is the SMS signature 【…】 the gateway checks in the content, not the
    # MD5 password.  The fix is the account's: a signature its administrator has registered
    # (账号签名报备), or the signature check switched off.
    "17": Code("account", "账号签名无效", "Signature missing or not registered"),
}

# Only DELIVRD means delivered (CMPP).  "rejected": the gateway refused the message before it
# reached the carrier (blacklists, content, number format, routing); "undelivered": it was
# passed on and failed there.  The document's table has trailing spaces after the MA:/MO:
# codes; the keys here are stripped and ``report_code`` strips what the gateway sends.
STAT_CODES: dict[str, Code] = {
    "DELIVRD": Code(Status.DELIVERED, "短信投递成功", "Delivered"),
    "EXPIRED": Code(
        Status.EXPIRED, "Message validity period has expired", "Message validity period has expired"
    ),
    "DELETED": Code(Status.UNDELIVERED, "Message has been deleted.", "Message has been deleted"),
    "REJECTED": Code(
        Status.REJECTED, "Message is in a rejected state", "Message is in a rejected state"
    ),
    "MA:0001": Code(Status.REJECTED, "全局黑名单号码", "Number on the global blacklist"),
    "MA:0002": Code(Status.REJECTED, "内容非法", "Illegal content"),
    "MA:0003": Code(Status.REJECTED, "无法找到下级路由", "No downstream route"),
    "MA:0004": Code(Status.UNDELIVERED, "未知", "Unknown"),
    "MA:0005": Code(Status.REJECTED, "目的号码格式错误", "Invalid destination number format"),
    "MA:0006": Code(Status.REJECTED, "系统拒绝", "Refused by the system"),
    "MA:0009": Code(Status.UNDELIVERED, "未定义错误", "Undefined error"),
    "MA:0011": Code(Status.UNDELIVERED, "未知系统内部错误", "Unknown internal system error"),
    "MA:0012": Code(Status.REJECTED, "防钓鱼", "Blocked by anti-phishing"),
    "MA:0013": Code(Status.REJECTED, "非法错误的包时序", "Illegal packet sequence"),
    "MA:0014": Code(Status.REJECTED, "非法的OP_ISDN号段", "Illegal OP_ISDN number range"),
    "MA:0021": Code(Status.REJECTED, "号码格式错误", "Invalid number format"),
    "MA:0022": Code(
        Status.REJECTED,
        "号码超过半小时下发次数限制",
        "Number exceeded the half-hourly sending limit",
    ),
    "MA:0023": Code(Status.REJECTED, "客户黑名单号码", "Number on the customer's blacklist"),
    "MA:0024": Code(Status.REJECTED, "内容未报备", "Content not registered"),
    "MA:0025": Code(Status.REJECTED, "不支持该短信", "Message not supported"),
    "MA:0026": Code(
        Status.UNDELIVERED,
        "分条发送，组包超时",
        "Multipart message: timed out assembling the parts",
    ),
    "MA:0027": Code(Status.REJECTED, "通道黑名单", "On the channel's blacklist"),
    "MA:0028": Code(Status.REJECTED, "全局黑名单号段", "Number range on the global blacklist"),
    "MA:0029": Code(Status.REJECTED, "通道黑名单号段", "Number range on the channel's blacklist"),
    "MA:0030": Code(Status.REJECTED, "直接产生拒绝报告", "Rejection report generated directly"),
    # The table writes MO:200 with three digits beside MO:0254 / MO:0255; kept as written.
    "MO:200": Code(Status.UNDELIVERED, "不支持分条短信", "Multipart messages not supported"),
    "MO:0254": Code(Status.UNDELIVERED, "转发提交超时", "Forwarding submit timed out"),
    "MO:0255": Code(
        Status.UNDELIVERED, "转发提交过程中，连接断开", "Connection lost while forwarding"
    ),
}

# "MO:NNNN": any other MO: code is the upstream gateway's own answer, which only that gateway
# can explain.
UPSTREAM_CODE = Code(
    Status.UNDELIVERED,
    "NNNN为对外提交过程中，上级网关的返回值，具体含义需上级网关解释",
    "Upstream gateway's answer while forwarding; only the upstream gateway can explain it",
)
UNLISTED_CODE = Code(Status.UNDELIVERED, "", "Code not in the document's table")


def report_code(stat: str) -> tuple[str, Code]:
    """The stripped ``stat`` and its table row.  Codes outside the table count as undelivered:
    in CMPP anything but DELIVRD is a failed delivery."""
    stat = stat.strip()
    if stat in STAT_CODES:
        return stat, STAT_CODES[stat]
    return stat, UPSTREAM_CODE if stat.startswith("MO:") else UNLISTED_CODE


UNLISTED_KIND = "vendor_error"
"""A ``status`` or ``result`` outside the tables of sections 7 and 8.  The document says nothing
of other values (it does not say they mean failure), so such a code says nothing either way:
the message may have been taken."""


def error_for(code: str, raw: str | bytes, table: dict[str, Code] = STATUS_CODES) -> VendorError:
    """The typed error for a non-zero ``status`` (or, with ``RESULT_CODES``, ``result``)."""
    row = table.get(code)
    if row is None:
        return ERROR_KINDS[UNLISTED_KIND](
            f"actiongw answered a code its document does not list: {code!r}", code=code, raw=raw
        )
    return ERROR_KINDS[row.meaning](
        code=code, description_zh=row.zh, description_en=row.en, raw=raw
    )
