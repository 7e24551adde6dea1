"""Montnets International SMS API v5.13: send_single, send_batch and get_rpt.

Every request is a JSON POST (the one format all three operations accept: send_batch takes JSON
only, 2.4.2) signed with ``pwd = md5(USERID + "00000000" + password + MMDDHHMMSS)``; the content
travels URL-encoded UTF-8 inside the JSON.  Both request formats get JSON replies — in the
document's samples and from the real gateway alike, not always valid JSON (``loads_lenient``).

Numbers travel with their country code (3.2) and come back in any of its three forms; message
ids are 64-bit and may come back signed; a long message gets one report per part, each with a
part id derived from the message's id.  All three are brought back to what we store here.
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

from django.utils.translation import gettext_lazy

from messaging.statuses import Status

from ..base import (
    AmbiguousOutcome,
    Balance,
    Capabilities,
    Code,
    InvalidNumber,
    NeedsSingleSend,
    OutgoingMessage,
    PollResult,
    PushInstruction,
    StatusEvent,
    SubmitResult,
    UnexpectedReply,
    VendorClient,
    vendor_time,
)
from ..http import HttpReply
from .codes import REPORT_CODES, error_for, result_code

log = logging.getLogger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")

# 2.1.1; the header sample in section 5 says "/sms/v2/std/single_send", which no section defines.
SEND_SINGLE_PATH = "/sms/v2/std/send_single"
SEND_BATCH_PATH = "/sms/v2/std/send_batch"
GET_RPT_PATH = "/sms/v2/std/get_rpt"
FIXED_STRING = "00000000"
MAX_NUMBERS_PER_BATCH = 1000
MAX_REPORTS_PER_POLL = 500
MAX_CONTENT_CHARS = 1000  # 2.1.3 / 2.4.3
BATCH_CUSTID_PREFIX = "batch-"
"""The custid we give a send_batch request (see ``MontnetsClient.send_same``)."""


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


# --------------------------------------------------------------------------- message ids

_INTEGER = re.compile(r"-?[0-9]+")
UINT64 = 2**64
PART_ID_STEP = 2**34
"""Montnets' SDK numbers the parts of a long message ``msgid + (pknum - 1) * 2**34``."""


def msgid_number(value: object) -> int:
    """A msgid as its unsigned 64-bit value, or 0 for none.

    2.1.6 and 2.4.5 give msgids as unsigned decimals (9223372036854775808, above the signed
    range), while 2.2.6 / 2.3.3 say report msgids "allow negative numbers": gateways written in
    Java render the same 64 bits as a signed long (-9123372036833934737 for
    9323372036875616879).  Both renderings are the same id, so both become the unsigned one.
    0 means "no message" (2.1.6); anything else that is not a 64-bit integer gives 0 too."""
    if isinstance(value, bool) or value is None:
        return 0
    text = str(value).strip()  # floats ("9.2e18") fail the pattern: their digits are lost
    if not _INTEGER.fullmatch(text):
        return 0
    number = int(text)
    if -(2**63) <= number < 0:
        number += UINT64
    return number if 0 < number < UINT64 else 0


def vendor_id(value: object) -> str:
    """msgid as text, always the unsigned decimal (see ``msgid_number``); "" for none."""
    number = msgid_number(value)
    return str(number) if number else ""


def message_id_of_part(part_id: int, part_index: int) -> int:
    """The id the send answer gave a long message, from the id of its part ``part_index``
    (``PART_ID_STEP``; part 1 carries the message's own id)."""
    return (part_id - (part_index - 1) * PART_ID_STEP) % UINT64


def part_id(message_id: int, part_index: int) -> int:
    """The id Montnets gives part ``part_index`` of the message ``message_id``."""
    return (message_id + (part_index - 1) * PART_ID_STEP) % UINT64


# --------------------------------------------------------------------------- numbers

_MAINLAND = re.compile(r"1[0-9]{10}")
_DIGITS = re.compile(r"[0-9]+")


def gateway_number(phone: str) -> str:
    """Our stored number in a form of 3.2 ("the country code must be included", 2.4.3).

    Mainland mobiles are stored as 11 digits and go as ``86`` + 11 digits (form 1); other
    numbers are stored in E.164 and go with ``00`` for the ``+`` (form 2), which marks the
    country code unmistakably: +1 580 500 5050 sent as 15805005050 would read as a mainland
    mobile without its 86.  Anything else (already in a 3.2 form) goes as it is."""
    text = str(phone or "").strip()
    if _MAINLAND.fullmatch(text):
        return "86" + text
    if text.startswith("+"):
        return "00" + text[1:]
    return text


