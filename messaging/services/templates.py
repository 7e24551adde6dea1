"""Registering MMS / video / 5G templates at a vendor for review.

The vendor reviews a template's frames before any campaign may use it; its verdict arrives
later (the ashx5g review push, applied by ``apply_template_reviews`` at the end of this module).

Everything that can be checked here is checked before the vendor is called, and said in our
words: the files' types and sizes (``content_checks.frame_rules``), empty files, text frames
that are not UTF-8.  The title is derived from the template's name so that it fits the
vendor's limit (ashx5g: "长度小于等于 15"), since a campaign's draft is named after the campaign
(up to 100 characters).

Variables: our ``<name>`` placeholders in text frames become the vendor's ``{var1}``,
``{var2}`` … (ashx5g 5.1 notes), numbered in the order of their first appearance across the
text frames (frame by frame, file by file).  A send passes each recipient's values in the
order of the template body's placeholders (``compose.placeholders``), so the body of a rich
template is kept equal to its text frames' texts (``body_from_frames``, which the composer
applies whenever the frames change) and a template whose body names its placeholders in
another order is not submitted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Template, TemplateFile, TemplateRegistration, VendorAccount
from ..vendors.base import TemplateFrame, TemplateReview, VendorError
from ..vendors.registry import vendor
from .compose import PLACEHOLDER, placeholder_name, placeholders
from .content_checks import FrameRules, frame_rules


class TemplateSubmitError(Exception):
    """The template could not be submitted; the message is for the person who tried."""


def submit_for_review(template: Template, account: VendorAccount) -> TemplateRegistration:
    """Upload the template's frames to the account's vendor and record the registration as
    pending with the vendor's template id.  A template already approved or under review is
    left alone."""
    capabilities = vendor(account.vendor).capabilities
    if not capabilities.template_upload:
        raise TemplateSubmitError(
            _("%(account)s takes no template uploads.") % {"account": account.name}
        )
    registration, _created = TemplateRegistration.objects.get_or_create(
        template=template, vendor_account=account
    )
    if registration.review_status in (
        TemplateRegistration.Review.PENDING,
        TemplateRegistration.Review.APPROVED,
    ):
        return registration
    files = list(template.files.order_by("frame", "order"))
    if not files:
        raise TemplateSubmitError(_("The template has no frames to submit."))
    frames, problems = read_frames(files, frame_rules(account), body=template.body)
    if problems:
        # Nothing was sent: the reason is ours, and the vendor's last answer (if any) stays.
        _record_reason(registration, " ".join(problems))
        raise TemplateSubmitError(" ".join(problems))
    try:
        upload = account.client().upload_template(
            title=template_title(template, capabilities.template_title_max_chars),
            signature=template.signature or account.signature,
            frames=frames,
            has_variables=bool(placeholders(template.body)),
        )
    except VendorError as exc:
        _record_reason(registration, str(exc), raw=str(exc.raw or ""))
        raise TemplateSubmitError(_vendor_error_message(exc)) from exc
    registration.vendor_template_id = upload.vendor_template_id
    registration.review_status = TemplateRegistration.Review.PENDING
    registration.review_reason = ""
    registration.reviewed_at = None
    registration.raw = upload.raw
    registration.save()
    return registration


# --------------------------------------------------------------------------- title


def title_length(text: str) -> int:
    """A title's length in UTF-16 code units: how the vendors' .NET gateways count a string
    (a Chinese character is 1, an emoji 2).  Never less than the characters' count, so a title
    that fits here fits however the vendor counts characters."""
    return len(text.encode("utf-16-le")) // 2


def template_title(template: Template, limit: int) -> str:
    """The title the vendor gets: the template's name with its white space collapsed, or, when
    that is longer than ``limit`` (0: no limit), its beginning followed by "#<template id>" so
    that templates whose long names begin alike stay apart."""
    name = " ".join(template.name.split())
    if not limit or (name and title_length(name) <= limit):
        return name or f"#{template.pk}"
    suffix = f"#{template.pk}"
    head = _cut(name, limit - title_length(suffix)).rstrip()
    return head + suffix if head else _cut(suffix, limit)


def _cut(text: str, units: int) -> str:
    """The longest beginning of ``text`` that takes at most ``units`` UTF-16 code units
    (never half of a character)."""
    taken = 0
    for index, char in enumerate(text):
        taken += title_length(char)
        if taken > units:
            return text[:index]
    return text


# --------------------------------------------------------------------------- frames


def read_frames(
    files: list[TemplateFile], rules: FrameRules, body: str | None = None
) -> tuple[list[TemplateFrame], list[str]]:
    """The frames to upload, and what is wrong with them in our words (empty when nothing).
    Frames and the files within a frame are numbered 1, 2, 3... in their order: the vendor
    reads the frame number as "how many frames" (ashx5g 5.1: "index 表示有多少帧").  Text
    frames go with their ``<name>`` placeholders as ``{var1}``, ``{var2}`` …; given the
    template's ``body``, its placeholders must be the same names in the same order (a send
    passes the values in the body's order)."""
    frames: list[TemplateFrame] = []
    problems: list[str] = []
    total = 0
    frame_numbers: dict[int, int] = {}
    orders: dict[int, int] = {}
    read: list[tuple[TemplateFile, str, bytes, str | None]] = []
    for file in files:
        name = file.file.name.rsplit("/", 1)[-1]
        try:
            with file.file.open("rb") as handle:
                data = handle.read()
        except OSError as exc:
            problems.append(_("%(name)s cannot be read: %(error)s") % {"name": name, "error": exc})
            continue
        read.append((file, name, data, _text_of(file, data)))
    texts = [(name, text) for _file, name, _data, text in read if text is not None]
    names = placeholders("\n".join(text for _name, text in texts))
    if names:
        problems += _variable_problems(names, texts, body)
    for file, name, data, text in read:
        if text is not None:
            data = vendor_text(text, names).encode("utf-8")
        total += len(data)
        problems += _file_problems(name, file.content_type, data, rules)
        frame = frame_numbers.setdefault(file.frame, len(frame_numbers) + 1)
        orders[frame] = orders.get(frame, 0) + 1
        frames.append(
            TemplateFrame(
                frame=frame,
                order=orders[frame],
                content_type=file.content_type,
                data=data,
                name=name,
            )
        )
    if rules.max_total_bytes and total > rules.max_total_bytes:
        problems.append(
            _("The template's files would exceed %(limit)s KB in all.")
            % {"limit": rules.max_total_bytes // 1024}
        )
    return frames, problems


# --------------------------------------------------------------------------- variables

VENDOR_VARIABLE = re.compile(r"\{var\d+\}")
"""The vendor's own placeholder (ashx5g 5.1 notes: "{var1},{var2},{var3}...")."""


def _text_of(file: TemplateFile, data: bytes) -> str | None:
    if file.content_type != "text/plain":
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None  # said by _file_problems


def frame_texts(files: Iterable[TemplateFile]) -> list[str]:
    """The texts of the text frames among ``files`` (in the files' order), as UTF-8 text;
    unreadable ones are left out (submission says why)."""
    texts = []
    for file in files:
        if file.content_type != "text/plain":
            continue
        try:
            with file.file.open("rb") as handle:
                text = _text_of(file, handle.read())
        except OSError:
            continue
        if text is not None:
            texts.append(text)
    return texts


def vendor_text(text: str, names: list[str]) -> str:
    """``text`` with each ``<name>`` (or ``<name|default>``) as the vendor's ``{varN}``, N
    being the name's place in ``names`` (the order of first appearance across the template's
    text frames)."""
    number = {name: index for index, name in enumerate(names, 1)}

    def variable(match) -> str:
        # <name|default> too: the default is applied by us, in the value a send passes.
        name = placeholder_name(match.group(1))
        return f"{{var{number[name]}}}" if name in number else match.group(0)

    return PLACEHOLDER.sub(variable, text)


def body_from_frames(template: Template) -> str | None:
    """The body a rich template must have: its text frames' texts, one after the other on
    their own lines, so that the body's placeholders — whose values a send passes, in the
    body's order — are the text frames' ones in the order the vendor numbers them.  None for
    an SMS template and for one without text frames (its body stays as written)."""
    if not template.needs_vendor_approval or template.pk is None:
        return None
    texts = frame_texts(template.files.order_by("frame", "order"))
    return "\n".join(texts) if texts else None


def keep_body_with_frames(template: Template) -> bool:
    """Make a rich template's body its text frames' texts (``body_from_frames``) and save it;
    True when it changed.  For templates whose frames may still change (not submitted)."""
    body = body_from_frames(template)
    if body is None or body == template.body:
        return False
    template.body = body
    template.save(update_fields=["body", "updated_at"])
    return True


def _variable_problems(
    names: list[str], texts: list[tuple[str, str]], body: str | None
) -> list[str]:
    problems = []
    for name, text in texts:
        if PLACEHOLDER.search(text) and VENDOR_VARIABLE.search(text):
            problems.append(
                _(
                    "%(name)s mixes <name> placeholders with the vendor's {var1} form: "
                    "use <name> placeholders only."
                )
                % {"name": name}
            )
    if body is not None and placeholders(body) != names:
        problems.append(
            _(
                "The text frames' placeholders (%(frames)s) differ from the message's "
                "(%(body)s): a send passes the values in the message's order, the vendor "
                "numbers them in the text frames' order. Make the message's placeholders "
                "the same, in the same order."
            )
            % {
                "frames": ", ".join(f"<{n}>" for n in names),
                "body": ", ".join(f"<{n}>" for n in placeholders(body)) or _("none"),
            }
        )
    return problems


def _file_problems(name: str, content_type: str, data: bytes, rules: FrameRules) -> list[str]:
    if content_type not in rules.content_types:
        return [
            _("%(name)s: this vendor accepts only %(types)s.")
            % {"name": name, "types": ", ".join(rules.extensions)}
        ]
    if not data:
        return [_("%(name)s is empty.") % {"name": name}]
    if rules.max_file_bytes and len(data) > rules.max_file_bytes:
        return [
            _("%(name)s is %(size)s KB; the limit is %(limit)s KB per file.")
            % {"name": name, "size": -(-len(data) // 1024), "limit": rules.max_file_bytes // 1024}
        ]
    if content_type == "text/plain":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return [
                _("%(name)s is not UTF-8 text: the vendor reads text frames as UTF-8.")
                % {"name": name}
            ]
    return []


# --------------------------------------------------------------------------- errors


def _vendor_error_message(exc: VendorError) -> str:
    """What an upload's error means, without blaming the vendor for what it never saw."""
    if not exc.retry_safe:
        return _("No clear answer from the vendor: it may have the template. %(error)s") % {
            "error": exc
        }
    if exc.kind in ("transient", "rate_limited"):
        return _("The vendor could not take the template now; nothing was submitted: %(error)s") % {
            "error": exc
        }
    if not exc.raw and not exc.code:
        # The adapter refused before sending: the vendor has said nothing.
        return _("The template cannot be submitted as it is; nothing was sent: %(error)s") % {
            "error": exc
        }
    return _("The vendor refused the template: %(error)s") % {"error": exc}


def _record_reason(registration: TemplateRegistration, reason: str, raw: str | None = None):
    fields = ["review_reason"]
    registration.review_reason = reason
    if raw is not None:
        registration.raw = raw[:10000]
        fields.append("raw")
    with transaction.atomic():
        registration.save(update_fields=fields)


# --------------------------------------------------------------------------- reviews
#
# The vendor's verdict on a registered template arrives later than its submission, in a push
# (the ashx5g review push) or a poll, and is recorded on the registration as it came.


def apply_template_reviews(account: VendorAccount, reviews: Sequence[TemplateReview]) -> int:
    """Record the vendor's review of templates registered on this account."""
    updated = 0
    for review in reviews:
        status = (
            TemplateRegistration.Review.PENDING
            if review.approved is None
            else TemplateRegistration.Review.APPROVED
            if review.approved
            else TemplateRegistration.Review.REJECTED
        )
        updated += TemplateRegistration.objects.filter(
            vendor_account=account, vendor_template_id=review.vendor_template_id
        ).update(
            review_status=status,
            review_reason=review.reason,
            reviewed_at=review.reviewed_at or timezone.now(),
            raw=review.raw,
        )
    return updated
