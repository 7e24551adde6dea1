"""The campaign page's archive notice and button (``{% load archive_tags %}``)."""

from __future__ import annotations

from django import template
from django.urls import reverse

from ..services import archive

register = template.Library()

ARCHIVE_PERMISSION = "messaging.delete_campaign"


@register.inclusion_tag("portal/campaigns/archive.html", takes_context=True)
def campaign_archive(context, campaign, part: str):
    """``part`` is "notice" (what the archive holds, or how far it is) or "button"."""
    request = context.get("request")
    user = getattr(request, "user", None)
    finished = campaign.status in archive.FINISHED
    allowed = bool(user and user.has_perm(ARCHIVE_PERMISSION))
    return {
        "part": part,
        "campaign": campaign,
        "archived": archive.is_archived(campaign),
        "in_progress": campaign.archive_state in archive.IN_PROGRESS,
        "show_button": allowed and finished and campaign.archive_state != "archived",
        "refusal": archive.refusal(campaign) if allowed and finished else "",
        "file_url": reverse("portal:archive_file", args=[campaign.pk]),
        "archive_url": reverse("portal:archive", args=[campaign.pk]),
        "csrf_token": context.get("csrf_token"),
    }
