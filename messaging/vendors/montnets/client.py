"""Montnets International SMS API v5.13: send_single, send_batch and get_rpt.

Every request is a JSON POST (the one format all three operations accept: send_batch takes JSON
only, 2.4.2) signed with ``pwd = md5(USERID + "00000000" + password + MMDDHHMMSS)``; the content
travels URL-encoded UTF-8 inside the JSON.  Both request formats get JSON replies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote, unquote_to_bytes
from zoneinfo import ZoneInfo

from messaging.statuses import Status

from ..base import (
    AmbiguousOutcome,
    Balance,
    Capabilities,
    Code,
    OutgoingMessage,
    PollResult,
    StatusEvent,
    SubmitResult,
    UnexpectedReply,
    VendorClient,
)
from ..http import HttpReply
from .codes import REPORT_CODES, error_for

log = logging.getLogger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")

# 2.1.1; the header sample in section 5 says "/sms/v2/std/single_send", which no section defines.
SEND_SINGLE_PATH = "/sms/v2/std/send_single"
SEND_BATCH_PATH = "/sms/v2/std/send_batch"
GET_RPT_PATH = "/sms/v2/std/get_rpt"
FIXED_STRING = "00000000"
MAX_NUMBERS_PER_BATCH = 1000
MAX_REPORTS_PER_POLL = 500


# --------------------------------------------------------------------------- signing & encoding


def signing_timestamp() -> str:
    """MMDDHHMMSS on the gateway's (Beijing) clock: 3.1 wants the current time, not a constant."""
    return datetime.now(CHINA).strftime("%m%d%H%M%S")


def password_digest(userid: str, password: str, timestamp: str) -> str:
    """3.1: md5 of the upper-cased userid, "00000000", the plain password and the timestamp."""
    text = userid.upper() + FIXED_STRING + password + timestamp
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def encode_content(text: str) -> str:
    """Content is URL-encoded UTF-8 even inside a JSON body (2.1.3)."""
    return quote(text, safe="")


_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def decode_text(value: object) -> str:
    """``desc`` and ``errdesc`` come URL-encoded or plain depending on the request format and on
    whether authentication passed (2.2.6, 2.3.3); decode only what is actually escaped."""
    text = "" if value is None else str(value)
    if not _PERCENT_ESCAPE.search(text):
        return text
    data = unquote_to_bytes(text.replace("+", " "))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # The get_rpt table says its desc is urlencode(GB2312), yet its example is UTF-8 bytes.
        return data.decode("gb18030", errors="replace")


_INTEGER = re.compile(r"-?\d+")


def vendor_id(value: object) -> str:
    """msgid as text: 64-bit, above the signed range in the samples and negative in reports
    (2.2.6).  0 means "no message" (2.1.6); anything else unreadable gives ""."""
    text = str(value).strip()  # None, floats and booleans fail the pattern below
    return text if _INTEGER.fullmatch(text) and int(text) != 0 else ""


def comparable_number(phone: object) -> str:
    """3.2 accepts 85292041234, 0085292041234 and +85292041234 for the same number."""
    digits = str(phone or "").strip().removeprefix("+")
    return digits.removeprefix("00")


# --------------------------------------------------------------------------- replies

# The document's JSON reply samples are not valid JSON: "desc" is a bare URL-encoded token
# (`"desc":%e6%88%90%e5%8a%9f,`), send_batch's "messages" lack the comma between "mobile" and
# "msgid", and the messages example in the 2.4.5 table is indented with no-break spaces.
# ``loads_lenient`` repairs exactly these defects, and only when strict parsing fails.
_BARE_DESC = re.compile(r'("desc"\s*:\s*)([^"\s][^,}\n]*?)(\s*[,}\n])')
_MISSING_COMMA = re.compile(r'(["\d]|true|false|null)(\s*\n\s*)(?=")')


