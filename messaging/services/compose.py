"""Rendering templates and checking a campaign before it is sent."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models.fields.json import KeyTextTransform
from django.utils.translation import gettext as _

from ..models import Campaign, Recipient, RecipientList, Suppression, Template, VendorAccount
from ..vendors.base import segments
from ..vendors.registry import vendor
from . import wording
from .content_checks import balance_covers

PLACEHOLDER = re.compile(r"<([^<>\s|]{1,40}(?:\|[^<>\s]{0,40})?)>")
"""A ``<name>`` placeholder, or ``<name|default>``: the group is the whole token (split it with
``placeholder_name`` / ``parse_placeholder``).  A recipient with no value for ``name`` gets the
default (``<姓名|顾客>`` → 顾客; ``<姓名|>`` → nothing) and is never "missing" it.  A default
is the name's, wherever it appears in the message: ``<姓名|顾客>…<姓名>`` shows 顾客 twice
(a send passes one value per name, and a vendor's template has one ``{varN}`` per name)."""


def parse_placeholder(token: str) -> tuple[str, str | None]:
    """A placeholder's token (``PLACEHOLDER``'s group) as ``(name, default or None)``."""
    name, bar, default = token.partition("|")
    return name, (default if bar else None)


def placeholder_name(token: str) -> str:
    return token.partition("|")[0]


def placeholders(body: str) -> list[str]:
    """The ``<var>`` names in a template body, in order of first use."""
    return list(dict.fromkeys(placeholder_name(token) for token in PLACEHOLDER.findall(body)))


def placeholder_defaults(body: str) -> dict[str, str]:
    """Each name's default (the first one the body gives it); names without one are absent."""
    defaults: dict[str, str] = {}
    for token in PLACEHOLDER.findall(body):
        name, default = parse_placeholder(token)
        if default is not None:
            defaults.setdefault(name, default)
    return defaults


def conflicting_defaults(body: str) -> list[str]:
    """The names the body gives two different defaults (a message must give one)."""
    seen: dict[str, set[str]] = {}
    for token in PLACEHOLDER.findall(body):
        name, default = parse_placeholder(token)
        if default is not None:
            seen.setdefault(name, set()).add(default)
    return [name for name, given in seen.items() if len(given) > 1]


def effective_value(value: object, default: str | None) -> str | None:
    """What a placeholder shows: the value, else its default; None when it has neither (the
    recipient is "missing" it).  A blank value counts as none."""
    text = "" if value is None else str(value)
    if text.strip():
        return text
    return default


def render(body: str, variables: Mapping[str, object]) -> tuple[str, list[str]]:
    """Fill ``<var>`` placeholders; returns the text and the names that had no value (and no
    default)."""
    missing: list[str] = []
    defaults = placeholder_defaults(body)

    def fill(match: re.Match) -> str:
        name = placeholder_name(match.group(1))
        value = effective_value(variables.get(name), defaults.get(name))
        if value is None:
            missing.append(name)
            return f"<{name}>"
        return value

    return PLACEHOLDER.sub(fill, body), missing


def template_values(body: str, variables: Mapping[str, object]) -> tuple[str, ...]:
    """The values a vendor's template send passes for one recipient, in the body's
    placeholders' order (defaults applied; empty when none)."""
    defaults = placeholder_defaults(body)
    values = [variables.get(name) for name in placeholders(body)]
    shown = [
        effective_value(value, defaults.get(name))
        for name, value in zip(placeholders(body), values, strict=True)
    ]
    return tuple(
        ("" if value is None else str(value)) if text is None else text
        for value, text in zip(values, shown, strict=True)
    )


def signature_for(template: Template, account: VendorAccount) -> str:
    return template.signature or account.signature


def full_text(template: Template, account: VendorAccount, rendered: str) -> str:
    """What the handset shows: signature first (as Chinese carriers require), the message,
    then the opt-out suffix for marketing messages."""
    suffix = account.opt_out_suffix if template.is_marketing else ""
    text = rendered
    if suffix and suffix not in text:
        text = f"{text}{suffix}"
    return f"{signature_for(template, account)}{text}"


def segment_count(text: str, account: VendorAccount) -> int:
    capabilities = vendor(account.vendor).capabilities
    return segments(text, *capabilities.sms_segment_chars, *capabilities.ascii_segment_chars)


def billed_as_one_message(template: Template) -> bool:
    """An MMS / video / 5G template message is billed as one message, whatever its length:
    the vendor sends the approved template's frames with the recipient's values, not a text
    cut into 70 / 67-character parts (ashx5g: a template send's report says "row 计费条数" 1;
    its balance counts 条).  An SMS is billed per part (``segment_count``)."""
    return template.needs_vendor_approval


def message_parts(template: Template, text: str, account: VendorAccount) -> int:
    """The billed parts of one message of ``template`` whose full text is ``text``."""
    return 1 if billed_as_one_message(template) else segment_count(text, account)


def request_encoding(account: VendorAccount) -> str:
    """The encoding this account's send requests carry the message text in (a Python codec
    name: "gb2312", "gbk", "utf-8"), the one rule behind every "can the vendor carry this
    text" check.  The vendor's client decides per account where it can (smscn's ``encode``
    option: ``SmscnClient.request_encoding``); otherwise the vendor's declared
    ``Capabilities.request_encoding``."""
    client = account.client()
    declared = getattr(client, "request_encoding", client.capabilities.request_encoding)
    return codecs.lookup(declared).name


class Encodability:
    """Which characters of a message an account's request encoding cannot carry.  Only
    multi-byte Chinese encodings can lack a character; every one of them carries ASCII."""

    def __init__(self, account: VendorAccount):
        self.encoding = request_encoding(account)
        self.label = self.encoding.upper()
        """How the marketer reads it: "GB2312", "GBK"."""
        self.checks = not self.encoding.startswith("utf-")
        self._fits: dict[str, bool] = {}

    def fits(self, char: str) -> bool:
        fits = self._fits.get(char)
        if fits is None:
            try:
                char.encode(self.encoding)
                fits = True
            except UnicodeEncodeError:
                fits = False
            self._fits[char] = fits
        return fits

    def misfits(self, text: str) -> list[str]:
        """The characters of ``text`` the encoding cannot carry, each once, in order."""
        if not self.checks or text.isascii():
            return []
        try:
            text.encode(self.encoding)
            return []
        except UnicodeEncodeError:
            return [char for char in dict.fromkeys(text) if not self.fits(char)]

    def reason(self, misfits: Sequence[str]) -> str:
        """A skipped message's reason, in both languages (``wording``)."""
        return wording.both(
            lambda: (
                _("The vendor's %(encoding)s cannot carry: %(chars)s")
                % {"encoding": self.label, "chars": ", ".join(misfits)}
            )
        )

    def refusal(self, count: int, phone: str, misfits: Sequence[str]) -> str:
        """Why a start that must stop on such recipients refuses."""
        return _(
            "%(n)d recipients have characters the vendor's %(encoding)s cannot carry "
            "(first: %(phone)s: %(chars)s)."
        ) % {"n": count, "encoding": self.label, "phone": phone, "chars": ", ".join(misfits)}


class MessageRenderer:
    """One template rendered for one account many times (a campaign start renders millions):
    the body is split into literals and placeholders once, the signature, opt-out suffix and
    the vendor's segment limits are looked up once.  Same results as ``render`` +
    ``full_text`` + ``message_parts``."""

    def __init__(self, template: Template, account: VendorAccount):
        self.names = placeholders(template.body)
        defaults = placeholder_defaults(template.body)
        self.defaults = [defaults.get(name) for name in self.names]
        # split() with one group alternates literal, token, literal, …, literal.
        pieces = PLACEHOLDER.split(template.body)
        self._literals = pieces[0::2]
        position = {name: i for i, name in enumerate(self.names)}
        self._slots = [position[placeholder_name(token)] for token in pieces[1::2]]
        self._signature = signature_for(template, account)
        self._suffix = account.opt_out_suffix if template.is_marketing else ""
        capabilities = vendor(account.vendor).capabilities
        self._limits = (*capabilities.sms_segment_chars, *capabilities.ascii_segment_chars)
        self._one_part = billed_as_one_message(template)

    def render(self, values: Sequence[object]) -> tuple[str, int, list[str]]:
        """``values`` in ``names`` order → (full text, parts, names without a value or a
        default)."""
        texts = self.effective(values)
        missing = [name for name, text in zip(self.names, texts, strict=True) if text is None]
        out = [self._literals[0]]
        for slot, literal in zip(self._slots, self._literals[1:], strict=True):
            text = texts[slot]
            out.append(f"<{self.names[slot]}>" if text is None else text)
            out.append(literal)
        text = "".join(out)
        if self._suffix and self._suffix not in text:
            text += self._suffix
        text = self._signature + text
        parts = 1 if self._one_part else segments(text, *self._limits)
        return text, parts, missing

    def effective(self, values: Sequence[object]) -> list[str | None]:
        """``values`` as the placeholders show them (``effective_value``)."""
        return [
            effective_value(value, default)
            for value, default in zip(values, self.defaults, strict=True)
        ]

    def template_values(self, values: Sequence[object]) -> list[str]:
        """What a vendor's template send passes: each value, its default when blank (and a
        default is given), else the value as read ("" for none)."""
        return [
            ("" if value is None else str(value)) if text is None else text
            for value, text in zip(values, self.effective(values), strict=True)
        ]


def compliance_errors(template: Template, account: VendorAccount) -> list[str]:
    """Why this template may not be sent through this account, in words for the marketer."""
    errors = []
    if not signature_for(template, account):
        errors.append(
            _(
                "The message has no signature: set one on the template or the vendor "
                "account (e.g. 【某某商城】)."
            )
        )
    if template.is_marketing and not account.opt_out_suffix:
        errors.append(
            _(
                "A marketing message must carry an opt-out suffix such as 回T退订: "
                "set it on the vendor account."
            )
        )
    if template.needs_vendor_approval:
        approved = (
            template.registrations.filter(vendor_account=account, review_status="approved")
            .exclude(vendor_template_id="")
            .exists()
        )
        if not approved:
            errors.append(
                _("This %(kind)s template is not approved by %(account)s yet.")
                % {"kind": template.get_kind_display(), "account": account.name}
            )
    if not account.is_active:
        errors.append(
            _("The vendor account %(account)s is not active.") % {"account": account.name}
        )
    return errors


MISSING_LISTED = 200
PROGRESS_EVERY = 10_000
"""A preview reads its recipients this many at a time, and says how far it is after each."""


@dataclass
class Preview:
    recipients: int = 0
    """The recipients read (all of the list, unless the preview was given a ``limit``)."""
    suppressed: int = 0
    capped: int = 0
    """Recipients (not suppressed) over a frequency cap (``services.compliance``)."""
    missing: list[tuple[str, list[str]]] = field(default_factory=list)
    """(phone, missing variable names) for the first recipients lacking a value."""
    missing_count: int = 0
    """How many recipients lack a value (``missing`` lists the first ``MISSING_LISTED``)."""
    unencodable: list[tuple[str, list[str]]] = field(default_factory=list)
    """(phone, characters) for the first recipients (with every value) whose text has
    characters the account's request encoding cannot carry."""
    unencodable_count: int = 0
    """How many such recipients (``unencodable`` lists the first ``MISSING_LISTED``)."""
    withheld_segments: int = 0
    """The parts of the recipients ``exclude_missing`` left out (missing a value, or text the
    encoding cannot carry): what ``total_segments`` would add without it."""
    encoding: str = ""
    """The account's request encoding as the marketer reads it ("GB2312"); empty when it
    carries every character (UTF-8)."""
    samples: list[tuple[str, str, int]] = field(default_factory=list)
    """(phone, full text, parts) for the first recipients."""
    first: list[FirstRow] = field(default_factory=list)
    """The first recipients' messages whatever becomes of them (the composer's samples)."""
    sendable: int = 0
    total_segments: int = 0
    balance: Decimal | None = None
    balance_unit: str = ""
    price_per_part: Decimal = Decimal(0)
    """The account's price per billed part (yuan), shown with the balance."""
    errors: list[str] = field(default_factory=list)

    @property
    def balance_covers(self) -> bool | None:
        """False when the balance is known not to pay for this send (a blocking warning the
        marketer must confirm); None when it cannot be told."""
        return balance_covers(
            self.balance, self.balance_unit, self.total_segments, self.price_per_part
        )


@dataclass
class FirstRow:
    """One of the first recipients' messages, as the handset would show it."""

    phone: str
    text: str
    parts: int
    missing: list[str]
    suppressed: bool


def preview_campaign(
    campaign: Campaign,
    *,
    exclude_missing: bool = True,
    sample_size: int = 5,
    capped: Collection[str] = (),
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Preview:
    """What starting this campaign would send, computed without writing anything."""
    return preview_message(
        campaign.template,
        campaign.vendor_account,
        campaign.recipient_list,
        exclude_missing=exclude_missing,
        sample_size=sample_size,
        capped=capped,
        limit=limit,
        progress=progress,
    )


def preview_message(
    template: Template,
    account: VendorAccount,
    recipient_list: RecipientList,
    *,
    exclude_missing: bool = True,
    sample_size: int = 5,
    limit: int | None = None,
    first: int = 0,
    errors: list[str] | None = None,
    capped: Collection[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Preview:
    """What sending ``template`` to ``recipient_list`` through ``account`` would send,
    computed without writing anything: the one preview of the confirmation, the admin's send
    page and the composer's live panel.  Each message is rendered as the start renders it
    (``MessageRenderer`` on the values read as text).

    A recipient counts under the first of: suppressed, over a frequency cap (``capped``: the
    phones ``services.compliance`` found so), missing a value, text the account's
    request encoding cannot carry.  ``exclude_missing`` (the marketer's one choice for both
    of the latter) leaves those out of ``sendable``, as the start would skip them.
    ``limit``: read only the first recipients (the live panel extrapolates); ``first``: keep
    this many of the first recipients' messages whatever becomes of them; ``errors``: the
    compliance errors when the caller has them (``compliance_errors`` otherwise);
    ``progress``: called with the recipients read so far, every ``PROGRESS_EVERY``."""
    encodability = Encodability(account)
    preview = Preview(
        errors=compliance_errors(template, account) if errors is None else errors,
        balance=account.balance,
        balance_unit=account.balance_unit,
        price_per_part=account.price_per_part,
        encoding=encodability.label if encodability.checks else "",
    )
    recipients = Recipient.objects.filter(recipient_list=recipient_list)
    suppressed = (
        set(
            Suppression.objects.active()
            .filter(phone__in=recipients.values("phone"))
            .values_list("phone", flat=True)
        )
        if template.is_marketing
        else set()
    )
    renderer = MessageRenderer(template, account)
    # Phones are unique within a list (a constraint), so there are no duplicates to find
    # here; the import reports those.  Only the placeholders' values are read, as text.
    values = {f"v{i}": KeyTextTransform(name, "variables") for i, name in enumerate(renderer.names)}
    rows = recipients.order_by("pk").annotate(**values).values_list("phone", *values)
    if limit is not None:
        rows = rows[:limit]
    for phone, *variables in rows.iterator(chunk_size=PROGRESS_EVERY):
        preview.recipients += 1
        if progress is not None and preview.recipients % PROGRESS_EVERY == 0:
            progress(preview.recipients)
        is_suppressed = phone in suppressed
        if is_suppressed and len(preview.first) >= first:
            preview.suppressed += 1
            continue
        text, parts, missing = renderer.render(variables)
        if len(preview.first) < first:
            preview.first.append(FirstRow(phone, text, parts, missing, is_suppressed))
        if is_suppressed:
            preview.suppressed += 1
            continue
        if phone in capped:
            preview.capped += 1
            continue
        if missing:
            if len(preview.missing) < MISSING_LISTED:
                preview.missing.append((phone, missing))
            preview.missing_count += 1
            if exclude_missing:
                preview.withheld_segments += parts
                continue
        elif misfits := encodability.misfits(text):
            if len(preview.unencodable) < MISSING_LISTED:
                preview.unencodable.append((phone, misfits))
            preview.unencodable_count += 1
            if exclude_missing:
                preview.withheld_segments += parts
                continue
        preview.sendable += 1
        preview.total_segments += parts
        if len(preview.samples) < sample_size:
            preview.samples.append((phone, text, parts))
    return preview
