"""actiongw's list items and its combined push (document section 6).

The gateway POSTs one JSON array mixing delivery reports (``flag`` 1) and replies (``flag`` 0)
and expects the body ``OK``.  The items have the same shape as the ``list`` of the report and
MO polls (sections 4 and 5), so ``parse_items`` serves the client's polls too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from ..base import (
    AccountConfig,
    InboundReply,
    PushOutcome,
    PushRejected,
    PushRequest,
    StatusEvent,
    vendor_time,
)
from .codes import report_code

CHINA = ZoneInfo("Asia/Shanghai")

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The gateway's ``time``, Asia/Shanghai local time."""
PUSH_REPLY = "OK"
"""6.3 客户端响应: "客户端接收成功，响应文本OK即可"."""


def _text(item: dict, key: str, *, required: bool = True) -> str:
    # The samples give every field as a string except ``flag`` and ``result``; accept a number
    # wherever the gateway chooses one (ids stay text: they may not fit in 64 bits).
    value = item.get(key)
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value) != "":
        return str(value)
    if required or value not in (None, ""):
        raise ValueError(f"{key!r} missing or not text: {value!r}")
    return ""


def _time(item: dict) -> dt.datetime | None:
    # The time is informative only: an item with an odd, missing or impossible time (outside
    # ``vendor_time``'s window) is still a valid report or reply, so it keeps ``None`` rather
    # than being lost; its raw text keeps the time as sent.
    try:
        when = dt.datetime.strptime(str(item.get("time", "")), TIME_FORMAT)
    except ValueError:
        return None
    return vendor_time(when.replace(tzinfo=CHINA))


def _report(item: dict, raw: str) -> StatusEvent:
    stat, code = report_code(_text(item, "stat"))
    return StatusEvent(
        # The id matches the send's ``mid``; a report that leaves it empty (or out) still
        # names the phone, and is kept for matching by phone rather than lost.
        vendor_message_id=_text(item, "mid", required=False),
        status=code.meaning,
        vendor_code=stat,
        description_zh=code.zh,
        description_en=code.en,
        phone=_text(item, "mobile"),
        done_at=_time(item),
        raw=raw,
    )


def _reply(item: dict, raw: str) -> InboundReply:
    content = item.get("content")
    if not isinstance(content, str):
        raise ValueError(f"'content' missing or not text: {content!r}")
    return InboundReply(
        phone=_text(item, "mobile"),
        content=content,
        received_at=_time(item),
        extension=_text(item, "accessCode", required=False),
        vendor_message_id=_text(item, "mid", required=False),  # "上行消息ID（可忽略）"
        raw=raw,
    )


def parse_items(items: Iterable) -> tuple[list[StatusEvent], list[InboundReply], list[str]]:
    """Reports, replies and one error text per item that could not be read.  ``spid`` (归属账号)
    is ignored as the document says."""
    reports: list[StatusEvent] = []
    replies: list[InboundReply] = []
    errors: list[str] = []
    for index, item in enumerate(items):
        raw = json.dumps(item, ensure_ascii=False)
        try:
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            # ``flag`` is a number in every sample; a string "1" / "0" is read the same way.
            flag = str(item.get("flag", "")).strip()
            if flag == "1":
                reports.append(_report(item, raw))
            elif flag == "0":
                replies.append(_reply(item, raw))
            else:
                raise ValueError(f"unknown flag {item.get('flag')!r}")
        except ValueError as exc:
            errors.append(f"item {index}: {exc}: {raw}")
    return reports, replies, errors


def parse_push(request: PushRequest, config: AccountConfig) -> PushOutcome:
    """The gateway signs nothing in its pushes (section 6): the only check is the per-account
    token of the receiver URL, which the portal's view applies before calling this."""
    try:
        items = json.loads(request.body.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise PushRejected(
            f"actiongw push is not JSON: {exc}", status=400, raw=request.body
        ) from exc
    if not isinstance(items, list):
        raise PushRejected("actiongw push is not a JSON array", status=400, raw=request.body)
    reports, replies, errors = parse_items(items)
    # The answer is OK even when some items were unreadable: the good ones are taken, and the
    # gateway would only send the bad ones again unchanged.
    return PushOutcome(
        reply_body=PUSH_REPLY,
        reply_content_type="text/plain; charset=utf-8",
        reports=reports,
        replies=replies,
        errors=errors,
    )
