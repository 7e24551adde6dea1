"""A finished campaign's archive on the portal: the "Archive" button and the archive file."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ...models import Campaign
from ...services import archive as archives
from ..media import protected_file_response
from . import exports
from .common import portal_view

ARCHIVE_PERMISSION = "messaging.delete_campaign"
"""Whoever may delete a campaign may archive it (remove its messages, keep a file of them)."""


@portal_view("messaging.view_campaign", ARCHIVE_PERMISSION)
@require_POST
def archive(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        archives.request_archive(campaign.pk, language=translation.get_language())
    except archives.ArchiveError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _(
                "Archiving: the messages are being written to a file kept with the campaign, "
                "then removed. The counters and the exports stay."
            ),
        )
    return redirect("portal:campaign", pk=campaign.pk)


@portal_view("messaging.view_message")
def archive_file(request, pk: int):
    """The archive as stored: the messages export, CSV compressed with gzip."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if not archives.is_archived(campaign):
        return redirect("portal:campaign", pk=campaign.pk)
    exports.audit_export("messages", "csv.gz", campaign, archived=True)
    return protected_file_response(
        campaign.archive_file,
        archives.ARCHIVE_CONTENT_TYPE,
        attachment=True,
        filename=f"campaign-{campaign.pk}-messages.csv.gz",
    )
