"""Adapter for the ashx5g gateway: "5G SMS Interface" v8.33.

Endpoints (all below ``config.base_url``): ``mt.ashx`` single send, ``mts.ashx`` one content to
many numbers, ``mts_var.ashx`` per-recipient content (also MMS / video / 5G template sends by
``mms_id``), ``rpt.ashx`` / ``mo.ashx`` report and reply polling, ``bi.ashx`` / ``balance.ashx``
account queries and ``mms_create.ashx`` template upload.  Everything is UTF-8.  Replies come as
``rf=json`` (the default) or ``rf=kv``; both are parsed, and the document's samples of both are
test vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy

from ..base import (
    AccountOption,
    Balance,
    Capabilities,
    InboundReply,
    InvalidRequest,
    OutgoingMessage,
    PollResult,
    PushInstruction,
    StatusEvent,
    SubmitResult,
    TemplateFrame,
    TemplateUpload,
    UnexpectedReply,
    VendorClient,
    vendor_time,
)
from ..http import HttpReply
from . import codes

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
TS_FORMAT = "%Y%m%d%H%M%S"
MAX_TITLE_CHARS = 15
"""Template title: "长度小于等于 15" (5.1), counted by ``title_length``."""
VARIABLE_SEPARATOR = "|"
"""Template variable values are sent joined by "|" (5.1 notes); the document has no escape."""
TEMPLATE_FILE_TYPES = frozenset(
    {
        "text/plain",
        "application/zip",
        "image/jpeg",
        "image/jpg",
        "image/gif",
        "image/bmp",
        "image/png",
        "video/mp4",
        "video/3gp",
        "audio/wmv",
        "audio/mp3",
        "audio/aac",
    }
)
"""The content types of template files (5.3)."""


def title_length(title: str) -> int:
    """A title's length as the gateway counts it.  "长度小于等于 15" gives no unit; the gateway
    is ASP.NET (the section 7 exchanges), whose string length counts UTF-16 code units: a
    Chinese character is 1, a character beyond the BMP (most emoji) 2."""
    return len(title.encode("utf-16-le")) // 2


# Why a recipient is refused before sending (per-recipient refusals, nothing sent for them).
SEPARATOR_IN_VALUE = (
    "A template variable value contains '|', the separator of the vendor's list of values, "
    "which no request can carry (模板变量值含有分隔符“|”，无法提交)"
)
NO_NUMBER = "No phone number (号码缺失)"
NOT_ONE_NUMBER = "Not a single phone number (号码格式错误)"
NO_CONTENT = "No content to send (内容缺失)"


def md5_password(account: str, password: str, ts: str) -> str:
    """``pswd`` in md5 mode: lower-case hex md5 of account + password + ts (overview item 14)."""
    return hashlib.md5((account + password + ts).encode("utf-8"), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------- reply parsing


def china_time(value: object) -> datetime | None:
    """The vendor's local time as an aware datetime.  Most fields are yyyyMMddHHmmss, but the
    reply items' ``ct`` and the template answers use "yyyy-MM-dd HH:mm:ss" (3.7, 5.1).  None
    for no time, an unreadable one or one outside ``vendor_time``'s window (the item's raw
    text keeps it)."""
    return vendor_time(_parse_china_time(as_text(value)))


def _parse_china_time(text: str) -> datetime | None:
    if len(text) == 14 and text.isdigit():
        # The common case, without strptime (which costs more than the rest of a report).
        try:
            return datetime(
                int(text[:4]),
                int(text[4:6]),
                int(text[6:8]),
                int(text[8:10]),
                int(text[10:12]),
                int(text[12:14]),
                tzinfo=CHINA,
            )
        except ValueError:
            return None
    for fmt in (TS_FORMAT, "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=CHINA)
        except ValueError:
            continue
    return None


# Quirk: the document's report samples (3.3 and 3.4) open their 2nd and 3rd items with
# `{uid":"2"` - the key's opening quote is missing, so the sample is not valid JSON.
_KEY_WITHOUT_OPENING_QUOTE = re.compile(r'([{,]\s*)([A-Za-z_]\w*)"(\s*:)')


def _restore_key_quotes(text: str) -> str:
    return _KEY_WITHOUT_OPENING_QUOTE.sub(r'\1"\2"\3', text)


def loads_lenient(text: str) -> object:
    """``json.loads``, retried once with the document's missing-quote slip repaired."""
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(_restore_key_quotes(text))


