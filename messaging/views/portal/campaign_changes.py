"""Changing a campaign once made: a scheduled one taken back to draft to be edited, or
re-timed; any one duplicated into a new draft.  Status changes are
``services.campaign_commands``'; the new draft is ``services.drafts``'."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import COMPOSE, SEND

from ...forms.templates import RetimeForm
from ...models import Campaign
from ...services import campaign_commands, drafts
from .common import portal_view


@portal_view("messaging.change_campaign", capability=COMPOSE)
@require_POST
def edit_scheduled(request, pk: int):
    """Back to draft, then the composer: it is sent only once checked and confirmed again."""
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        campaign_commands.back_to_draft(campaign.pk)
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
        return redirect("portal:campaign", pk=campaign.pk)
    messages.info(
        request,
        _(
            "The campaign is a draft again and will not be sent until you check and confirm "
            "it again."
        ),
    )
    return redirect("portal:compose_edit", pk=campaign.pk)


@portal_view("messaging.view_campaign", capability=SEND)
@require_POST
def retime(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    form = RetimeForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("portal:campaign", pk=campaign.pk)
    when = form.cleaned_data["scheduled_at"]
    try:
        campaign_commands.reschedule(campaign.pk, when)
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Scheduled for %(when)s.")
            % {"when": timezone.localtime(when).strftime("%Y-%m-%d %H:%M")},
        )
    return redirect("portal:campaign", pk=campaign.pk)


@portal_view("messaging.add_campaign", capability=COMPOSE)
@require_POST
def duplicate(request, pk: int):
    campaign = get_object_or_404(
        Campaign.objects.select_related("template", "recipient_list", "vendor_account"), pk=pk
    )
    copy = drafts.duplicate(campaign, user=request.user)
    messages.success(request, _("A new draft with the same message, list and account."))
    return redirect("portal:compose_edit", pk=copy.pk)
