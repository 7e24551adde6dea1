"""The contract between the portal and a vendor adapter.

Every vendor package (``messaging/vendors/<key>/``) provides a ``VendorClient`` subclass whose
``capabilities`` describe, as data, what the vendor can do, so the sending and polling pipeline
never branches on a vendor's name.  Adapters return the dataclasses below and raise the typed
errors below; they never touch the ORM and always keep the raw payload they parsed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .http import HttpTransport

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- capabilities


@dataclass(frozen=True)
class Capabilities:
    max_numbers_per_request: int
    """Same-content sends: how many numbers one request may carry."""
    max_personalised_per_request: int
    """Per-recipient content (variable / p2p / ddt sends); 0 means single sends only."""
    max_concurrent_requests: int = 4
    """Parallel requests the pipeline may make when falling back to single sends."""
    template_sends: bool = False
    """MMS / video / 5G sends by an approved vendor template id."""
    template_upload: bool = False
    poll_reports: bool = True
    poll_mo: bool = True
    min_poll_interval_s: float = 5.0
    poll_interval_shared: bool = False
    """The minimum poll interval spaces *every* manual call of one account (reports, replies,
    balance) taken together, one call at a time (ashx5g: "应采用单线程, 操作间隔 5 秒以上"),
    rather than each kind of call on its own."""
    max_reports_per_poll: int = 500
    pushes: frozenset[str] = frozenset()
    """Subset of {"report", "mo", "template_review"} the vendor can push to us."""
    pushed_reports_resent: bool = True
    """False where the document says a report pushed while we could not be reached is not
    pushed again (nor handed to a poll): polling or an always reachable push URL matters."""
    request_encoding: str = "utf-8"
    reply_encoding: str = "utf-8"
    auth_modes: tuple[str, ...] = ("plain",)
    """"plain" and/or "md5": how the secret travels."""
    content_check: bool = False
    """The vendor offers a sensitive-word check before sending."""
    international: bool = False
    """Numbers are sent in E.164 rather than as 11-digit Chinese mobiles."""
    sms_segment_chars: tuple[int, int] = (70, 67)
    """(single-part limit, per-part limit) for Chinese text as the vendor counts it."""
    ascii_segment_chars: tuple[int, int] = (160, 153)
    """The same for text that is all ASCII (GSM 7-bit); some vendors count it like Chinese."""
    balance_query: bool = True
    """The vendor offers a balance query (without one, ``probe()`` proves the credentials)."""
    template_title_max_chars: int = 0
    """The longest template title the vendor takes, counted in UTF-16 code units (0: no
    limit).  The template submission service derives titles that fit."""
    single_sends: bool = True
    """The vendor takes one message on its own, outside a campaign (a test send, an opt-out
    confirmation): a plain SMS to one number without an approved template."""


# --------------------------------------------------------------------------- account options


@dataclass(frozen=True)
class AccountOption:
    """One setting an administrator may give a vendor account of this vendor (stored in
    ``VendorAccount.options``), declared as data beside the vendor's ``Capabilities``: the admin
    form checks the options against the declarations and shows their help, and the client
    reads a value through ``VendorClient._option`` so that the default has one home."""

    name: str
    """The key in ``VendorAccount.options``."""
    label: str
    help: str
    """What it does, citing the vendor document's section."""
    default: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    """(value, label) pairs; empty for free text or a number."""
    kind: str = "choice"
    """"choice" (one of ``choices``), "text" or "integer"."""

    def clean(self, value) -> str:
        """``value`` as stored, or ``ValueError`` with words for the administrator."""
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError(_("%(name)s must be a whole number.") % {"name": self.name})
            text = str(value).strip()
            if not (text.isascii() and text.lstrip("-").isdigit()):
                raise ValueError(_("%(name)s must be a whole number.") % {"name": self.name})
            return str(int(text))
        if not isinstance(value, str):
            raise ValueError(_("%(name)s must be text.") % {"name": self.name})
        if self.kind == "choice" and value not in {v for v, _label in self.choices}:
            raise ValueError(
                _("%(value)r is not a choice of %(name)s: %(choices)s.")
                % {
                    "value": value,
                    "name": self.name,
                    "choices": ", ".join(v for v, _label in self.choices),
                }
            )
        return value