def split_json_objects(text: str) -> list[str]:
    """The outermost ``{...}`` spans of ``text`` (string-aware), to read them one by one.  An
    object left open (a stray quote upsets the string tracking) runs to the end of the text."""
    spans, depth, start, in_string, escaped = [], 0, 0, False, False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : index + 1])
    if depth:
        spans.append(text[start:].rstrip().removesuffix("]"))
    return spans


# Between two items of an array: where a span that does not parse is cut once more.
_ITEM_BOUNDARY = re.compile(r"(?<=\})\s*,\s*(?=\{)")


_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _verbatim_array_items(text: str) -> list[tuple[object, str]]:
    """(item, its text as sent) for each element of a well-formed JSON array.  Each element is
    decoded where it stands, so its raw text is the slice it was read from: exact, and far
    cheaper than re-encoding every item of a 500-report push.  ValueError if not well formed."""
    position = _WHITESPACE.match(text).end()
    if not text.startswith("[", position):
        raise ValueError("not a JSON array")
    position = _WHITESPACE.match(text, position + 1).end()
    items: list[tuple[object, str]] = []
    if text.startswith("]", position):
        position += 1
    else:
        while True:
            value, end = _DECODER.raw_decode(text, position)
            items.append((value, text[position:end]))
            position = _WHITESPACE.match(text, end).end()
            if text.startswith(",", position):
                position = _WHITESPACE.match(text, position + 1).end()
            elif text.startswith("]", position):
                position += 1
                break
            else:
                raise ValueError(f"expected , or ] at {position}")
    if _WHITESPACE.match(text, position).end() != len(text):
        raise ValueError(f"extra data after the array at {position}")
    return items


def json_array_items(text: str) -> tuple[list[tuple[object, str]], list[str]]:
    """(item, raw text) for each element of a JSON array, plus the items that could not be
    read.  When the array as a whole is unreadable, each object is read on its own so that one
    broken item cannot lose the others.  Raises ValueError when nothing at all is readable."""
    try:
        return _verbatim_array_items(text), []
    except ValueError:
        pass
    try:
        values = loads_lenient(text)
    except ValueError:
        spans = split_json_objects(_restore_key_quotes(text))
        if not spans:
            raise
        items, errors = [], []
        for span in spans:
            try:
                items.append((json.loads(span), span))
                continue
            except ValueError:
                pass
            # A broken item may have swallowed the ones after it: cut at item boundaries.
            for piece in _ITEM_BOUNDARY.split(span):
                try:
                    items.append((json.loads(piece), piece))
                except ValueError as exc:
                    errors.append(f"unreadable item ({exc}): {piece}")
        return items, errors
    if not isinstance(values, list):
        raise ValueError("not a JSON array")
    return [(value, json.dumps(value, ensure_ascii=False)) for value in values], []


def parse_kv(text: str) -> dict[str, object]:
    """An ``rf=kv`` reply: header fields (``ct``, ``result``, ...) and, for polls, one record per
    line, each starting with ``uid``.  Records are filed under "rpts" as in the JSON form."""
    header: dict[str, object] = {}
    records: list[dict[str, str]] = []
    current: dict = header
    # Records are separated by \r\n (3, item 2); the first one shares the header's line.
    for line in re.split(r"\r?\n", text):
        for key, value in _kv_pairs(line):
            if key == "uid":
                current = {}
                records.append(current)
            current[key] = value
    if "seqs" in header:
        # Quirk: kv send replies carry the per-number answers as a JSON array text (2.2, 2.3).
        header["seqs"] = loads_lenient(str(header["seqs"]))
    header["rpts"] = records
    return header


