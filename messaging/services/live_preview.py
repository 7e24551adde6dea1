"""The composer's live panel: the form's message as its first recipients' handsets show it,
with the counts and the estimated cost.

The numbers come from the one preview of a send (``compose.preview_message``, which the
confirmation uses too) over the list's first ``LIVE_PREVIEW_ROWS`` recipients, extrapolated
beyond; the confirmation counts them all.  MMS / video / 5G: the panel shows the frames as
the handset will (text frames filled with the first recipient's values), not an SMS with
signature and suffix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from ..models import Campaign, RecipientList, Template, TemplateFile, VendorAccount
from ..vendors.registry import vendor
from .compose import (
    Encodability,
    FirstRow,
    compliance_errors,
    full_text,
    message_parts,
    placeholders,
    preview_message,
    signature_for,
)
from .content_checks import balance_covers, estimate_cost, price_per_segment
from .frames import handset_frames
from .templates import frame_texts, template_title

LIVE_PREVIEW_ROWS = 5000
"""The live preview counts this many recipients exactly and extrapolates beyond; the
confirmation counts them all."""
SAMPLES = 3

FileUrl = Callable[[TemplateFile], str]
"""Where a page shows a frame's file (an image's thumbnail)."""


@dataclass
class LivePreview:
    template: Template
    account: VendorAccount
    recipient_list: RecipientList
    samples: list[dict] = field(default_factory=list)
    recipients: int = 0
    counted: int = 0
    sendable: int = 0
    missing: int = 0
    unencodable: int = 0
    """Recipients whose text the account's request encoding cannot carry."""
    unencodable_examples: list[str] = field(default_factory=list)
    encoding: str = ""
    suppressed: int = 0
    segments: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: list[dict] = field(default_factory=list)
    """MMS / video / 5G: the frames as the first recipient's handset shows them."""
    title: str = ""
    """MMS / video / 5G: the subject the vendor gets with the template."""

    @property
    def rich(self) -> bool:
        """An MMS / video / 5G message: frames, one billed message each."""
        return self.template.needs_vendor_approval

    @property
    def extrapolated(self) -> bool:
        return self.counted < self.recipients

    @property
    def factor(self) -> float:
        return self.recipients / self.counted if self.counted else 0.0

    @property
    def est_sendable(self) -> int:
        return round(self.sendable * self.factor) if self.extrapolated else self.sendable

    @property
    def est_segments(self) -> int:
        return round(self.segments * self.factor) if self.extrapolated else self.segments

    @property
    def cost(self) -> Decimal:
        return estimate_cost(self.est_segments, self.account)

    @property
    def price(self) -> Decimal:
        return price_per_segment(self.account)

    @property
    def balance_covers(self) -> bool | None:
        return balance_covers(
            self.account.balance, self.account.balance_unit, self.est_segments, self.price
        )

    @property
    def signature(self) -> str:
        return signature_for(self.template, self.account)

    @property
    def suffix(self) -> str:
        return self.account.opt_out_suffix if self.template.is_marketing else ""

    @property
    def limits(self) -> tuple[int, int]:
        return vendor(self.account.vendor).capabilities.sms_segment_chars


