"""The saved templates (the library) as marketers keep them: listed with their category, when
they were last used and by how many campaigns; written, edited, filed and deleted.

A campaign made from a saved template uses it as it is, or a copy of it once its message
changes (``services.drafts``).  Editing a saved template never changes a campaign: the
campaigns that use it get their own copy of it first (``drafts.make_own``), so a scheduled
or approved campaign sends what was checked, and a sent one keeps what it sent.  A template
submitted to a vendor keeps its frames and text (its registration is what the vendor sends);
only its name and category change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from ..models import Campaign, Template, TemplateFile, VendorAccount
from . import drafts, frames
from .frames import frames_fixed
from .templates import keep_body_with_frames

CONTENT_FIELDS = drafts.MESSAGE_FIELDS
"""What a send says: changing one of these is changing the message."""


class TemplateError(Exception):
    """The template cannot be changed or deleted so; the message is for the marketer."""


def _campaign_count(**where) -> Coalesce:
    rows = (
        Campaign.objects.filter(**where)
        .order_by()
        .values(*where)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(rows[:1]), Value(0))


def listed(query: str = "", category: str = "") -> QuerySet[Template]:
    """The saved templates matching ``query`` (name or text) and ``category``, each with
    ``used_by`` (campaigns using it as it is, or a copy made from it) and ``direct_uses``,
    the last used first."""
    templates = Template.objects.library()
    if query:
        templates = templates.filter(Q(name__icontains=query) | Q(body__icontains=query))
    if category:
        templates = templates.filter(category=category)
    return templates.annotate(
        direct_uses=_campaign_count(template=OuterRef("pk")),
        copy_uses=_campaign_count(template__source=OuterRef("pk")),
        used_by=F("direct_uses") + F("copy_uses"),
    ).order_by(F("last_used_at").desc(nulls_last=True), "-updated_at", "-pk")


def categories() -> list[str]:
    """The categories saved templates are filed under, in order."""
    return list(
        Template.objects.library()
        .exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def used_by(template: Template) -> int:
    return Campaign.objects.filter(Q(template=template) | Q(template__source=template)).count()


@transaction.atomic
def save_template(data: Mapping, *, user, template: Template | None = None) -> Template:
    """Save the template form (name, category and the message fields of ``drafts``): a new
    saved template, or ``template`` changed.  The campaigns using ``template`` keep their
    message (each gets its own copy first); a template submitted to a vendor only takes a
    new name and category (``TemplateError`` when its message would change)."""
    fields = drafts.message_fields(data)
    if template is None:
        template = Template(created_by=user)
    fixed = template.pk is not None and frames_fixed(template)
    if template.pk is not None and not drafts.says(template, fields):
        if fixed:
            raise TemplateError(
                _(
                    "This template was submitted to a vendor: its message can no longer "
                    "change. Make a copy and change that."
                )
            )
        detach_campaigns(template, user=user)
    template.name = data["name"]
    template.category = (data.get("category") or "").strip()
    for name, value in fields.items():
        setattr(template, name, value)
    template.full_clean()
    template.save()
    if template.needs_vendor_approval and not fixed:
        keep_body_with_frames(template)
    return template


def detach_campaigns(template: Template, *, user=None) -> int:
    """Every campaign using ``template`` gets its own copy of it (frames included) before it
    changes; returns how many."""
    moved = 0
    for campaign in Campaign.objects.filter(template=template).select_related("template"):
        drafts.make_own(campaign, user=user)
        moved += 1
    return moved


@transaction.atomic
def copy_template(template: Template, *, user) -> Template:
    """A new saved template with ``template``'s message and frames (not its registrations:
    the copy is reviewed anew)."""
    copy = Template.objects.create(
        name=(_("%(name)s (copy)") % {"name": template.name})[:100],
        category=template.category,
        created_by=user,
        **{name: getattr(template, name) for name in CONTENT_FIELDS},
    )
    frames.copy_files(template, copy)
    return copy


def add_file(template: Template, account: VendorAccount, frame: int, upload, *, user=None):
    """Add a file (or ``frames.text_upload``) to a frame of a saved template, its campaigns
    keeping their message; ``frames.FrameError`` when refused (checked against ``account``'s
    vendor)."""
    frames.check_file(template, account, upload)
    with transaction.atomic():
        detach_campaigns(template, user=user)
        return frames.add_file(template, account, frame, upload)


def remove_file(template: Template, item: TemplateFile, *, user=None) -> bool:
    """Remove a file of a saved template's frames; False when its frames are fixed."""
    if frames_fixed(template):
        return False
    with transaction.atomic():
        detach_campaigns(template, user=user)
        return frames.remove_file(template, item)


def delete_template(template: Template) -> None:
    """Delete a saved template no campaign uses (campaigns made from a copy keep the copy),
    with its files."""
    if Campaign.objects.filter(template=template).exists():
        raise TemplateError(_("Campaigns use this template: it cannot be deleted."))
    names = [(item.file.storage, item.file.name) for item in template.files.all() if item.file]
    with transaction.atomic():
        template.delete()

        def remove_files():
            for storage, name in names:
                with contextlib.suppress(OSError):
                    storage.delete(name)

        transaction.on_commit(remove_files)
