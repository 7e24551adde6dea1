"""smsadmin.cn's result codes and report status values.

Every answer of the document's interfaces is a number followed by Chinese words, e.g.
``0 发送成功!``; the three send tables (GET, POST, 点点通) share the same rows, except that
code 3 names the limit of the interface (100 for GET, 1000 for POST and 点点通).
"""

from __future__ import annotations

from messaging.statuses import Status

from ..base import ERROR_KINDS, Code, VendorError

# ``meaning`` is a ``VendorError.kind``, or "ok" / "nothing_to_fetch" for the two answers that
# are not errors.
RESULT_CODES: dict[str, Code] = {
    "0": Code("ok", "发送成功!（短信提交成功）", "Sent: the request was accepted"),
    "1": Code("auth", "用户名或密码错误!（用户名或用户密码错误）", "Wrong user ID or password"),
    "2": Code(
        "balance",
        "余额不足!（账户余额不足, 请联系业务员充值）",
        "Insufficient balance: ask your sales representative to top up",
    ),
    "3": Code(
        "invalid_request",
        "超过发送最大量 100 条 / 1000 条（超过接口处理上限）",
        "Too many numbers in one request (GET 100, POST and 点点通 1000)",
    ),
    "4": Code("auth", "此用户不允许发送!（此用户 ID 不可用）", "This user ID may not send"),
    "5": Code(
        "invalid_request",
        "手机号或发送信息不能为空!（手机号或短信内容为空）",
        "Phone numbers or message content empty",
    ),
    "7": Code(
        "content_rejected",
        "超过 XX 个字,请修改后发送!（短信长度超长）",
        "Content longer than the channel's limit of XX characters",
    ),
    "8": Code(
        "auth",
        "用户已冻结, 请联系客服人员!（用户 ID 被冻结）",
        "User ID frozen: contact customer service",
    ),
    "150": Code("nothing_to_fetch", "当前账户无可获取的用户上行信息", "No replies (MO) waiting"),
    "160": Code("nothing_to_fetch", "当前账户无可获取的状态报告", "No delivery reports waiting"),
}

# The document has no table of report values: its report push example shows ``DELIVRD`` only.
# The gateway passes on what the operator reports ("当系统接收到运营商返回的信息后"), so the
# other rows are the standard CMPP ``Stat`` values operators send.
REPORT_CODES: dict[str, Code] = {
    "DELIVRD": Code(Status.DELIVERED, "成功送达", "Delivered to the handset"),
    "EXPIRED": Code(Status.EXPIRED, "短信过期", "Expired before it could be delivered"),
    "UNDELIV": Code(Status.UNDELIVERED, "无法送达", "Undeliverable"),
    "REJECTD": Code(Status.REJECTED, "短信被拒绝", "Rejected by the operator"),
    "DELETED": Code(Status.UNDELIVERED, "短信被删除", "Deleted by the operator"),
    "UNKNOWN": Code(Status.UNDELIVERED, "未知状态", "Unknown state (not delivered)"),
}
# Operators add their own failure values (e.g. ``DTBLACK``, ``MK:0001``): anything but the rows
# above is a failed delivery.
OTHER_REPORT_CODE = Code(
    Status.UNDELIVERED, "运营商返回的其他状态值", "Other operator status (not delivered)"
)


def report_code(value: str) -> Code:
    return REPORT_CODES.get(value.strip(), OTHER_REPORT_CODE)


UNLISTED_KIND = "vendor_error"
"""A code outside the 返回值 tables of sections 2 to 8.  The document says nothing of other
values (not even that they mean failure), so such an answer says nothing either way: the
message may have been taken."""


def error_for(code: str, raw: str, *, kind: str = "") -> VendorError:
    """The typed error for a result code (``kind`` overrides the table where the caller knows
    better)."""
    known = RESULT_CODES.get(code)
    error_class = ERROR_KINDS.get(kind or (known.meaning if known else ""))
    if known is None or error_class is None:
        return ERROR_KINDS[UNLISTED_KIND](
            f"smsadmin answered a code its document does not list: {code}", code=code, raw=raw
        )
    return error_class(code=code, description_zh=known.zh, description_en=known.en, raw=raw)