def check_options(declared: Sequence[AccountOption], options) -> tuple[dict, list[str]]:
    """``options`` checked against the vendor's declarations: (the options as stored, the
    errors in words).  An unknown key, a value off the choices or of the wrong type is an
    error; nothing is dropped silently."""
    if not isinstance(options, Mapping):
        return {}, [str(_("Enter the options as a JSON object, e.g. {}."))]
    by_name = {option.name: option for option in declared}
    cleaned, errors = {}, []
    for key, value in options.items():
        option = by_name.get(key)
        if option is None:
            if by_name:
                errors.append(
                    _("%(key)s is not an option of this vendor (its options: %(names)s).")
                    % {"key": key, "names": ", ".join(by_name)}
                )
            else:
                errors.append(
                    _("%(key)s is not an option of this vendor (it has none).") % {"key": key}
                )
            continue
        try:
            cleaned[key] = option.clean(value)
        except ValueError as exc:
            errors.append(str(exc))
    return cleaned, [str(error) for error in errors]


@dataclass(frozen=True)
class PushInstruction:
    """What to tell the vendor about our push URL for one kind of push."""

    pushes: str
    """"report", "mo" or "template_review" (``Capabilities.pushes``)."""
    method: str
    """How the vendor sends it, e.g. "POST (JSON array)"."""
    note: str
    """What to ask of the vendor, citing its document's section."""


PUSH_KIND_LABELS = {
    "report": _("delivery reports"),
    "mo": _("replies"),
    "template_review": _("template review results"),
}


# --------------------------------------------------------------------------- vendor times

VENDOR_TIME_ZONE = ZoneInfo("Asia/Shanghai")
"""Every vendor writes its local time, Beijing time."""
EARLIEST_VENDOR_TIME = dt.datetime(2000, 1, 1, tzinfo=VENDOR_TIME_ZONE)
VENDOR_CLOCK_AHEAD = dt.timedelta(days=1)
"""How far ahead of our clock a vendor's clock may run."""
_REFUSED_LOG_EVERY_S = 60.0
_refused = {"count": 0, "logged_at": float("-inf")}