def live_preview(
    template: Template,
    account: VendorAccount,
    recipient_list: RecipientList,
    *,
    frames_of: Template | None = None,
    file_url: FileUrl | None = None,
) -> LivePreview:
    """The preview panel's facts.  ``frames_of``: the saved template whose frames an MMS /
    video / 5G preview shows (``template`` itself when saved); ``file_url``: where an image
    frame's thumbnail is served (none: names and sizes only)."""
    live = LivePreview(template, account, recipient_list)
    live.recipients = recipient_list.recipients.count()
    live.errors = _errors(template, account)
    columns = set(recipient_list.columns or [])
    unknown = [name for name in placeholders(template.body) if name not in columns]
    if unknown and columns:
        live.warnings.append(
            _("Not a column of this list: %(names)s") % {"names": ", ".join(unknown)}
        )
    facts = preview_message(
        template,
        account,
        recipient_list,
        limit=LIVE_PREVIEW_ROWS,
        first=SAMPLES,
        sample_size=0,
        errors=live.errors,
    )
    live.counted = facts.recipients
    live.sendable, live.segments = facts.sendable, facts.total_segments
    live.suppressed, live.missing = facts.suppressed, facts.missing_count
    live.unencodable = facts.unencodable_count
    live.unencodable_examples = [
        f"{phone}: {''.join(misfits)}" for phone, misfits in facts.unencodable[:SAMPLES]
    ]
    live.encoding = facts.encoding or Encodability(account).label
    live.samples = [_sample(live, row) for row in facts.first]
    if not live.samples:
        text = full_text(template, account, template.body)
        parts = message_parts(template, text, account)
        live.samples.append(_sample(live, FirstRow("", text, parts, [], False)))
    if live.rich:
        if frames_of is None and template.pk:
            frames_of = template
        first = recipient_list.recipients.order_by("pk").values_list("variables", flat=True)
        _rich_preview(live, frames_of, first.first() or {}, file_url)
    return live


def _errors(template: Template, account: VendorAccount) -> list[str]:
    """Why the form's message could not be sent; an unsaved one is checked as an SMS (it has
    no registrations yet)."""
    if template.pk:
        return compliance_errors(template, account)
    unsaved = Template(body=template.body, signature=template.signature)
    unsaved.is_marketing = template.is_marketing
    errors = compliance_errors(unsaved, account)
    if template.needs_vendor_approval:
        errors.append(
            _(
                "Save the draft to add the frames, then have the template approved by "
                "the vendor before sending."
            )
        )
    return errors


def _rich_preview(
    live: LivePreview, frames_of: Template | None, values: dict, file_url: FileUrl | None
) -> None:
    """The frames as the handset shows them, and what the marketer should know about them."""
    if frames_of is None or frames_of.pk is None:
        return  # not saved yet: the errors say to save the draft first
    files = list(frames_of.files.order_by("frame", "order"))
    live.frames = handset_frames(files, values, file_url)
    capabilities = vendor(live.account.vendor).capabilities
    live.title = template_title(frames_of, capabilities.template_title_max_chars)
    if not files:
        live.warnings.append(
            _("No frame yet: add the texts, images, videos or sounds of the message below.")
        )
        return
    texts = frame_texts(files)
    carried = set(placeholders("\n".join(texts)))
    uncarried = [n for n in placeholders(live.template.body) if n not in carried]
    if uncarried:
        live.warnings.append(
            _(
                "No text frame holds %(names)s: the vendor's template would have no place for "
                "these values. Add a text frame with them."
            )
            % {"names": ", ".join(f"<{n}>" for n in uncarried)}
        )
    if live.suffix and not any(live.suffix in text for text in texts):
        live.warnings.append(
            _(
                "A marketing message should say how to opt out: the vendor sends only the "
                "frames, so put %(suffix)s in a text frame."
            )
            % {"suffix": live.suffix}
        )


def _sample(live: LivePreview, row: FirstRow) -> dict:
    """One message as the handset shows it, cut into signature, body and suffix."""
    signature, suffix, body = live.signature, live.suffix, row.text
    if signature and body.startswith(signature):
        body = body[len(signature) :]
    else:
        signature = ""
    if suffix and body.endswith(suffix):
        body = body[: -len(suffix)]
    else:
        suffix = ""
    return {
        "phone": row.phone,
        "text": row.text,
        "signature": signature,
        "body": body,
        "suffix": suffix,
        "chars": len(row.text),
        "parts": row.parts,
        "missing": row.missing,
        "suppressed": row.suppressed,
    }


def campaign_frames(campaign: Campaign, file_url: FileUrl | None = None) -> list[dict]:
    """An MMS / video / 5G campaign's frames filled with its first recipient's values (the
    confirmation's view of the handset); none for an SMS."""
    if not campaign.template.needs_vendor_approval:
        return []
    first = (
        campaign.recipient_list.recipients.order_by("pk")
        .values_list("variables", flat=True)
        .first()
    )
    return handset_frames(campaign.template.files.order_by("frame", "order"), first or {}, file_url)
