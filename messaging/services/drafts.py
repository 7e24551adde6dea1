"""A campaign's message while it is composed: saving a draft campaign and its template.

A campaign sends one ``Template``.  It is either

* a saved template of the library, used as it is (an MMS / video / 5G template approved by a
  vendor keeps its registration that way), or
* the campaign's own message: a template with ``is_draft`` set, written in the composer for
  that one campaign.  It is not in the template library (``Template.objects.library()``), no
  other campaign uses it, and it is the only template the composer changes.

Starting from a library template and changing anything — the text, the signature, a frame —
copies it, frames included, into the campaign's own message first: the library template is
never changed by the composer.  The campaign's own message stays with the campaign when it is
sent (its messages were rendered from it) and goes when the campaign is deleted
(``discard_with_campaign``, connected to the campaign's deletion in ``apps``).

Nothing reaches the library unasked: "save as a template" (the composer's choice) makes the
campaign's message a saved template, named and filed under a category, which the campaign
then uses as it is.  A copy remembers the saved template it was made from (``source``) and
each use stamps the template's ``last_used_at``: the template list's "used by" and "last used".

Every change of a campaign's message goes through ``save_draft`` (and the frame functions
below); ``duplicate`` makes a new draft with the same message, list and account.

Saving a draft or changing its frames is recorded in the audit trail, and voids an approval
that no longer holds for what the campaign now sends (``campaign_commands.void_if_changed``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import Action, record

from ..models import Campaign, Template, TemplateFile
from . import campaign_commands, frames
from .frames import copy_files, frames_fixed
from .templates import keep_body_with_frames

MESSAGE_FIELDS = ("kind", "body", "signature", "is_marketing")
"""What the composer's form says about the message itself."""


def library_templates():
    """The saved templates a marketer may start a campaign from, newest first."""
    return Template.objects.library().order_by("-updated_at")


def source_of(template: Template | None) -> Template | None:
    """The saved template a copy of ``template`` is made from: itself when saved, else the
    one its own copy came from."""
    if template is None:
        return None
    return template.source if template.is_draft else template


def mark_used(template: Template | None) -> None:
    """A campaign was made or saved from this saved template (its "last used")."""
    if template is not None and template.pk and not template.is_draft:
        Template.objects.filter(pk=template.pk).update(last_used_at=timezone.now())


def message_fields(data: Mapping) -> dict:
    """The message the composer's form describes (partial data is fine)."""
    return {
        "kind": data.get("kind") or Template.Kind.SMS,
        "body": data.get("body") or "",
        "signature": data.get("signature") or "",
        "is_marketing": bool(data.get("is_marketing")),
    }


def says(template: Template | None, fields: Mapping) -> bool:
    """``template`` is the message ``fields`` describe."""
    return template is not None and all(getattr(template, k) == v for k, v in fields.items())


def own_message(campaign: Campaign | None) -> Template | None:
    """The campaign's own message, when it has one (not a library template)."""
    if campaign is None or campaign.pk is None:
        return None
    template = campaign.template
    return template if template.is_draft else None


def message_for_preview(data: Mapping, campaign: Campaign | None = None) -> Template:
    """The template the composer's form describes, for the live preview: the chosen library
    template or the edited campaign's template when the form leaves it as it is (saved: its
    registrations count), else an unsaved one."""
    fields = message_fields(data)
    for template in (data.get("template"), campaign.template if campaign else None):
        if says(template, fields):
            return template
    return Template(**fields)


@transaction.atomic
def save_draft(data: Mapping, *, user, campaign: Campaign | None = None) -> Campaign:
    """Save the composer's form (``ComposeForm.cleaned_data``) as a draft campaign: a new one,
    or ``campaign`` (a draft) changed.

    Its message is the chosen library template when the form leaves it as it is; else the
    campaign's own message, changed in place, or made now (a copy of the chosen library
    template or of the campaign's template, frames included) when the campaign has none yet
    or its own was submitted to a vendor.

    ``save_as_template`` in ``data`` (the composer's choice) makes the message a saved
    template named ``template_name`` (the campaign's name when empty) under ``category``."""
    chosen: Template | None = data.get("template")
    fields = message_fields(data)
    current = campaign.template if campaign is not None else None
    own = own_message(campaign)
    if says(chosen, fields):
        template = chosen
    elif own is not None and not frames_fixed(own):
        template = own
        for name, value in fields.items():
            setattr(template, name, value)
        template.full_clean()
        template.save()
    else:
        source = chosen or current
        template = Template(
            name=(data.get("template_name") or data["name"])[:100],
            created_by=user,
            is_draft=True,
            source=source_of(source),
            **fields,
        )
        template.full_clean()
        template.save()
        if source is not None:
            copy_files(source, template)
    if template.is_draft and not frames_fixed(template):
        # MMS / video / 5G: the body follows the text frames (their placeholders' order is
        # the order a send passes the values in).
        keep_body_with_frames(template)
    if data.get("save_as_template") and template.is_draft:
        template = _save_to_library(template, data)
    mark_used(chosen)
    created = campaign is None
    if campaign is None:
        campaign = Campaign(created_by=user)
    campaign.name = data["name"]
    campaign.template = template
    campaign.recipient_list = data["recipient_list"]
    campaign.vendor_account = data["vendor_account"]
    campaign.scheduled_at = data.get("scheduled_at")
    campaign.send_window_start = data.get("send_window_start")
    campaign.send_window_end = data.get("send_window_end")
    campaign.save()
    if own is not None and own.pk != template.pk:
        discard(own)
    record(Action.COMPOSED, campaign, details={"created": created})
    if not created:
        campaign_commands.void_if_changed(campaign)
    return campaign