def _kv_pairs(line: str) -> Iterator[tuple[str, str]]:
    # Values are not URL-encoded (the samples show raw Chinese and "北京:北京"), so no unquoting.
    tokens = line.split("&")
    for index, token in enumerate(tokens):
        key, _, value = token.partition("=")
        if key == "msg":
            # A reply's content is the last field and may itself contain "&": keep the rest.
            yield key, "&".join([value, *tokens[index + 1 :]])
            return
        if key == "help" and value.startswith("uid="):
            # Quirk: the kv report sample (3.3) lost the \r\n between records, leaving
            # "...&help=uid=2&...": the empty help ends one record, uid starts the next.
            yield key, ""
            key, _, value = value.partition("=")
        if key:
            yield key.strip(), value


def as_text(value: object) -> str:
    if type(value) is str:  # nearly always: the fast way for a push of 500 reports
        return value.strip()
    return "" if value is None else str(value).strip()


def _normalized_phone(phone: object) -> str:
    if type(phone) is str and len(phone) == 11 and phone.isdigit():
        return phone  # a mainland mobile number as sent: the fast way for 25,000 of them
    digits = as_text(phone).lstrip("+")
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


# --------------------------------------------------------------------------- item conversion


def report_event(item: object, raw: str) -> StatusEvent:
    """One report (a poll's ``rpts`` item, a pushed item or a kv record)."""
    if not isinstance(item, Mapping):
        raise ValueError("report is not an object")
    seq, code = as_text(item.get("seq")), as_text(item.get("sc"))
    if not seq or not code:
        raise ValueError("report without seq or sc")
    known = codes.REPORT_CODES.get(code)
    return StatusEvent(
        vendor_message_id=seq,
        # DELIVRD is the only success flag, so an unlisted code is a failed delivery.
        status=codes.report_status(code),
        vendor_code=code,
        description_zh=as_text(item.get("sc_chn")) or (known.zh if known else ""),
        description_en=known.en if known else "",
        phone=as_text(item.get("pn")),
        custom_id=as_text(item.get("smsid")),
        batch_id=as_text(item.get("sid")),
        done_at=china_time(item.get("st")),
        # "pid 长短信分片编号" names a part, but "row 计费条数" is the billed count of the
        # whole message, not a number of part reports to wait for: one report per message.
        part_index=1,
        part_count=1,
        raw=raw,
    )


def inbound_reply(
    item: object, raw: str, received_fallback: datetime | None = None
) -> InboundReply:
    """One reply (MO).  The kv form's records have no ``ct`` of their own (3.7), so the
    reply's header ``ct`` - documented as the reply time (3.6) - is the fallback."""
    if not isinstance(item, Mapping):
        raise ValueError("reply is not an object")
    phone = as_text(item.get("pn"))
    if not phone or "msg" not in item:
        raise ValueError("reply without pn or msg")
    return InboundReply(
        phone=phone,
        content=str(item["msg"]),
        received_at=china_time(item.get("ct")) or received_fallback,
        extension=as_text(item.get("ext")),
        raw=raw,
    )


# --------------------------------------------------------------------------- client


