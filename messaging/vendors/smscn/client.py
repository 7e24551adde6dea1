"""sms.cn: /mt/ sends, /st/ report and /rx/ reply polling, /mm/ counters, /rd/ send records.

Every request is ``name=value`` fields signed with ``pwd = md5(password + uid)``, POSTed (the
document takes GET or POST alike); every reply is GBK plain text.  Requests are GBK too unless
the account's ``encode`` option is ``utf8``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from django.utils.translation import gettext, gettext_lazy

from ..base import (
    AccountOption,
    Balance,
    Capabilities,
    ContentRejected,
    InboundReply,
    InvalidRequest,
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
from .codes import STAT_OK, error_for, report_status

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPLY_ENCODING = "gbk"
GET_MAX_NUMBERS = 50
POST_MAX_NUMBERS = 2000
RECORDS_PER_PAGE = 50


def sign(password: str, uid: str) -> str:
    """The documented ``pwd``: lower-case md5 of the login password followed by the uid (hashed
    as GBK, the gateway's own encoding; the same bytes as UTF-8 for an ASCII password)."""
    return hashlib.md5((password + uid).encode("gbk")).hexdigest()  # noqa: S324 - vendor's rule


def urlencode_value(value: str, encoding: str) -> str:
    """URL-encode as the document spells out (PHP ``urlencode``): everything but letters,
    digits and ``-_.`` becomes %XX, a space becomes +.  Python leaves ``~`` alone; PHP does not."""
    return quote_plus(value, safe="", encoding=encoding, errors="strict").replace("~", "%7E")


def form_encode(fields: dict[str, str], encoding: str) -> str:
    """Raises UnicodeEncodeError when a value has a character ``encoding`` cannot carry."""
    return "&".join(f"{name}={urlencode_value(value, encoding)}" for name, value in fields.items())


def parse_time(text: str) -> dt.datetime | None:
    """The vendor's ``YYYY-MM-DD HH:MM:SS`` in Beijing time; None for an unreadable time or one
    outside ``vendor_time``'s window: the item is kept without it (its raw text keeps it)."""
    try:
        when = dt.datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError:
        return None
    return vendor_time(when.replace(tzinfo=CHINA))


@dataclass(frozen=True)
class SentCount:
    """``/mm/?cmd=send``: how many messages the account has sent in total."""

    count: int
    raw: str = ""


@dataclass(frozen=True)
class SendRecord:
    phone: str
    content: str
    status: str
    """As the vendor writes it; the document does not list the values."""
    sent_at: dt.datetime | None = None
    raw: str = ""


@dataclass(frozen=True)
class SendRecords:
    """One page (at most 50 records) of ``/rd/``."""

    total: int
    count: int
    pages: int
    records: list[SendRecord] = field(default_factory=list)
    raw: str = ""


# One /rx/ item: phone||content||time||gateway number.  Matched rather than split because the
# document escapes only "||" inside content (to full-width ｜｜), not the "{&}" item separator or
# line breaks; anchoring on the timestamp keeps such content whole.
_MO_ITEM = re.compile(
    r"(?P<phone>\+?\d+)\|\|(?P<content>.*?)\|\|"
    r"(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\|\|(?P<gateway>\d*)(?:\{&\}|\Z)",
    re.DOTALL,
)
_MO_SEPARATOR = "{&}"


class SmscnClient(VendorClient):
    key = "smscn"
    label = "sms.cn"
    capabilities = Capabilities(
        # POST takes 2000 numbers, GET only 50; sends always use POST, as the document advises.
        max_numbers_per_request=POST_MAX_NUMBERS,
        # No per-recipient content: personalised messages go out one send each.
        max_personalised_per_request=0,
        # The document names no polling interval or batch size, only code 107 (too frequent):
        # keep the portal's 5 s and treat one poll as at most 500 lines.
        min_poll_interval_s=5.0,
        max_reports_per_poll=500,
        pushes=frozenset({"mo"}),
        request_encoding="gbk",
        reply_encoding=REPLY_ENCODING,
        auth_modes=("md5",),
    )

    options = (
        AccountOption(
            name="encode",
            label=gettext_lazy("request encoding"),
            help=gettext_lazy(
                "How requests are encoded (section 2, parameter encode): gbk, the document's "
                "default, or utf8, which also carries characters GBK lacks. Replies stay GBK."
            ),
            default="gbk",
            choices=(("gbk", "gbk"), ("utf8", "utf8")),
        ),
    )
    push_instructions = (
        PushInstruction(
            "mo",
            gettext_lazy("GET or POST, cmd=res, GBK"),
            gettext_lazy(
                "Give this URL to sms.cn as the reply push address (section 6.2). Reports are "
                "not pushed: keep polling on."
            ),
        ),
    )

    # ------------------------------------------------------------------ requests
    @property
    def request_encoding(self) -> str:
        encode = self._option("encode").lower().replace("-", "")
        return "utf-8" if encode == "utf8" else "gbk"

    def _fields(self, **extra: str) -> dict[str, str]:
        fields = {
            "uid": self.config.account_id,
            "pwd": sign(self.config.secret, self.config.account_id),
        }
        if self.request_encoding == "utf-8":
            fields["encode"] = "utf8"
        fields.update(extra)
        return fields

    def _url(self, path: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/{path}/"

    def _ask(self, path: str, **extra: str) -> HttpReply:
        """/st/, /rx/, /mm/ and /rd/.  Their samples are GET URLs, but the document takes
        every request by GET or POST ("通过HTTP的GET/POST方式交换", section 一; "GET/POST操作
        格式", section 五): they go by POST, so that pwd - md5(password + uid), fixed, which
        works as the password itself - never rides in a URL."""
        return self._post(path, self._fields(**extra))

    def _post(self, path: str, fields: dict[str, str]) -> HttpReply:
        body = form_encode(fields, self.request_encoding)
        content_type = f"application/x-www-form-urlencoded; charset={self.request_encoding}"
        return self._checked(
            self.http.post(
                self._url(path), data=body.encode("ascii"), headers={"Content-Type": content_type}
            )
        )

    @staticmethod
    def _checked(reply: HttpReply) -> HttpReply:
        # The gateway answers everything, errors included, with HTTP 200 and a stat code.
        if reply.status != 200:
            raise UnexpectedReply(
                f"sms.cn answered HTTP {reply.status}", code=str(reply.status), raw=reply.text
            )
        return reply

    # ------------------------------------------------------------------ replies
    @staticmethod
    def _stat_fields(text: str) -> dict[str, str]:
        """Parse ``sms&stat=100&message=...``; raise the typed error for any stat but 100."""
        body = text.strip()
        if not body.startswith("sms&"):
            raise UnexpectedReply("sms.cn reply is not sms&stat=...", raw=text)
        fields: dict[str, str] = {}
        name = ""
        for part in body[len("sms&") :].split("&"):
            key, sep, value = part.partition("=")
            if sep and key.isalpha():
                name = key
                fields[name] = value
            elif name:
                # The message text is not URL-encoded, so an "&" inside it splits it: rejoin.
                fields[name] += "&" + part
            else:
                raise UnexpectedReply("sms.cn reply is not sms&stat=...", raw=text)
        stat = fields.get("stat", "")
        if not stat.isdigit():
            raise UnexpectedReply("sms.cn reply has no numeric stat", raw=text)
        if stat != STAT_OK:
            raise error_for(stat, text, fields.get("message", ""))
        return fields

    @classmethod
    def _counter(cls, reply: HttpReply) -> int:
        remain = cls._stat_fields(reply.text).get("remain", "")
        if not remain.lstrip("-").isdigit():
            raise UnexpectedReply("sms.cn counter reply has no numeric remain", raw=reply.text)
        return int(remain)

    # ------------------------------------------------------------------ sending
    def send_same(self, messages: Sequence[OutgoingMessage], content: str) -> list[SubmitResult]:
        if not messages:
            return []
        if len(messages) > POST_MAX_NUMBERS:
            raise InvalidRequest(f"sms.cn takes at most {POST_MAX_NUMBERS} numbers per request")
        # Our custom_id travels as the caller-chosen ``mobileids`` and comes back in every
        # report.  The document says these ids are all digits (its own sample breaks the rule
        # with "1390000test12869461937"); commas would also break the list.
        odd_ids = [m.custom_id for m in messages if not m.custom_id.isdigit()]
        if odd_ids:
            raise InvalidRequest(f"sms.cn mobileids must be digits only: {odd_ids[:5]}")
        fields = self._fields()
        if self.config.extension:
            fields["mid"] = self.config.extension
        fields["mobile"] = ",".join(m.phone for m in messages)
        fields["mobileids"] = ",".join(m.custom_id for m in messages)
        fields["content"] = content
        try:
            reply = self._post("mt", fields)
        except UnicodeEncodeError as exc:
            # Nothing was sent: GBK cannot carry this text (emoji...).  encode=utf8 can.
            raise ContentRejected(
                gettext(
                    "The content has characters %(encoding)s cannot carry; set the "
                    "account's encode option to utf8."
                )
                % {"encoding": self.request_encoding.upper()}
            ) from exc
        self._stat_fields(reply.text)
        # The reply is one stat for the whole request: every number was accepted under the
        # id we chose for it.
        return [
            SubmitResult(
                custom_id=m.custom_id,
                phone=m.phone,
                accepted=True,
                vendor_message_id=m.custom_id,
                raw=reply.text,
            )
            for m in messages
        ]

    # ------------------------------------------------------------------ polling
    def poll_reports(self) -> PollResult:
        reply = self._ask("st")
        text = reply.text.strip()
        if not text:
            return PollResult(raw=reply.text)
        if text.startswith("sms&"):
            self._stat_fields(text)
            return PollResult(raw=reply.text)
        events, bad = [], []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                events.append(self._report(line))
            except ValueError:
                bad.append(line)
        self._judge_items(reply, events, bad)
        return PollResult(items=events, raw=reply.text)

    @staticmethod
    def _report(line: str) -> StatusEvent:
        """``phone,status,id,time``.  The document's sample has a space before the time: strip.
        The id is the ``mobileids`` entry, which the document makes optional (可选项): a line
        that leaves it empty still names the phone, and is kept for matching by phone."""
        phone, code, message_id, when = (part.strip() for part in line.split(","))
        if not (phone and code):
            raise ValueError(line)
        meaning = report_status(code)
        # The id is the ``mobileids`` entry we sent, i.e. our custom_id.
        return StatusEvent(
            vendor_message_id=message_id,
            status=meaning.meaning,
            vendor_code=code,
            description_zh=meaning.zh,
            description_en=meaning.en,
            phone=phone,
            custom_id=message_id,
            done_at=parse_time(when),
            raw=line,
        )

    def poll_mo(self) -> PollResult:
        reply = self._ask("rx")
        text = reply.text.strip()
        # "无回复内容时返回空": no replies is an empty body.
        if not text:
            return PollResult(raw=reply.text)
        if text.startswith("sms&"):
            self._stat_fields(text)
            return PollResult(raw=reply.text)
        stat, _, items_text = text.partition(_MO_SEPARATOR)
        if not stat.isdigit():
            raise UnexpectedReply(
                "sms.cn /rx/ reply does not start with a stat code", raw=reply.text
            )
        if stat != STAT_OK:
            raise error_for(stat, reply.text)
        replies, bad = [], []
        position = 0
        while position < len(items_text):
            match = _MO_ITEM.match(items_text, position)
            if match:
                replies.append(
                    InboundReply(
                        phone=match["phone"],
                        content=match["content"],
                        received_at=parse_time(match["time"]),
                        extension=match["gateway"],
                        raw=match[0].removesuffix(_MO_SEPARATOR),
                    )
                )
                position = match.end()
                continue
            end = items_text.find(_MO_SEPARATOR, position)
            end = len(items_text) if end < 0 else end
            bad.append(items_text[position:end])
            position = end + len(_MO_SEPARATOR)
        self._judge_items(reply, replies, bad)
        return PollResult(items=replies, raw=reply.text)

    @staticmethod
    def _judge_items(reply: HttpReply, good: list, bad: list[str]) -> None:
        """Polled items are gone from the gateway once read: keep the good ones beside odd ones,
        but a reply with nothing readable is not what the document shows."""
        if bad and not good:
            raise UnexpectedReply("sms.cn reply has no readable item", raw=reply.text)
        for item in bad:
            log.warning("sms.cn: skipped unreadable item %r (raw reply kept)", item)

    # ------------------------------------------------------------------ account
    def balance(self) -> Balance:
        reply = self._ask("mm")
        return Balance(amount=Decimal(self._counter(reply)), unit="messages", raw=reply.text)

    def sent_count(self) -> SentCount:
        # Quirk: the sent total comes back under the same name as the balance, "remain".
        reply = self._ask("mm", cmd="send")
        return SentCount(count=self._counter(reply), raw=reply.text)

    def send_records(
        self, page: int = 1, *, date: dt.date | None = None, phone: str = ""
    ) -> SendRecords:
        """``/rd/``: one page of sent messages, optionally for one day and/or one number."""
        extra = {"page": str(page)}
        if date:
            extra["date"] = date.isoformat()
        if phone:
            extra["key"] = phone
        reply = self._ask("rd", **extra)
        text = reply.text.strip()
        if not text:
            return SendRecords(total=0, count=0, pages=0, raw=reply.text)
        if text.startswith("sms&"):
            self._stat_fields(text)
            return SendRecords(total=0, count=0, pages=0, raw=reply.text)
        header, *chunks = text.split("|#|")
        numbers = header.split("||")
        if len(numbers) != 3 or not all(n.strip().isdigit() for n in numbers):
            raise UnexpectedReply(
                "sms.cn /rd/ reply has no total||count||pages header", raw=reply.text
            )
        total, count, pages = (int(n) for n in numbers)
        records, bad = [], []
        for chunk in filter(None, chunks):
            fields = chunk.split("||")
            if len(fields) < 4:
                bad.append(chunk)
                continue
            # Unlike /rx/, the document does not say "||" inside content is escaped here: the
            # fields between the number and the status are the content.
            sent, phone, *content, status = fields
            sent_at = parse_time(sent)  # None too where the format is not the usual one
            records.append(
                SendRecord(
                    phone=phone.strip(),
                    content="||".join(content),
                    status=status.strip(),
                    sent_at=sent_at,
                    raw=chunk,
                )
            )
        self._judge_items(reply, records, bad)
        return SendRecords(total=total, count=count, pages=pages, records=records, raw=reply.text)
