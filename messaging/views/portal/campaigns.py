"""Campaign list and campaign page: live progress, delivery charts, replies, operations."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ...models import Campaign, InboundMessage, Message
from ...services import campaign_commands
from ...services.content_checks import estimate_cost
from ...services.reports import localized_description
from ...statuses import FINAL_STATUSES, Status
from .common import clean_text, portal_view

ACTIVE_STATES = (
    Campaign.State.SCHEDULED,
    Campaign.State.STARTING,
    Campaign.State.SENDING,
    Campaign.State.PAUSED,
)
CANCELLABLE_STATES = (
    Campaign.State.DRAFT,
    Campaign.State.SCHEDULED,
    Campaign.State.STARTING,
    Campaign.State.SENDING,
    Campaign.State.PAUSED,
)
RESENDABLE_STATES = (Campaign.State.COMPLETED, Campaign.State.PAUSED)
UNRESOLVED = (Status.UNKNOWN, Status.NO_REPORT)
DRAWN_FINAL_STATUSES = sorted(FINAL_STATUSES - {Status.SKIPPED})
TOP_CODES = 12
TOP_REASONS = 8
REASON_CHARS = 300
BARE_HTTP_STATUS = re.compile(r"HTTP (\d{3})")


@portal_view("messaging.view_campaign")
def campaign_list(request):
    campaigns = Campaign.objects.select_related("vendor_account", "recipient_list", "template")
    state = request.GET.get("status", "")
    if state in Campaign.State.values:
        campaigns = campaigns.filter(status=state)
    query = clean_text(request.GET.get("q", ""))
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
    stats = campaign_stats(campaign)
    context = {
        "campaign": campaign,
        "stats": stats,
        "stats_url": reverse("portal:campaign_stats", args=[campaign.pk]),
        "replies": replies,
        "reply_count": InboundMessage.objects.filter(campaign=campaign).count(),
        "exports": _exports(campaign),
        "inbox_url": reverse("portal:inbox") + f"?campaign={campaign.pk}",
        "chart_texts": {
            "delivered": _("Delivered"),
            "failed": _("Failed"),
            "messages": _("Messages"),
        },
    }
    return TemplateResponse(request, "portal/campaigns/detail.html", context)


def _exports(campaign: Campaign) -> dict[str, dict[str, str]]:
    """The campaign's messages and replies as spreadsheets, by format."""
    exports: dict[str, dict[str, str]] = {"messages": {}, "replies": {}}
    for fmt in ("xlsx", "csv"):
        exports["messages"][fmt] = reverse("portal:export_messages", args=[campaign.pk, fmt])
        replies = reverse("portal:export_replies", args=[fmt])
        exports["replies"][fmt] = f"{replies}?campaign={campaign.pk}"
    return exports


@portal_view("messaging.view_campaign")
def campaign_stats_json(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.select_related("vendor_account"), pk=pk)
    return JsonResponse(campaign_stats(campaign))


def campaign_stats(campaign: Campaign) -> dict:
    """Counters, funnel, status-code breakdown, delivery over time and the messages whose
    outcome is unresolved, for the page and its 2-second refresh.

    Every figure is one the pipeline keeps: the counters (``services.campaigns``) put each
    message in exactly one of pending, skipped, awaiting its report (``submitted``),
    delivered, failed, unknown (the vendor may or may not have it) and no report (its
    report window passed).  A confirmed campaign is ``starting`` at once, which refreshes by
    itself."""
    account = campaign.vendor_account
    awaiting = awaiting_count(campaign)
    unresolved = unresolved_summary(campaign)
    rate = campaign.delivery_rate
    window = timedelta(hours=account.report_window_hours)
    live = campaign.status in ACTIVE_STATES or (
        campaign.status == Campaign.State.COMPLETED
        and (awaiting or campaign.unknown_count)
        and campaign.finished_at
        and timezone.now() - campaign.finished_at < window
    )
    return {
        "id": campaign.pk,
        "status": campaign.status,
        "status_label": status_label(campaign),
        "status_reason": campaign.status_reason,
        "paused_by_vendor": paused_by_vendor(campaign),
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
            "no_report": campaign.no_report_count,
            "awaiting": awaiting,
            "segments": campaign.segment_count,
            "unresolved_segments": unresolved["segments"],
        },
        "delivery_rate": None if rate is None else round(rate * 100, 1),
        "cost": str(estimate_cost(campaign.segment_count, account)),
        "unresolved_cost": str(estimate_cost(unresolved["segments"], account)),
        "unresolved": unresolved,
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
            "cancel": campaign.status in CANCELLABLE_STATES,
            "resend": unresolved["can_resend"],
        },
    }