def _save_to_library(template: Template, data: Mapping) -> Template:
    """The campaign's own message becomes a saved template (the campaign keeps using it, as
    it would a template chosen from the library; a vendor registration stays with it)."""
    template.is_draft = False
    template.name = (data.get("template_name") or data["name"])[:100]
    template.category = (data.get("category") or "").strip()[:50]
    template.last_used_at = timezone.now()  # by this campaign
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def duplicate(campaign: Campaign, *, user) -> Campaign:
    """A new draft with ``campaign``'s message, recipient list and account, whatever became
    of ``campaign`` (sent, cancelled, archived).  A saved template is used as it is; the
    campaign's own message is copied, frames included, unless it was submitted to a vendor:
    then the copy shares it (it never changes any more, and its registration is what the
    vendor sends)."""
    template = campaign.template
    if template.is_draft and not frames_fixed(template):
        original = template
        template = Template.objects.create(
            name=original.name,
            created_by=user,
            is_draft=True,
            source=original.source,
            **{name: getattr(original, name) for name in MESSAGE_FIELDS},
        )
        copy_files(original, template)
    mark_used(source_of(template))
    copy = Campaign.objects.create(
        name=(_("%(name)s (copy)") % {"name": campaign.name})[:200],
        template=template,
        recipient_list=campaign.recipient_list,
        vendor_account=campaign.vendor_account,
        exclude_missing=campaign.exclude_missing,
        created_by=user,
    )
    record(Action.COMPOSED, copy, details={"created": True, "copy_of": campaign.pk})
    return copy


@transaction.atomic
def make_own(campaign: Campaign, *, user=None) -> tuple[Template, dict[int, TemplateFile]]:
    """The campaign's own message, made now as a copy of the library template it uses when it
    has none (before its frames change); and the copies of the template's files by the
    originals' ids (empty when nothing was copied)."""
    own = own_message(campaign)
    if own is not None:
        return own, {}
    source = campaign.template
    template = Template.objects.create(
        name=source.name,
        created_by=user,
        is_draft=True,
        source=source_of(source),
        **{name: getattr(source, name) for name in MESSAGE_FIELDS},
    )
    copies = copy_files(source, template)
    campaign.template = template
    campaign.save(update_fields=["template"])
    return template, copies


def add_frame_file(campaign: Campaign, frame: int, upload, *, user=None) -> TemplateFile:
    """Add a file (or ``frames.text_upload``) to a frame of the draft campaign's message, its
    own one (made now when it has none); ``frames.FrameError`` when refused."""
    frames.check_file(campaign.template, campaign.vendor_account, upload)
    with transaction.atomic():
        template, _copies = make_own(campaign, user=user)
        added = frames.add_file(template, campaign.vendor_account, frame, upload)
        record(Action.COMPOSED, campaign, details={"frame": frame, "file_added": added.pk})
        campaign_commands.void_if_changed(campaign)
        return added


def remove_frame_file(campaign: Campaign, item: TemplateFile, *, user=None) -> bool:
    """Remove a file of the draft campaign's frames (from its own message, made now when it
    has none); False when its frames are fixed."""
    if frames.frames_fixed(campaign.template):
        return False
    with transaction.atomic():
        template, copies = make_own(campaign, user=user)
        removed = frames.remove_file(template, copies.get(item.pk, item))
        if removed:
            record(Action.COMPOSED, campaign, details={"file_removed": item.pk})
            campaign_commands.void_if_changed(campaign)
        return removed


def discard(template: Template) -> bool:
    """Delete a campaign's own message that no campaign uses any more, with its files; one
    that was submitted to a vendor is kept (out of the library) with its registrations.
    True when deleted."""
    if not template.is_draft or template.campaigns.exists() or frames_fixed(template):
        return False
    names = [(item.file.storage, item.file.name) for item in template.files.all() if item.file]
    template.delete()

    def remove_files():
        for storage, name in names:
            with contextlib.suppress(OSError):
                storage.delete(name)

    transaction.on_commit(remove_files)
    return True


def discard_with_campaign(sender, instance: Campaign, **kwargs) -> None:
    """A deleted campaign's own message goes with it (a ``post_delete`` receiver)."""
    template = Template.objects.filter(pk=instance.template_id, is_draft=True).first()
    if template is not None:
        discard(template)