class Ashx5gClient(VendorClient):
    key = "ashx5g"
    label = "5G SMS (ashx)"
    capabilities = Capabilities(
        # "群发建议使用 Post 接口 单批次 <500 万" (overview item 13).
        max_numbers_per_request=4_999_999,
        # "每次提交最大包含 50000 组变量" (overview item 3).
        max_personalised_per_request=50_000,
        # "支持多线程。建议使用异步单线程" (2, item 2): allowed, but one at a time is asked for.
        max_concurrent_requests=1,
        template_sends=True,
        template_upload=True,
        # At least 5 s between polls, 8 s recommended (3, item 4); we poll at the recommendation.
        min_poll_interval_s=8.0,
        # "手动获取状态报告与上行, 应采用单线程, 操作间隔 5 秒以上 ... 如果请求状态报告、上行和
        # 余额接口的频率小于 5 秒, 则返回错误码 result=920" (3, item 4): one clock for every
        # manual call of the account (rpt, mo, balance, bi), not one per kind.
        poll_interval_shared=True,
        max_reports_per_poll=10_000,
        pushes=frozenset({"report", "mo", "template_review"}),
        auth_modes=("plain", "md5"),
        sms_segment_chars=(70, 67),
        template_title_max_chars=MAX_TITLE_CHARS,
    )

    options = (
        AccountOption(
            name="rf",
            label=gettext_lazy("reply format"),
            help=gettext_lazy(
                "The format the gateway answers in (parameter rf, sections 2.1 to 3.7): json, "
                "the document's default, or kv (key=value lines). Both are read; xml is not."
            ),
            default="json",
            choices=(("json", "json"), ("kv", "kv")),
        ),
    )
    push_instructions = (
        PushInstruction(
            "report",
            gettext_lazy("GET (one report) or POST with a JSON array (several)"),
            gettext_lazy(
                "Ask the vendor's staff to bind this URL as the account's report push address "
                "(section 3, item 3; sample 3.4)."
            ),
        ),
        PushInstruction(
            "mo",
            gettext_lazy("GET (one reply) or POST with a JSON array (several)"),
            gettext_lazy(
                "The same URL as the reply push address, bound by the vendor's staff (sample 3.8)."
            ),
        ),
        PushInstruction(
            "template_review",
            gettext_lazy("POST with a JSON object"),
            gettext_lazy(
                "Nothing to ask: the portal gives this URL as push_url with every template "
                "upload (5.1, 5.2)."
            ),
        ),
    )

    def __init__(self, config, transport=None):
        super().__init__(config, transport)
        self.base_url = config.base_url.rstrip("/")
        # rf=json is the document's default; an administrator may choose kv (both are parsed).
        self.reply_format = self._option("rf")

    # sending ----------------------------------------------------------------
    def send_single(self, message: OutgoingMessage) -> SubmitResult:
        fields = {
            "pn": message.phone,
            "msg": message.content,
            **self._optional(smsid=message.custom_id, ext=self.config.extension),
        }
        payload, raw = self._call("/mt.ashx", fields)
        seq = as_text(payload.get("seq"))
        echoed = as_text(payload.get("smsid"))
        if not seq or (echoed and echoed != message.custom_id):
            raise UnexpectedReply("mt.ashx answer without our message's seq", raw=raw)
        return SubmitResult(message.custom_id, message.phone, True, vendor_message_id=seq, raw=raw)

    def send_same(self, messages: Sequence[OutgoingMessage], content: str) -> list[SubmitResult]:
        self._check_size(messages, self.capabilities.max_numbers_per_request)
        # ``pn`` is a comma-separated list (2.2): a "number" with a comma in it would become
        # two numbers of the list, and an empty one none.  Neither is a mobile number.
        refusals = {
            index: _refusal(message, "invalid_number", NOT_ONE_NUMBER)
            for index, message in enumerate(messages)
            if not message.phone.strip() or "," in message.phone
        }

        def send(carried: Sequence[OutgoingMessage]) -> list[SubmitResult]:
            fields = {
                "pn": ",".join(m.phone for m in carried),
                "msg": content,
                **self._optional(ext=self.config.extension),
            }
            payload, raw = self._call("/mts.ashx", fields)
            return _per_number_results(carried, payload, raw)

        return _send_the_rest(messages, refusals, send)

    def send_personalised(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        self._check_size(messages, self.capabilities.max_personalised_per_request)
        # ``vars`` is a JSON array, which carries any text; but one group without ``pn`` or
        # ``msg`` makes the gateway refuse the whole request (912 / 913), so such a recipient
        # is refused on its own before sending and the others go.
        refusals = {}
        for index, message in enumerate(messages):
            if not message.phone.strip():
                refusals[index] = _refusal(message, "invalid_number", NO_NUMBER)
            elif not message.content:
                refusals[index] = _refusal(message, "invalid_request", NO_CONTENT)
        return _send_the_rest(
            messages,
            refusals,
            lambda carried: self._send_vars(carried, [m.content for m in carried]),
        )

    def send_template(
        self, vendor_template_id: str, messages: Sequence[OutgoingMessage]
    ) -> list[SubmitResult]:
        self._check_size(messages, self.capabilities.max_personalised_per_request)
        # The variable values travel joined by "|" in ``msg`` (5.1 notes: "发送时用 | 分隔变量值")
        # and the document has no escape for it.  Every request shape - mt, mts and mts_var
        # alike - carries template values that way ("msg 发送内容 或彩视变参", 2.1 to 2.4), so a
        # value with a "|" in it would shift the values after it in any of them: no single
        # send can carry it either.  Such a recipient is refused on its own (nothing sent);
        # the others of the request go.
        refusals = {}
        for index, message in enumerate(messages):
            if not message.phone.strip():
                refusals[index] = _refusal(message, "invalid_number", NO_NUMBER)
            elif any(VARIABLE_SEPARATOR in value for value in message.variables):
                refusals[index] = _refusal(message, "invalid_request", SEPARATOR_IN_VALUE)

        def send(carried: Sequence[OutgoingMessage]) -> list[SubmitResult]:
            values = [VARIABLE_SEPARATOR.join(m.variables) for m in carried]
            return self._send_vars(carried, values, mms_id=vendor_template_id)

        return _send_the_rest(messages, refusals, send)

    def _send_vars(self, messages, contents: Sequence[str], mms_id: str = ""):
        """mts_var.ashx: per-recipient ``msg`` (content, or template variable values), with
        our id as ``smsid`` so that reports carry it back."""
        self._check_size(messages, self.capabilities.max_personalised_per_request)
        if not messages:
            return []
        # (Built inline, not through ``_optional``: this runs once per recipient of 25,000.)
        variables = [
            {"pn": m.phone, "msg": content, "smsid": m.custom_id}
            if m.custom_id
            else {"pn": m.phone, "msg": content}
            for m, content in zip(messages, contents, strict=True)
        ]
        # ``vars`` is a JSON text (2.3: "Json 序列化字符串").  The request itself goes as a
        # JSON body (7.2.2) rather than a form: percent-encoding 50,000 Chinese messages
        # triples their size and costs more time than everything else on our side.
        fields = {
            "vars": json.dumps(variables, ensure_ascii=False),
            **self._optional(ext=self.config.extension, mms_id=mms_id),
        }
        # The gateway's work grows with the groups: allow it a second per 2,000 of them.
        read_timeout = 15.0 + len(variables) / 2000
        payload, raw = self._call("/mts_var.ashx", fields, as_json=True, read_timeout=read_timeout)
        return _per_number_results(messages, payload, raw)

    # polling ----------------------------------------------------------------
    def poll_reports(self) -> PollResult:
        return self._poll("/rpt.ashx", lambda item, raw, header: report_event(item, raw))

    def poll_mo(self) -> PollResult:
        return self._poll(
            "/mo.ashx",
            lambda item, raw, header: inbound_reply(item, raw, china_time(header.get("ct"))),
        )

    def _poll(self, path: str, convert: Callable[[object, str, Mapping], object]) -> PollResult:
        limit = self.capabilities.max_reports_per_poll
        payload, raw = self._call(path, {"num": str(limit)})
        # Quirk: replies come under "mos" (3.7) although the table (3.6) and the empty answer
        # (3, item 6) say "rpts".
        items = payload.get("mos", payload.get("rpts", []))
        if not isinstance(items, list):
            raise UnexpectedReply(f"{path} answer without a list of items", raw=raw)
        converted = []
        for item in items:
            item_raw = json.dumps(item, ensure_ascii=False)
            try:
                converted.append(convert(item, item_raw, payload))
            except ValueError as exc:
                # The vendor has already handed these over; the item stays in the poll's raw.
                log.warning("ashx5g %s: skipped an unreadable item (%s): %s", path, exc, item_raw)
        return PollResult(items=converted, more_waiting=len(items) >= limit, raw=raw)

    # account ----------------------------------------------------------------
    def balance(self) -> Balance:
        payload, raw = self._call("/balance.ashx", {})
        return Balance(amount=_amount(payload, raw), unit="messages", raw=raw)

    def account_info(self) -> Balance:
        """bi.ashx: balance plus today's counters and the push queue state."""
        payload, raw = self._call("/bi.ashx", {})
        # Quirk: the table says rt is URL-encoded UTF-8, the sample shows it plain; unquote
        # leaves plain text as it is.
        details = {
            "rt": unquote(as_text(payload.get("rt"))),
            "pushsrv": as_text(payload.get("pushsrv")),
        }
        # Quirk: the table calls pushsrv the account type (web/http/json), but the sample packs
        # "Access:HTTPAPI;Status:Pause;Report:399042;..." into it: split those out.
        for entry in details["pushsrv"].split(";"):
            name, colon, value = entry.partition(":")
            if colon:
                details[name.strip()] = value.strip()
        return Balance(amount=_amount(payload, raw), unit="messages", details=details, raw=raw)

    def upload_template(
        self, *, title: str, signature: str, frames: Sequence[TemplateFrame], has_variables: bool
    ) -> TemplateUpload:
        # What 5.1 and 5.3 require, checked before sending: the gateway only says "-1".
        if not title or title_length(title) > MAX_TITLE_CHARS:
            raise InvalidRequest(
                f"Template title must have 1 to {MAX_TITLE_CHARS} characters: {title!r}"
            )
        if not frames:
            raise InvalidRequest("A template needs at least one file")
        for frame in frames:
            if frame.content_type not in TEMPLATE_FILE_TYPES:
                raise InvalidRequest(f"Template files cannot be {frame.content_type!r} (5.3)")
            if not frame.data:
                raise InvalidRequest(f"Template file {frame.name or frame.order} is empty")
        body = {
            **self._auth(),
            **self._optional(sign=signature or self.config.signature),
            "title": title,
            **self._optional(ext_id=self.config.extension),
            "files": [
                {
                    "index": str(f.frame),
                    "id": str(f.order),
                    "content_type": f.content_type,
                    "content": f.data.hex(),
                }
                for f in frames
            ],
            # Where the review result is pushed (5.2); empty means no push.
            **self._optional(push_url=self.config.push_url),
            "isvar": "1" if has_variables else "0",
        }
        # 5.1 shows the upload as a JSON body (its files cannot travel as a flat form).
        reply = self.http.post(
            self.base_url + "/mms_create.ashx",
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json;charset=UTF-8"},
        )
        payload = _read(reply)
        code, mms_id = as_text(payload.get("code")), as_text(payload.get("mms_id"))
        if code and code != codes.SUCCESS:
            raise codes.error_for(code, reply.text, as_text(payload.get("status")))
        if not code or not mms_id:
            raise UnexpectedReply("mms_create.ashx answer without code or mms_id", raw=reply.text)
        return TemplateUpload(vendor_template_id=mms_id, raw=reply.text)

    # plumbing ---------------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        account, secret = self.config.account_id, self.config.secret
        if self.config.auth_mode == "md5":
            # With ts present the gateway expects md5(account + password + ts) as pswd.
            ts = datetime.now(CHINA).strftime(TS_FORMAT)
            return {"account": account, "pswd": md5_password(account, secret, ts), "ts": ts}
        return {"account": account, "pswd": secret}

    @staticmethod
    def _optional(**fields: str) -> dict[str, str]:
        return {name: value for name, value in fields.items() if value}

    @staticmethod
    def _check_size(messages: Sequence[OutgoingMessage], limit: int) -> None:
        if len(messages) > limit:
            raise InvalidRequest(f"{len(messages)} recipients in one request; the limit is {limit}")

    def _call(
        self,
        path: str,
        fields: Mapping[str, str],
        *,
        as_json: bool = False,
        read_timeout: float | None = None,
    ) -> tuple[dict, str]:
        """POST a form (UTF-8), or the same fields as a JSON object, and return the reply's
        fields once ``result`` says success."""
        form = {**self._auth(), "rf": self.reply_format, **fields}
        if as_json:
            reply = self.http.post(
                self.base_url + path,
                data=json.dumps(form, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json;charset=UTF-8"},
                read_timeout=read_timeout,
            )
        else:
            reply = self.http.post(self.base_url + path, data=form)
        payload = _read(reply)
        result = as_text(payload.get("result"))
        if not result:
            raise UnexpectedReply(f"{path} answer without result", raw=reply.text)
        if result != codes.SUCCESS:
            raise codes.error_for(result, reply.text)
        return payload, reply.text


def _read(reply: HttpReply) -> dict:
    """A JSON object or a kv text, else UnexpectedReply (with the raw body kept)."""
    try:
        # Strict: a reply in another encoding is not what the document promises.
        text = reply.body.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError as exc:
        raise UnexpectedReply("reply is not UTF-8", raw=reply.body) from exc
    # Quirk: the older gateways answer a call that comes too soon with plain text and HTTP
    # 200, "frequency deny.please query slowly.f:5sec.", not result=920 (see codes).
    denied = codes.frequency_denied(text)
    if denied is not None:
        raise denied
    try:
        if text.startswith("{"):
            payload = loads_lenient(text)
        elif re.match(r"\w+=", text):
            payload = parse_kv(text)
        else:
            raise ValueError("neither JSON nor key=value")
    except ValueError as exc:
        raise UnexpectedReply(f"unreadable reply: {exc}", raw=reply.text) from exc
    if not isinstance(payload, dict):
        raise UnexpectedReply("reply is not a JSON object", raw=reply.text)
    return payload


def _amount(payload: Mapping, raw: str) -> Decimal:
    try:
        return Decimal(as_text(payload.get("balance")))
    except InvalidOperation as exc:
        raise UnexpectedReply("reply without a readable balance", raw=raw) from exc


def _refusal(message: OutgoingMessage, kind: str, why: str) -> SubmitResult:
    return SubmitResult(
        message.custom_id, message.phone, False, error_kind=kind, error_description=why
    )


def _send_the_rest(
    messages: Sequence[OutgoingMessage],
    refusals: Mapping[int, SubmitResult],
    send: Callable[[Sequence[OutgoingMessage]], list[SubmitResult]],
) -> list[SubmitResult]:
    """One result per message, in order: the refusals decided before sending, and ``send``'s
    results for the others (no request at all when none is left)."""
    if not refusals:
        return send(messages) if messages else []
    carried = [m for index, m in enumerate(messages) if index not in refusals]
    sent = iter(send(carried) if carried else [])
    return [refusals[index] if index in refusals else next(sent) for index in range(len(messages))]


def _per_number_results(
    messages: Sequence[OutgoingMessage], payload: Mapping, raw: str
) -> list[SubmitResult]:
    """Match ``seqs`` (one {pn, seq} per accepted number, no caller id) to our messages by
    phone, repeated phones in order; an entry whose phone matches none of ours falls back to
    its position.  A message with no entry was not accepted."""
    seqs = payload.get("seqs")
    if not isinstance(seqs, list):
        raise UnexpectedReply("send answer without seqs", raw=raw)
    batch_id = as_text(payload.get("sid"))
    entries = [(e, as_text(e.get("seq"))) for e in seqs if isinstance(e, Mapping)]
    entries = [(entry, seq) for entry, seq in entries if seq]
    by_phone: dict[str, deque[int]] = defaultdict(deque)
    for index, (entry, _) in enumerate(entries):
        by_phone[_normalized_phone(entry.get("pn"))].append(index)
    ours = {_normalized_phone(m.phone) for m in messages}
    matched: list[int | None] = []
    for message in messages:
        queue = by_phone.get(_normalized_phone(message.phone))
        matched.append(queue.popleft() if queue else None)
    for position, found in enumerate(matched):
        # Quirk: the mts JSON sample (2.2) answers "1390000002" for 13900000002.
        if (
            found is None
            and position < len(entries)
            and position not in matched
            and _normalized_phone(entries[position][0].get("pn")) not in ours
        ):
            matched[position] = position
    header_raw = json.dumps(
        {k: v for k, v in payload.items() if k not in ("seqs", "rpts")}, ensure_ascii=False
    )
    # An acceptance's raw is the reply itself (one string shared by all of them): it is stored
    # nowhere (``http._scrub_submit``), and writing each entry back out as JSON cost a
    # quarter of the time our side spends on a request of 25,000.
    results = []
    for message, found in zip(messages, matched, strict=True):
        if found is None:
            results.append(
                SubmitResult(
                    message.custom_id,
                    message.phone,
                    False,
                    batch_id=batch_id,
                    error_kind="invalid_number",
                    error_description="The vendor returned no message id for this number",
                    raw=header_raw,
                )
            )
            continue
        entry, seq = entries[found]
        results.append(
            SubmitResult(
                message.custom_id,
                message.phone,
                True,
                vendor_message_id=seq,
                batch_id=batch_id,
                raw=raw,
            )
        )
    return results