def stored_number(mobile: object, countrycode: object = None) -> str:
    """A number as the gateway gives it (86…, 0086…, +86…, or national with ``countrycode``
    86 as in the report samples' "138xxxxxxxx") in our stored form: 11 digits for a mainland
    mobile, ``+`` and the country code otherwise.  Text that is not a number (the samples'
    masked "138xxxxxxxx") is kept as it came."""
    text = str(mobile or "").strip()
    prefixed = text.startswith(("+", "00"))
    digits = text[1:] if text.startswith("+") else text[2:] if text.startswith("00") else text
    if not _DIGITS.fullmatch(digits):
        return text
    if digits.startswith("86") and _MAINLAND.fullmatch(digits[2:]):
        return digits[2:]
    code = str(countrycode).strip() if countrycode is not None else ""
    code = code if _DIGITS.fullmatch(code) and code != "0" else ""  # -1: "invalid number"
    if _MAINLAND.fullmatch(digits) and not prefixed and code in ("", "86"):
        return digits
    if code and not prefixed and not digits.startswith(code):
        return f"+{code}{digits}"  # a national number beside its countrycode
    return "+" + digits


# --------------------------------------------------------------------------- replies

# Neither the document's JSON samples nor the real gateway's answers are always valid JSON:
#   - "desc" is a bare URL-encoded token: `"desc":%e6%88%90%e5%8a%9f,` (2.1.7, 2.2.7, 2.4.6);
#   - send_batch's "messages" lack the comma between "mobile" and "msgid" (2.4.6), and the
#     messages example in the 2.4.5 table is indented with no-break spaces;
#   - the gateway ends objects with a trailing comma: `"balance":99885514,\n}`.
# ``loads_lenient`` repairs exactly these, outside strings, and only when strict parsing fails;
# anything else still raises ValueError (the caller's UnexpectedReply).
_TOKEN = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*")|(?P<punct>[{}\[\]:,])|(?P<space>\s+)|(?P<bare>[^\s{}\[\]:,"]+)',
    re.S,
)
_JSON_SCALAR = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_VALUE_END = ("string", "bare", "}", "]")
BARE_KEYS = frozenset({'"desc"'})


