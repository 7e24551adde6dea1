"""Campaign list and campaign page: live progress, delivery charts, replies, operations."""

from __future__ import annotations

import math
from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ...models import Campaign, InboundMessage, Message
from ...services import campaign_commands
from ...services.content_checks import estimate_cost
from ...statuses import Status
from .common import optional_url, portal_view

ACTIVE_STATES = (Campaign.State.SCHEDULED, Campaign.State.SENDING, Campaign.State.PAUSED)
TOP_CODES = 12


@portal_view("messaging.view_campaign")
def campaign_list(request):
    campaigns = Campaign.objects.select_related("vendor_account", "recipient_list", "template")
    state = request.GET.get("status", "")
    if state in Campaign.State.values:
        campaigns = campaigns.filter(status=state)
    query = request.GET.get("q", "").strip()
    if query:
        campaigns = campaigns.filter(
            Q(name__icontains=query) | Q(recipient_list__name__icontains=query)
        )
    page = Paginator(campaigns.order_by("-created_at"), 25).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "portal/campaigns/list.html",
        {"page": page, "states": Campaign.State.choices, "state": state, "q": query},
    )


@portal_view("messaging.view_campaign")
def campaign_detail(request, pk: int):
    campaign = get_object_or_404(
        Campaign.objects.select_related("template", "vendor_account", "recipient_list"), pk=pk
    )
    replies = (
        InboundMessage.objects.filter(campaign=campaign)
        .select_related("vendor_account")
        .order_by("-received_at")[:20]
    )
    stats = campaign_stats(campaign, just_started=bool(request.GET.get("sent")))
    context = {
        "campaign": campaign,
        "stats": stats,
        "stats_url": reverse("portal:campaign_stats", args=[campaign.pk])
        + ("?sent=1" if request.GET.get("sent") else ""),
        "replies": replies,
        "reply_count": InboundMessage.objects.filter(campaign=campaign).count(),
        "exports": _exports(campaign),
        "inbox_url": optional_url("portal:inbox") + f"?campaign={campaign.pk}",
        "chart_texts": {
            "delivered": _("Delivered"),
            "failed": _("Failed"),
            "messages": _("Messages"),
        },
    }
    return TemplateResponse(request, "portal/campaigns/detail.html", context)


def _exports(campaign: Campaign) -> dict[str, dict[str, str]]:
    """Spreadsheet exports of the campaign's messages and replies by format (``importing``
    app), when installed."""
    exports: dict[str, dict[str, str]] = {"messages": {}, "replies": {}}
    for fmt in ("xlsx", "csv"):
        if url := optional_url("importing:export_messages", campaign.pk, fmt):
            exports["messages"][fmt] = url
        if url := optional_url("importing:export_replies", fmt):
            exports["replies"][fmt] = f"{url}?campaign={campaign.pk}"
    return exports


@portal_view("messaging.view_campaign")
def campaign_stats_json(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.select_related("vendor_account"), pk=pk)
    return JsonResponse(campaign_stats(campaign, just_started=bool(request.GET.get("sent"))))


def campaign_stats(campaign: Campaign, *, just_started: bool = False) -> dict:
    """Counters, funnel, status-code breakdown and delivery over time, for the page and its
    2-second refresh.  ``just_started``: the marketer has just confirmed, so a draft is about
    to be started by the task queue; keep refreshing."""
    awaiting = Message.objects.filter(
        campaign=campaign, status__in=[Status.SUBMITTED, Status.UNKNOWN]
    ).count()
    rate = campaign.delivery_rate
    live = (
        campaign.status in ACTIVE_STATES
        or (just_started and campaign.status == Campaign.State.DRAFT)
        or (
            campaign.status == Campaign.State.COMPLETED
            and awaiting
            and campaign.finished_at
            and timezone.now() - campaign.finished_at < timedelta(days=3)
        )
    )
    return {
        "id": campaign.pk,
        "status": campaign.status,
        "status_label": str(campaign.get_status_display()),
        "status_reason": campaign.status_reason,
        "live": bool(live),
        "progress": math.floor(campaign.progress * 1000) / 10,
        "counters": {
            "total": campaign.total_count,
            "pending": campaign.pending_count,
            "skipped": campaign.skipped_count,
            "submitted": campaign.submitted_count,
            "delivered": campaign.delivered_count,
            "failed": campaign.failed_count,
            "unknown": campaign.unknown_count,
            "awaiting": awaiting,
            "segments": campaign.segment_count,
        },
        "delivery_rate": None if rate is None else round(rate * 100, 1),
        "cost": str(estimate_cost(campaign.segment_count, campaign.vendor_account)),
        "funnel": {
            "labels": [_("Messages"), _("Submitted"), _("Delivered")],
            "values": [
                campaign.total_count,
                campaign.submitted_count,
                campaign.delivered_count,
            ],
        },
        "codes": status_codes(campaign),
        "timeline": delivery_timeline(campaign),
        "actions": {
            "pause": campaign.status == Campaign.State.SENDING,
            "resume": campaign.status == Campaign.State.PAUSED,
            "cancel": campaign.status
            in (
                Campaign.State.DRAFT,
                Campaign.State.SCHEDULED,
                Campaign.State.SENDING,
                Campaign.State.PAUSED,
            ),
        },
    }


