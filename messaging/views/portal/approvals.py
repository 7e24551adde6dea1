"""The approvers' pages: the campaigns awaiting approval, and the review of one — the message
as it will be sent, the counts, the cost, the sensitive-word check and the list — with the
approve and reject buttons (with a comment).  The rules are ``services.approval``; the
decisions ``campaign_commands.approve`` / ``reject``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import APPROVE

from ...models import Campaign
from ...services import approval, campaign_commands, compliance, send_count
from ...services.compose import full_text
from ...services.content_checks import (
    check_message,
    estimate_cost,
    price_per_segment,
    vendor_checks_content,
)
from ...services.live_preview import campaign_frames
from .common import clean_text, portal_view

COMMENT_MAX_CHARS = 2000


@portal_view("messaging.view_campaign")
def queue(request):
    """Campaigns awaiting approval, oldest first."""
    page = Paginator(approval.awaiting(), 25).get_page(request.GET.get("page"))
    return TemplateResponse(request, "portal/approvals/queue.html", {"page": page})


@portal_view("messaging.view_campaign")
def review(request, pk: int):
    campaign = get_object_or_404(
        Campaign.objects.select_related(
            "template", "vendor_account", "recipient_list", "created_by", "approved_by"
        ),
        pk=pk,
    )
    now = compliance.clock()
    preview = compliance.counted_preview(
        campaign, campaign.exclude_missing, now, limit=send_count.INLINE_ROWS
    )
    whole = send_count.whole(campaign, preview, exclude_missing=campaign.exclude_missing, now=now)
    preview = whole.preview
    first_text = (
        preview.samples[0][1]
        if preview.samples
        else full_text(campaign.template, campaign.vendor_account, campaign.template.body)
    )
    can_view_files = request.user.has_perms(
        ["messaging.view_campaign", "messaging.view_templatefile"]
    )
    context = {
        "campaign": campaign,
        "preview": preview,
        "whole": whole,
        "inline_rows": send_count.INLINE_ROWS,
        "verdict": check_message(first_text, campaign.template.body, campaign.vendor_account),
        "vendor_check": vendor_checks_content(campaign.vendor_account),
        "cost": estimate_cost(preview.total_segments, campaign.vendor_account),
        "price": price_per_segment(campaign.vendor_account),
        "rich": campaign.template.needs_vendor_approval,
        "frames": campaign_frames(
            campaign,
            (lambda item: reverse("portal:frame_file", args=[campaign.pk, item.pk]))
            if can_view_files
            else None,
        ),
        "required": approval.required(campaign),
        "refusal": approval.review_refusal(request.user, campaign),
        "fingerprint": approval.fingerprint(campaign),
        "comment_max": COMMENT_MAX_CHARS,
    }
    return TemplateResponse(request, "portal/approvals/review.html", context)


@portal_view("messaging.view_campaign", capability=APPROVE)
@require_POST
def decide(request, pk: int):
    campaign = get_object_or_404(
        Campaign.objects.select_related("template", "vendor_account"), pk=pk
    )
    comment = clean_text(request.POST.get("comment"), COMMENT_MAX_CHARS)
    seen = clean_text(request.POST.get("fingerprint"), 64) or None
    decision = request.POST.get("decision")
    try:
        if decision == "approve":
            campaign_commands.approve(campaign, user=request.user, comment=comment, seen=seen)
            messages.success(request, _("Approved."))
        elif decision == "reject":
            campaign_commands.reject(campaign, user=request.user, comment=comment, seen=seen)
            messages.success(request, _("Rejected."))
        else:
            messages.error(request, _("Choose to approve or to reject."))
            return redirect("portal:approval_review", pk=campaign.pk)
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
        return redirect("portal:approval_review", pk=campaign.pk)
    return redirect("portal:approvals")