def loads_lenient(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(_repair(text))


def _repair(text: str) -> str:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # an unterminated string
            raise ValueError(f"unreadable JSON at {position}")
        kind = match.lastgroup
        value = match.group()
        tokens.append((value if kind == "punct" else kind, value))
        position = match.end()
    significant = [i for i, (kind, _) in enumerate(tokens) if kind != "space"]
    out: list[str] = []
    stack: list[str] = []
    previous: list[tuple[str, str]] = []  # the significant tokens kept so far
    for n, i in enumerate(significant):
        kind, value = tokens[i]
        gap = "".join(v for k, v in tokens[(significant[n - 1] + 1 if n else 0) : i])
        following = tokens[significant[n + 1]][0] if n + 1 < len(significant) else ""
        if kind == "," and following in ("}", "]"):
            continue  # a trailing comma
        if (
            kind == "string"
            and stack[-1:] == ["{"]
            and previous
            and previous[-1][0] in _VALUE_END
            and "\n" in gap
        ):
            out.append(",")  # a missing comma between two members on separate lines
        if (
            kind == "bare"
            and not _JSON_SCALAR.fullmatch(value)
            and len(previous) >= 2
            and previous[-1][0] == ":"
            and previous[-2][1] in BARE_KEYS
        ):
            value = json.dumps(value)  # an unquoted desc
        if kind in ("{", "["):
            stack.append(kind)
        elif kind in ("}", "]") and stack:
            stack.pop()
        out.append((" " if "\n" not in gap else "\n") if gap else "")
        out.append(value)
        previous.append((kind, value))
    return "".join(out)


def parse_reply(reply: HttpReply) -> dict:
    """The JSON object of a reply whose ``result`` is 0; a non-zero result raises its typed
    error and anything unlike the document raises ``UnexpectedReply``."""
    try:
        data = loads_lenient(reply.body.decode("utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        raise UnexpectedReply(
            f"Montnets reply is not JSON (HTTP {reply.status})", raw=reply.text
        ) from exc
    result = data.get("result") if isinstance(data, dict) else None
    if isinstance(result, bool) or not _INTEGER.fullmatch(str(result).strip()):
        raise UnexpectedReply("Montnets reply has no numeric result", raw=reply.text)
    code = result_code(int(str(result).strip()))
    if code != "0":
        raise error_for(code, raw=reply.text, message=decode_text(data.get("desc")))
    return data


def report_items(value: object) -> list:
    """``rpts``: the tables type it "string" and the failure sample sends "", while the success
    samples carry an array.  Accept all three (a string holding JSON included)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = loads_lenient(value)
    if not isinstance(value, list):
        raise ValueError(f"rpts is not a list: {value!r}")
    return value


def parse_local_time(value: object) -> datetime | None:
    """stime / rtime are "YYYY-MM-DD HH:MM:SS" in Beijing time.  None for an unreadable time
    or one outside ``vendor_time``'s window (the report's raw text keeps it)."""
    try:
        when = datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return vendor_time(when.replace(tzinfo=CHINA))


def _positive_int(value: object, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _report_status(flag: object, code: Code | None) -> str:
    """``status`` is the documented success flag (0 success, non-0 failure) and ``errcode``
    the carrier's word.  Either one saying failure makes the report a failure, and a known
    errcode says which: a failure flag with DELIVRD is undelivered, EXPIRED is expired
    whatever the flag says."""
    if code is not None and code.meaning != Status.DELIVERED:
        return code.meaning
    try:
        succeeded = int(flag) == 0
    except (TypeError, ValueError):
        if code is None:
            raise ValueError(f"report has neither a status nor a known errcode: {flag!r}") from None
        return code.meaning
    return Status.DELIVERED if succeeded else Status.UNDELIVERED


def parse_report(item: object) -> StatusEvent:
    """One ``rpts`` entry; get_rpt and the RPT_REQ push share the format.  Raises ValueError
    for an entry that cannot be a report."""
    if not isinstance(item, Mapping):
        raise ValueError(f"report is not an object: {item!r}")
    reported_id = msgid_number(item.get("msgid"))
    if not reported_id:
        raise ValueError(f"report without a usable msgid: {item!r}")
    # pknum / pktotal: the tables call pknum "the number of pieces billed" and pktotal
    # "reserved" (the push table: "total number of pieces"), but the get_rpt sample numbers the
    # parts 1 and 2 of pktotal 2: they are the part's index and the message's part count.
    part_index = _positive_int(item.get("pknum"), 1)
    # Each part has its own id (PART_ID_STEP); the message is known by the id of its send
    # answer, which part 1 carries.  The samples' two parts do not follow the rule (nor share a
    # custid): they read as two messages' reports.
    message_id = message_id_of_part(reported_id, part_index)
    if not message_id:
        raise ValueError(f"report with an impossible part id: {item!r}")
    errcode = str(item.get("errcode") or "").strip()
    code = REPORT_CODES.get(errcode)
    errdesc = decode_text(item.get("errdesc"))
    custid = str(item.get("custid") or "")
    batch = custid.startswith(BATCH_CUSTID_PREFIX)
    return StatusEvent(
        vendor_message_id=str(message_id),
        status=_report_status(item.get("status"), code),
        vendor_code=errcode,
        description_zh=code.zh if code else errdesc,
        description_en=code.en if code else errdesc,
        phone=stored_number(item.get("mobile"), item.get("countrycode")),
        custom_id="" if batch else custid,
        batch_id=custid if batch else "",
        done_at=parse_local_time(item.get("rtime")),
        part_index=part_index,
        part_count=max(part_index, _positive_int(item.get("pktotal"), 1)),
        raw=json.dumps(item, ensure_ascii=False),
    )


def parse_reports(items: list) -> list[StatusEvent]:
    events = []
    for item in items:
        try:
            events.append(parse_report(item))
        except ValueError:
            log.warning("Montnets get_rpt: skipped an unreadable report %r", item)
    return events


# --------------------------------------------------------------------------- client


class MontnetsClient(VendorClient):
    key = "montnets"
    label = "Montnets (梦网)"
    capabilities = Capabilities(
        # 5. Precautions, item 3: "If a status report is pushed using the push status report
        # API, the status report cannot be obtained by using the get_rpt API again."
        pushed_reports_resent=False,
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
        # The document offers no balance query; ``probe`` proves the credentials instead.
        balance_query=False,
    )

    push_instructions = (
        PushInstruction(
            "report",
            gettext_lazy("POST RPT_REQ (JSON or form), answered RPT_RESP"),
            gettext_lazy(
                "Give this URL to Montnets as the account's status-report push address "
                "(section 2.3). It does not push a report again: keep this URL reachable or "
                "turn polling on. Replies are not pushed."
            ),
        ),
    )

    def send_single(self, message: OutgoingMessage) -> SubmitResult:
        fields = self._send_fields(message.phone, message.content)
        if message.custom_id:
            # custid is echoed in the answer and in the message's reports (2.1.3).
            fields["custid"] = message.custom_id
        reply, data = self._call(SEND_SINGLE_PATH, fields)
        message_id = vendor_id(data.get("msgid"))
        if not message_id:
            # result 0 says it was taken, yet no id names it: maybe taken.
            return SubmitResult(
                custom_id=message.custom_id,
                phone=message.phone,
                accepted=False,
                error_kind=AmbiguousOutcome.kind,
                error_description=NO_ID_SINGLE,
                raw=reply.text,
            )
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
        fields = self._send_fields(",".join(m.phone for m in messages), content)
        # send_batch takes one custid for the whole request and every report of the batch
        # carries it; without one the gateway makes up a number (2.4.3 / 2.1.6) that could look
        # like one of our message ids.  Ours is marked as a batch's, never a message's.
        fields["custid"] = batch_custid(messages[0].custom_id)
        try:
            reply, data = self._call(SEND_BATCH_PATH, fields)
        except InvalidNumber as exc:
            # 3.2: "If there is an illegal mobile phone number, it will be returned as a failure
            # response" — one number fails the whole batch and nothing is sent.  Each number
            # goes again on its own, so only the bad one fails.
            return [_needs_single(m, exc) for m in messages]
        answers = data.get("messages")
        if not isinstance(answers, list):
            raise UnexpectedReply("send_batch succeeded without a messages list", raw=reply.text)
        return _match_batch(messages, answers, fields["custid"])

    def poll_reports(self) -> PollResult:
        reply, data = self._call(GET_RPT_PATH, {"retsize": MAX_REPORTS_PER_POLL})
        try:
            items = report_items(data.get("rpts"))
        except ValueError as exc:
            raise UnexpectedReply("get_rpt rpts is not a list", raw=reply.text) from exc
        # 5.2: fetch again at once while reports come back; only an empty answer means 5 s pause.
        return PollResult(items=parse_reports(items), more_waiting=bool(items), raw=reply.text)

    def probe(self) -> PollResult:
        """Prove the credentials without sending anything: the document has no balance query,
        so make the one harmless signed call it has, get_rpt.  A get_rpt hands reports out
        once (5.2, 5.3), so whatever it returns is the caller's to apply like any poll; it
        counts as a poll for the 5 s interval."""
        return self.poll_reports()

    def balance(self) -> Balance:
        raise NotImplementedError("the Montnets international API has no balance query")

    def _send_fields(self, mobile: str, content: str) -> dict[str, str]:
        numbers = ",".join(gateway_number(number) for number in mobile.split(","))
        fields = {"mobile": numbers, "content": encode_content(content)}
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


NO_ID_SINGLE = "send_single answered result 0 without a msgid"
NO_ANSWER = "send_batch answered result 0 without a msgid for this number"
_CUSTID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def batch_custid(first_custom_id: str) -> str:
    """custid allows 64 letters, digits, "_" and "-" (2.4.3)."""
    return (BATCH_CUSTID_PREFIX + _CUSTID_CHARACTERS.sub("", first_custom_id))[:64]


def _needs_single(message: OutgoingMessage, exc: InvalidNumber) -> SubmitResult:
    return SubmitResult(
        custom_id=message.custom_id,
        phone=message.phone,
        accepted=False,
        error_code=exc.code,
        error_description=str(exc),
        error_kind=NeedsSingleSend.kind,
        raw=exc.raw,
    )


def _match_batch(
    messages: Sequence[OutgoingMessage], answers: list, batch_id: str
) -> list[SubmitResult]:
    """send_batch answers ``{mobile, msgid}`` per number and no caller id: match by number (in
    whichever 3.2 form it comes back), and among repeats of one number by position."""
    by_number: dict[str, deque[Mapping]] = defaultdict(deque)
    for answer in answers:
        if isinstance(answer, Mapping):
            by_number[stored_number(answer.get("mobile"))].append(answer)
    results = []
    for message in messages:
        queue = by_number.get(stored_number(message.phone))
        answer = queue.popleft() if queue else None
        message_id = vendor_id(answer.get("msgid")) if answer else ""
        raw = json.dumps(answer, ensure_ascii=False) if answer else ""
        if message_id:
            result = SubmitResult(
                message.custom_id, message.phone, True, message_id, batch_id=batch_id, raw=raw
            )
        else:
            # result 0 yet no usable answer for this number: it may or may not be queued.
            result = SubmitResult(
                message.custom_id,
                message.phone,
                False,
                batch_id=batch_id,
                raw=raw,
                error_kind=AmbiguousOutcome.kind,
                error_description=NO_ANSWER,
            )
        results.append(result)
    return results