def vendor_time(value: dt.datetime | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """A time a vendor gave (a report's, a reply's, a review's), when it is one such an item can
    have: from 2000-01-01 to a day after ``now`` (Asia/Shanghai; a naive time is taken as
    such).  None otherwise: the item is kept without it, and its ``raw`` text shows what the
    vendor sent.  Every adapter's time parsing ends here, so that no time a vendor sends is
    stored as a date the database cannot give back (a year 0001 in Beijing is a BC date in
    UTC) or one that puts the item in a far future.  A refused time is logged, at most once a
    minute with the count since the last line."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=VENDOR_TIME_ZONE)
    latest = (now or dt.datetime.now(dt.UTC)) + VENDOR_CLOCK_AHEAD
    if EARLIEST_VENDOR_TIME <= value <= latest:
        return value
    _refused["count"] += 1
    clock = time.monotonic()
    if clock - _refused["logged_at"] >= _REFUSED_LOG_EVERY_S:
        log.warning(
            "vendor time %s is outside %s .. now + 1 day: not stored as a date, kept in the "
            "item's raw text (%d such times since the last warning)",
            value.replace(tzinfo=None).isoformat(sep=" "),
            EARLIEST_VENDOR_TIME.date().isoformat(),
            _refused["count"],
        )
        _refused["count"], _refused["logged_at"] = 0, clock
    return None


# NUL: PostgreSQL refuses it in text; lone surrogates: no UTF-8 encoding for them.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_PARTS = 255


def clean_text(text: str) -> str:
    """``text`` without what no database text column can hold (NUL, lone surrogates)."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text


def clean_item(item):
    """A report, reply or review (pushed or polled) as the database can store it, and what was
    left out (``None`` when nothing was): unstorable characters, a time outside
    ``vendor_time``'s window, a part number out of range.  One odd item must never fail the
    items beside it."""
    changes, notes = {}, []
    for f in fields(item):
        value = getattr(item, f.name)
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                changes[f.name] = clean_text(value)
        elif isinstance(value, dt.datetime):
            try:
                kept = vendor_time(value)
            except (OverflowError, ValueError):
                kept = None
            if kept is None:
                changes[f.name] = None
                notes.append(f"{f.name} {value.isoformat()} out of range, left out")
            elif kept is not value:
                changes[f.name] = kept
        elif f.name in ("part_index", "part_count"):
            number = value if isinstance(value, int) and not isinstance(value, bool) else 1
            kept = max(1, min(number, MAX_PARTS))
            if kept is not value:
                changes[f.name] = kept
    if not changes:
        return item, None
    return replace(item, **changes), "; ".join(notes) or None


# --------------------------------------------------------------------------- code tables


@dataclass(frozen=True)
class Code:
    """One row of a vendor's status or error table (kept as dicts in ``<key>/codes.py``).

    ``meaning`` is a ``messaging.statuses.Status`` value for report codes, or a
    ``VendorError.kind`` for error codes."""

    meaning: str
    zh: str
    en: str


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class AccountConfig:
    """What an adapter needs to know about one vendor account (built from VendorAccount)."""

    base_url: str
    account_id: str
    secret: str
    auth_mode: str = "plain"
    extension: str = ""
    signature: str = ""
    push_url: str = ""
    """Our receiver URL, for vendors that take it per request (ashx5g template upload)."""
    timeout_s: float = 15.0
    connect_timeout_s: float = 5.0
    options: Mapping[str, str] = field(default_factory=dict)
    """Vendor-specific extras (e.g. smscn ``encode``), entered by an administrator."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One recipient's message in a send.  ``custom_id`` is our id, echoed back where the
    vendor supports it; ``variables`` are used by template (MMS/5G) sends."""

    custom_id: str
    phone: str
    content: str = ""
    variables: Sequence[str] = ()


@dataclass(frozen=True)
class TemplateFrame:
    frame: int
    order: int
    content_type: str
    data: bytes
    name: str = ""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SubmitResult:
    """The vendor's answer for one recipient of a send request."""

    custom_id: str
    phone: str
    accepted: bool
    vendor_message_id: str = ""
    batch_id: str = ""
    error_code: str = ""
    error_description: str = ""
    error_kind: str = ""
    """For recipients not accepted: one of the ``VendorError.kind`` values, which says what the
    answer means for this recipient (see ``messaging.services.outcomes``): refused for good
    ("invalid_number", "content_rejected", "invalid_request", "refused"), maybe taken
    ("ambiguous", "unexpected_reply", and "vendor_error": a code that says nothing either
    way), nothing taken, try later ("transient",
    "rate_limited"), the account must be fixed ("auth", "balance", "account"), or not sent
    because another request shape must carry it ("needs_single")."""
    raw: str = ""


@dataclass(frozen=True)
class StatusEvent:
    """A delivery report, normalized.  ``status`` is a ``messaging.statuses.Status`` value."""

    vendor_message_id: str
    status: str
    vendor_code: str
    description_zh: str = ""
    description_en: str = ""
    phone: str = ""
    custom_id: str = ""
    batch_id: str = ""
    done_at: dt.datetime | None = None
    part_index: int = 1
    part_count: int = 1
    raw: str = ""


@dataclass(frozen=True)
class InboundReply:
    """A reply (MO) from a handset."""

    phone: str
    content: str
    received_at: dt.datetime | None = None
    extension: str = ""
    """The sub-code / access number the reply was sent to (identifies the sender number)."""
    vendor_message_id: str = ""
    link_id: str = ""
    raw: str = ""


@dataclass(frozen=True)
class TemplateReview:
    vendor_template_id: str
    approved: bool | None
    """None while the review is pending."""
    status_code: str = ""
    reason: str = ""
    reviewed_at: dt.datetime | None = None
    raw: str = ""


@dataclass(frozen=True)
class TemplateUpload:
    vendor_template_id: str
    raw: str = ""


@dataclass(frozen=True)
class Balance:
    amount: Decimal | None
    unit: str
    """"messages" (条) or "yuan" (元)."""
    details: Mapping[str, str] = field(default_factory=dict)
    raw: str = ""


@dataclass(frozen=True)
class ContentCheck:
    ok: bool
    words: tuple[str, ...] = ()
    message: str = ""
    raw: str = ""


@dataclass(frozen=True)
class PollResult:
    """Items from one poll call.  ``more_waiting`` tells the poller to fetch again at once."""

    items: list = field(default_factory=list)
    more_waiting: bool = False
    raw: str = ""


# --------------------------------------------------------------------------- pushes


@dataclass(frozen=True)
class PushRequest:
    """A vendor's push as received, independent of Django."""

    method: str
    query: Mapping[str, str]
    """Query fields decoded as UTF-8 (what most vendors send)."""
    body: bytes
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_query: str = ""
    """The query string as sent (percent-encoded), for vendors whose GET pushes are GBK."""

    def decoded_query(self, encoding: str) -> dict[str, str]:
        """Query fields decoded with the vendor's own encoding."""
        if not self.raw_query:
            return dict(self.query)
        return dict(
            parse_qsl(self.raw_query, keep_blank_values=True, encoding=encoding, errors="replace")
        )


@dataclass
class PushOutcome:
    """What a push carried and what to answer.  Bad items land in ``errors`` and never stop
    the good ones beside them from being returned."""

    reply_body: str | bytes
    reply_content_type: str = "text/plain; charset=utf-8"
    reply_status: int = 200
    reports: list[StatusEvent] = field(default_factory=list)
    replies: list[InboundReply] = field(default_factory=list)
    reviews: list[TemplateReview] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- errors


class VendorError(Exception):
    """Base of every error an adapter raises.  Carries the vendor's code and words and the raw
    reply so an administrator can see exactly what the vendor said."""

    kind: ClassVar[str] = "vendor_error"
    retry_safe: ClassVar[bool] = False
    """True when the vendor certainly accepted nothing, so the request may be sent again."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        description_zh: str = "",
        description_en: str = "",
        raw: str | bytes = "",
    ):
        self.code = code
        self.description_zh = description_zh
        self.description_en = description_en
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        self.raw = raw
        super().__init__(message or description_en or description_zh or code or self.kind)

    def __str__(self) -> str:
        """The text stored and shown for this error (an account's last error, a message's
        reason): the message given (the vendor's text as it sent it, or ours), the code, and
        the vendor's words for the code.  Without a message the vendor's words come first and
        our English gloss (``description_en``) is left out: it stood beside the Chinese in both
        languages' pages ("Not enough message credit [102] 短信不足"); a page shows one language
        of ours at a time, and the vendor's words read the same in both."""
        first = str(self.args[0]) if self.args else ""
        if self.description_zh and first == self.description_en != self.description_zh:
            first = self.description_zh  # no message was given: not our gloss, their words
        parts = [first]
        if self.code and self.code not in first:
            parts.append(f"[{self.code}]")
        if self.description_zh and self.description_zh not in first:
            parts.append(self.description_zh)
        return " ".join(parts)


class VendorAuthError(VendorError):
    kind = "auth"
    retry_safe = True


class InsufficientBalance(VendorError):
    kind = "balance"
    retry_safe = True


class RateLimited(VendorError):
    kind = "rate_limited"
    retry_safe = True

    def __init__(self, message: str = "", *, retry_after: float = 5.0, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class InvalidNumber(VendorError):
    kind = "invalid_number"
    retry_safe = True


class ContentRejected(VendorError):
    kind = "content_rejected"
    retry_safe = True


class Refused(VendorError):
    """The vendor said plainly that it did not take the message, for a reason its document
    does not explain (an unlisted failure code where the document says "other values mean
    the submission failed").  Final: nothing to reconcile, nothing to retry."""

    kind = "refused"
    retry_safe = True


class AccountProblem(VendorError):
    """The vendor refused because of how the account is set up (a sender number or signature
    it does not recognise, an access method it is not opened for): nothing was accepted, and
    nothing will be until an administrator fixes the account.  The pipeline pauses the
    campaign with the vendor's words; the marketer resumes it once the account is fixed."""

    kind = "account"
    retry_safe = True


class NeedsSingleSend(VendorError):
    """This recipient's content cannot travel in the request shape asked for (a separator of
    the vendor's list format inside it, a line break in a line-per-recipient list) but a
    single send carries it.  Adapters return it per recipient *without sending* that
    recipient; the pipeline sends it again on its own."""

    kind = "needs_single"
    retry_safe = True


class InvalidRequest(VendorError):
    """The vendor refused the request as malformed (missing field, bad parameter): nothing was
    accepted, and sending it again unchanged would fail again."""

    kind = "invalid_request"
    retry_safe = True


class TransientError(VendorError):
    """Nothing was accepted (connection refused, vendor busy before accepting): retry later."""

    kind = "transient"
    retry_safe = True


class AmbiguousOutcome(VendorError):
    """The request may or may not have been accepted (timeout after sending, dropped
    connection, a reply we cannot read).  Never re-send: reconcile from delivery reports."""

    kind = "ambiguous"
    retry_safe = False


class UnexpectedReply(AmbiguousOutcome):
    """The reply is not what the vendor's document shows (odd JSON, plain text, wrong encoding)."""

    kind = "unexpected_reply"


class PushRejected(VendorError):
    """A push we will not accept: bad token or vendor check, or a body we cannot parse."""

    kind = "push_rejected"

    def __init__(self, message: str = "", *, status: int = 400, **kwargs):
        self.status = status
        super().__init__(message, **kwargs)


ERROR_KINDS: dict[str, type[VendorError]] = {
    cls.kind: cls
    for cls in (
        VendorError,
        VendorAuthError,
        InsufficientBalance,
        Refused,
        AccountProblem,
        NeedsSingleSend,
        RateLimited,
        InvalidNumber,
        ContentRejected,
        InvalidRequest,
        TransientError,
        AmbiguousOutcome,
        UnexpectedReply,
        PushRejected,
    )
}


# --------------------------------------------------------------------------- client


class VendorClient(ABC):
    """One vendor account's client.  Subclasses set ``key``, ``label`` and ``capabilities``
    and implement what the capabilities promise; the rest raise ``NotImplementedError``."""

    key: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    options: ClassVar[tuple[AccountOption, ...]] = ()
    """The account options the administrator may set (``AccountOption``)."""
    push_instructions: ClassVar[tuple[PushInstruction, ...]] = ()
    """What to tell the vendor about the account's push URL, one line per kind of push."""

    def __init_subclass__(cls, **kwargs):
        """Every public operation of an adapter hands out its errors and refusals scrubbed of
        the account's credentials (``http.guard_credentials``): no adapter can forget it."""
        super().__init_subclass__(**kwargs)
        from .http import guard_credentials

        guard_credentials(cls)

    def __init__(self, config: AccountConfig, transport: HttpTransport | None = None):
        from .http import HttpTransport

        self.config = config
        self.http = transport or HttpTransport(
            encoding=self.capabilities.reply_encoding,
            timeout=(config.connect_timeout_s, config.timeout_s),
        )

    def _option(self, name: str) -> str:
        """The account's value for a declared option, or its declared default."""
        (declared,) = (option for option in self.options if option.name == name)
        return self.config.options.get(name, declared.default)

    # Sending.  Each returns one SubmitResult per recipient, in the order given, or raises a
    # VendorError that concerns the whole request.
    @abstractmethod
    def send_same(self, messages: Sequence[OutgoingMessage], content: str) -> list[SubmitResult]:
        """One content to many numbers (``len(messages) <= max_numbers_per_request``)."""

    def send_personalised(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """Per-recipient content (``<= max_personalised_per_request``)."""
        raise NotImplementedError

    def send_single(self, message: OutgoingMessage) -> SubmitResult:
        return self.send_same([message], message.content)[0]

    def send_template(
        self, vendor_template_id: str, messages: Sequence[OutgoingMessage]
    ) -> list[SubmitResult]:
        """MMS / video / 5G by approved template id, ``variables`` per recipient."""
        raise NotImplementedError

    # Reports and replies.
    def poll_reports(self) -> PollResult:
        raise NotImplementedError

    def poll_mo(self) -> PollResult:
        raise NotImplementedError

    # Account.
    @abstractmethod
    def balance(self) -> Balance: ...

    def check_content(self, content: str) -> ContentCheck:
        raise NotImplementedError

    def upload_template(
        self, *, title: str, signature: str, frames: Sequence[TemplateFrame], has_variables: bool
    ) -> TemplateUpload:
        raise NotImplementedError


def segments(
    text: str, single: int = 70, multi: int = 67, gsm_single: int = 160, gsm_multi: int = 153
) -> int:
    """How many billed parts ``text`` takes.  Any non-ASCII character makes it UCS-2 text
    (70 / 67 as Chinese vendors count); plain ASCII uses the GSM 7-bit limits (160 / 153)."""
    if not text:
        return 0
    if text.isascii():
        return 1 if len(text) <= gsm_single else -(-len(text) // gsm_multi)
    return 1 if len(text) <= single else -(-len(text) // multi)