def awaiting_count(campaign: Campaign) -> int:
    """Messages the vendor accepted whose report has not come (``submitted``): every message
    is counted in exactly one of the counters below or is one of these."""
    return max(
        0,
        campaign.total_count
        - campaign.pending_count
        - campaign.skipped_count
        - campaign.unknown_count
        - campaign.no_report_count
        - campaign.delivered_count
        - campaign.failed_count,
    )


def status_label(campaign: Campaign) -> str:
    """The campaign's state in words; ``starting`` says what is going on."""
    if campaign.status == Campaign.State.STARTING:
        return _("Starting: preparing messages")
    return str(campaign.get_status_display())


def _pause_template_parts() -> set[tuple[str, str]]:
    """The text around the vendor's words in ``campaign_commands.pause_for_account``'s
    reason, in every language (the reason is written in the language of the worker)."""
    parts = set()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            before, _sep, after = _("Paused: %(reason)s").partition("%(reason)s")
        if before or after:
            parts.add((before, after))
    return parts


def paused_by_vendor(campaign: Campaign) -> bool:
    """Paused by the pipeline because the vendor refused for the account (credentials,
    balance, sender number, signature) or kept refusing: an administrator must act."""
    reason = campaign.status_reason or ""
    return campaign.status == Campaign.State.PAUSED and any(
        reason.startswith(before) and reason.endswith(after) and len(reason) > len(before + after)
        for before, after in _pause_template_parts()
    )


def unresolved_summary(campaign: Campaign) -> dict:
    """Messages whose outcome is unresolved: ``unknown`` (the request left, the vendor's
    answer was lost or unreadable: it may or may not have them) and ``no report`` (unknown
    until the account's report window passed).  Why (their errors grouped, the largest
    groups first), how many parts may or may not be billed, until when reports may still
    resolve them, and whether they may be sent again.  No query when there are none."""
    unknown, no_report = campaign.unknown_count, campaign.no_report_count
    summary = {
        "unknown": unknown,
        "no_report": no_report,
        "reasons": [],
        "segments": 0,
        "window_hours": campaign.vendor_account.report_window_hours,
        "wait_until": None,
        "wait_until_text": "",
        "can_resend": False,
    }
    if not unknown and not no_report:
        return summary
    rows = Message.objects.filter(campaign=campaign, status__in=UNRESOLVED).order_by()
    totals = rows.aggregate(
        parts=Sum("segments"), last=Max("submitted_at", filter=Q(status=Status.UNKNOWN))
    )
    rows = list(
        rows.values("status", "error")
        .annotate(n=Count("id"))
        .order_by("-n", "status")[: TOP_REASONS + 1]
    )
    reasons = [
        {"status": row["status"], "reason": _reason_text(row["error"]), "n": row["n"]}
        for row in rows[:TOP_REASONS]
    ]
    if len(rows) > TOP_REASONS:
        for status, count in ((Status.UNKNOWN, unknown), (Status.NO_REPORT, no_report)):
            rest = count - sum(r["n"] for r in reasons if r["status"] == status)
            if rest > 0:
                reasons.append({"status": status, "reason": _("Other reasons"), "n": rest})
    summary["reasons"] = reasons
    summary["segments"] = totals["parts"] or 0
    if unknown and totals["last"]:
        until = totals["last"] + timedelta(hours=summary["window_hours"])
        summary["wait_until"] = until.isoformat()
        summary["wait_until_text"] = timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
    summary["can_resend"] = campaign.status in RESENDABLE_STATES
    return summary


def _reason_text(error: str) -> str:
    """A stored reason for the marketer: a bare HTTP status (the transport's words) says whose
    it is."""
    error = (error or "").strip()
    if not error:
        return _("The vendor gave no reason.")
    if match := BARE_HTTP_STATUS.fullmatch(error):
        return _("HTTP %(code)s from the vendor") % {"code": match[1]}
    return error[:REASON_CHARS]


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
            "description": localized_description(row["description"] or ""),
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
    days depending on the span.  "No report" is not a failure (the vendor may have delivered
    it) and skipped messages never left: neither is drawn."""
    finals = Message.objects.filter(
        campaign=campaign, final_at__isnull=False, status__in=DRAWN_FINAL_STATUSES
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