def status_codes(campaign: Campaign) -> list[dict]:
    """Vendor status codes by count (reports and refusals), with their words."""
    rows = (
        Message.objects.filter(campaign=campaign)
        .exclude(vendor_status_code="")
        .order_by()
        .values("vendor_status_code")
        .annotate(
            n=Count("id"),
            description=Max("vendor_status_description"),
            status=Max("status"),
        )
        .order_by("-n")
    )
    codes = [
        {
            "code": row["vendor_status_code"],
            "n": row["n"],
            "description": row["description"] or "",
            "status": row["status"],
            "status_label": str(Status(row["status"]).label) if row["status"] else "",
        }
        for row in rows[: TOP_CODES + 1]
    ]
    if len(codes) > TOP_CODES:
        rest = sum(row["n"] for row in rows[TOP_CODES:])
        codes = [*codes[:TOP_CODES], {"code": _("other"), "n": rest, "description": ""}]
    return codes


def delivery_timeline(campaign: Campaign) -> dict:
    """Delivered and failed messages by the time their final status came, in minutes, hours or
    days depending on the span."""
    finals = Message.objects.filter(campaign=campaign, final_at__isnull=False).exclude(
        status=Status.SKIPPED
    )
    span = finals.order_by().aggregate(first=Min("final_at"), last=Max("final_at"))
    if span["first"] is None:
        return {"labels": [], "delivered": [], "failed": [], "unit": "minute"}
    length = span["last"] - span["first"]
    if length > timedelta(days=3):
        trunc, unit, fmt = TruncDay, "day", "%m-%d"
    elif length > timedelta(hours=6):
        trunc, unit, fmt = TruncHour, "hour", "%m-%d %H:00"
    else:
        trunc, unit, fmt = TruncMinute, "minute", "%H:%M"
    tz = timezone.get_current_timezone()
    rows = (
        finals.order_by()
        .annotate(bucket=trunc("final_at", tzinfo=tz))
        .values("bucket")
        .annotate(
            delivered=Count("id", filter=Q(status=Status.DELIVERED)),
            failed=Count("id", filter=~Q(status=Status.DELIVERED)),
        )
        .order_by("bucket")
    )
    labels, delivered, failed = [], [], []
    for row in rows:
        labels.append(timezone.localtime(row["bucket"], tz).strftime(fmt))
        delivered.append(row["delivered"])
        failed.append(row["failed"])
    return {"labels": labels, "delivered": delivered, "failed": failed, "unit": unit}


# --------------------------------------------------------------------------- operations


def _operation(request, pk: int, action):
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        action(request, campaign)
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
    return redirect("portal:campaign", pk=campaign.pk)


@portal_view("messaging.change_campaign")
@require_POST
def pause(request, pk: int):
    def act(request, campaign):
        if campaign_commands.pause(campaign.pk, _("Paused by %(user)s") % {"user": request.user}):
            messages.success(request, campaign_commands.pause_summary(campaign.pk))
        else:
            messages.error(request, _("Only a sending campaign can be paused."))

    return _operation(request, pk, act)


@portal_view("messaging.change_campaign")
@require_POST
def resume(request, pk: int):
    def act(request, campaign):
        campaign_commands.resume(campaign.pk)
        messages.success(request, _("Resumed."))

    return _operation(request, pk, act)


@portal_view("messaging.change_campaign")
@require_POST
def cancel(request, pk: int):
    def act(request, campaign):
        withdrawn = campaign_commands.cancel(
            campaign.pk, _("Cancelled by %(user)s") % {"user": request.user}
        )
        messages.success(request, _("Cancelled; %(n)d messages were not sent.") % {"n": withdrawn})

    return _operation(request, pk, act)


@portal_view("messaging.change_campaign")
@require_POST
def resend_unresolved(request, pk: int):
    def act(request, campaign):
        if request.POST.get("accept_duplicates") != "1":
            messages.error(
                request,
                _("Confirm that some phones may receive the message twice."),
            )
            return
        n = campaign_commands.resend_unresolved(campaign.pk, by=str(request.user))
        messages.success(request, _("%(n)d unresolved messages are being sent again.") % {"n": n})

    return _operation(request, pk, act)