def loads_lenient(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        repaired = _BARE_DESC.sub(r'\1"\2"\3', text.replace("\xa0", " "))
        repaired = _MISSING_COMMA.sub(r"\1,\2", repaired)
        return json.loads(repaired)


def parse_reply(reply: HttpReply) -> dict:
    """The JSON object of a reply whose ``result`` is 0; a non-zero result raises its typed
    error and anything unlike the document raises ``UnexpectedReply``."""
    try:
        data = loads_lenient(reply.body.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        raise UnexpectedReply(
            f"Montnets reply is not JSON (HTTP {reply.status})", raw=reply.text
        ) from exc
    try:
        result = int(data["result"])
    except (TypeError, KeyError, ValueError) as exc:
        raise UnexpectedReply("Montnets reply has no numeric result", raw=reply.text) from exc
    if result != 0:
        raise error_for(str(result), raw=reply.text, message=decode_text(data.get("desc")))
    return data


def report_items(value: object) -> list:
    """``rpts``: the tables type it "string" and the failure sample sends "", while the success
    samples carry an array.  Accept all three (a string holding JSON included)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list):
        raise ValueError(f"rpts is not a list: {value!r}")
    return value


def parse_local_time(value: object) -> datetime | None:
    """stime / rtime are "YYYY-MM-DD HH:MM:SS" in Beijing time."""
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return None


def _positive_int(value: object, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _report_status(flag: object, code: Code | None) -> str:
    """``status`` is the documented success flag (0 success, non-0 failure); the errcode only
    refines a failure, so a failure carrying DELIVRD is still a failure."""
    try:
        succeeded = int(flag) == 0
    except (TypeError, ValueError):
        if code is None:
            raise ValueError(f"report has neither a status nor a known errcode: {flag!r}") from None
        return code.meaning
    if succeeded:
        return Status.DELIVERED
    if code is None or code.meaning == Status.DELIVERED:
        return Status.UNDELIVERED
    return code.meaning


def parse_report(item: object) -> StatusEvent:
    """One ``rpts`` entry; get_rpt and the RPT_REQ push share the format.  Raises ValueError
    for an entry that cannot be a report."""
    if not isinstance(item, Mapping):
        raise ValueError(f"report is not an object: {item!r}")
    message_id = vendor_id(item.get("msgid"))
    if not message_id:
        raise ValueError(f"report without a usable msgid: {item!r}")
    errcode = str(item.get("errcode") or "").strip()
    code = REPORT_CODES.get(errcode)
    errdesc = decode_text(item.get("errdesc"))
    # pknum / pktotal: the tables call pknum "the number of pieces billed" and pktotal
    # "reserved" (the push table: "total number of pieces"), but the get_rpt sample numbers the
    # parts 1 and 2 of pktotal 2, so we read them as part index and part count.
    part_index = _positive_int(item.get("pknum"), 1)
    return StatusEvent(
        vendor_message_id=message_id,
        status=_report_status(item.get("status"), code),
        vendor_code=errcode,
        description_zh=code.zh if code else errdesc,
        description_en=code.en if code else errdesc,
        phone=str(item.get("mobile") or ""),
        custom_id=str(item.get("custid") or ""),
        done_at=parse_local_time(item.get("rtime")),
        part_index=part_index,
        part_count=max(part_index, _positive_int(item.get("pktotal"), 1)),
        raw=json.dumps(item, ensure_ascii=False),
    )


# --------------------------------------------------------------------------- client


class MontnetsClient(VendorClient):
    key = "montnets"
    label = "Montnets (梦网)"
    capabilities = Capabilities(
        max_numbers_per_request=MAX_NUMBERS_PER_BATCH,  # send_batch, 2.4.3 (error -100014)
        max_personalised_per_request=0,  # no per-recipient content API in this document
        # 5.5: an account gets 100 concurrent connections (-100056 beyond); leave most of them
        # to the report polling and to other processes.
        max_concurrent_requests=16,
        poll_reports=True,
        poll_mo=False,  # the document has no MO (reply) API
        min_poll_interval_s=5.0,  # 5.2: after an empty get_rpt, wait 5 s
        max_reports_per_poll=MAX_REPORTS_PER_POLL,  # get_rpt retsize, 2.2.3
        pushes=frozenset({"report"}),  # RPT_REQ, 2.3 (at most 500 reports per push)
        # 3.1 and every pwd row define pwd as the 32-character md5; only a garbled sentence in
        # the get_rpt timestamp row hints at a plain-text password, so we never send one.
        auth_modes=("md5",),
        international=True,
        # The document offers no balance query.
        balance_query=False,
    )

    def send_single(self, message: OutgoingMessage) -> SubmitResult:
        fields = self._send_fields(message.phone, message.content)
        if message.custom_id:
            # custid is echoed in the answer and in the message's reports (2.1.3).
            fields["custid"] = message.custom_id
        reply, data = self._call(SEND_SINGLE_PATH, fields)
        message_id = vendor_id(data.get("msgid"))
        if not message_id:
            raise UnexpectedReply("send_single succeeded without a msgid", raw=reply.text)
        return SubmitResult(
            custom_id=message.custom_id,
            phone=message.phone,
            accepted=True,
            vendor_message_id=message_id,
            raw=reply.text,
        )

    def send_same(self, messages: Sequence[OutgoingMessage], content: str) -> list[SubmitResult]:
        if not messages:
            return []
        if len(messages) == 1:
            # send_single is the API for one number (5.4) and the only one that keeps our custid.
            return [self.send_single(replace(messages[0], content=content))]
        # No custid here: send_batch takes one for the whole request, every report would carry
        # the same value, and its answer does not echo it.  Reports match on msgid instead.
        fields = self._send_fields(",".join(m.phone for m in messages), content)
        reply, data = self._call(SEND_BATCH_PATH, fields)
        answers = data.get("messages")
        if not isinstance(answers, list):
            raise UnexpectedReply("send_batch succeeded without a messages list", raw=reply.text)
        return _match_batch(messages, answers)

    def poll_reports(self) -> PollResult:
        reply, data = self._call(GET_RPT_PATH, {"retsize": MAX_REPORTS_PER_POLL})
        try:
            items = report_items(data.get("rpts"))
        except ValueError as exc:
            raise UnexpectedReply("get_rpt rpts is not a list", raw=reply.text) from exc
        events = []
        for item in items:
            try:
                events.append(parse_report(item))
            except ValueError:
                log.warning("Montnets get_rpt: skipped an unreadable report %r", item)
        # 5.2: fetch again at once while reports come back; only an empty answer means 5 s pause.
        return PollResult(items=events, more_waiting=bool(items), raw=reply.text)

    def balance(self) -> Balance:
        raise NotImplementedError("the Montnets international API has no balance query")

    def _send_fields(self, mobile: str, content: str) -> dict[str, str]:
        fields = {"mobile": mobile, "content": encode_content(content)}
        if self.config.extension:
            fields["exno"] = self.config.extension  # the OA / sender id
        return fields

    def _call(self, path: str, fields: Mapping[str, object]) -> tuple[HttpReply, dict]:
        timestamp = signing_timestamp()
        userid = self.config.account_id.upper()  # 2.1.3: at most 6 characters, upper case
        body = {
            "userid": userid,
            "pwd": password_digest(userid, self.config.secret, timestamp),
            "timestamp": timestamp,
            **fields,
        }
        reply = self.http.post(self.config.base_url.rstrip("/") + path, json=body)
        return reply, parse_reply(reply)


NO_ANSWER = "send_batch answered result 0 without a msgid for this number"


def _match_batch(messages: Sequence[OutgoingMessage], answers: list) -> list[SubmitResult]:
    """send_batch answers ``{mobile, msgid}`` per number and no caller id: match by number, and
    among repeats of one number by position."""
    by_number: dict[str, deque[Mapping]] = defaultdict(deque)
    for answer in answers:
        if isinstance(answer, Mapping):
            by_number[comparable_number(answer.get("mobile"))].append(answer)
    results = []
    for message in messages:
        queue = by_number.get(comparable_number(message.phone))
        answer = queue.popleft() if queue else None
        message_id = vendor_id(answer.get("msgid")) if answer else ""
        raw = json.dumps(answer, ensure_ascii=False) if answer else ""
        if message_id:
            result = SubmitResult(message.custom_id, message.phone, True, message_id, raw=raw)
        else:
            # result 0 yet no usable answer for this number: it may or may not be queued.
            result = SubmitResult(
                message.custom_id,
                message.phone,
                False,
                raw=raw,
                error_kind=AmbiguousOutcome.kind,
                error_description=NO_ANSWER,
            )
        results.append(result)
    return results
