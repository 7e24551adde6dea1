"""Campaign list and campaign page: live progress, delivery charts, replies, operations."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Max, Min, Q, Sum
from django.http import HttpResponseNotModified, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import SEND

from ...exports import xlsx_refusal
from ...models import (
    Campaign,
    CampaignCodeCount,
    CampaignTimeline,
    CampaignUnresolved,
    InboundMessage,
)
from ...services import campaign_commands, compliance, wording
from ...services.campaigns import COUNTER_FIELDS
from ...services.content_checks import estimate_cost
from ...services.reports import status_meaning, vendor_words
from ...statuses import Status
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
        "stats_etag": stats_etag(campaign),
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
    """The campaign's messages and replies as spreadsheets, by format (its messages as CSV
    only when they are too many for an XLSX written while the person waits)."""
    exports: dict[str, dict[str, str]] = {"messages": {}, "replies": {}}
    for fmt in ("xlsx", "csv"):
        if fmt == "csv" or not xlsx_refusal(campaign.total_count):
            exports["messages"][fmt] = reverse("portal:export_messages", args=[campaign.pk, fmt])
        replies = reverse("portal:export_replies", args=[fmt])
        exports["replies"][fmt] = f"{replies}?campaign={campaign.pk}"
    return exports


@portal_view("messaging.view_campaign")
def campaign_stats_json(request, pk: int):
    """The page's 2-second refresh: one query for the campaign row when nothing changed
    (304), else the row and the kept stats — never the campaign's messages."""
    campaign = get_object_or_404(Campaign.objects.select_related("vendor_account"), pk=pk)
    etag = stats_etag(campaign)
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
    else:
        response = JsonResponse(campaign_stats(campaign))
    response["ETag"] = etag
    # Each refresh asks again (the answer is the marketer's own, and changes by the second).
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["Cookie", "Accept-Language"])
    return response


def stats_etag(campaign: Campaign) -> str:
    """What ``campaign_stats`` answers depends on, from the campaign row alone: the version
    the counters and the kept stats move (``stats_version``), the counters and the state
    themselves (written elsewhere too: the start, the state commands), whether it is live
    (it stops being live as time passes), the language and time zone of the answer."""
    parts = [
        campaign.stats_version,
        *(getattr(campaign, field) for field in (*COUNTER_FIELDS, "total_count", "segment_count")),
        campaign.status,
        campaign.status_reason,
        campaign.resume_at,
        timezone.localdate(),  # "until 08:00 tomorrow" says "today" once the day turns
        campaign.finished_at,
        getattr(campaign, "archived_at", None),
        campaign.vendor_account.report_window_hours,
        is_live(campaign),
        translation.get_language(),
        timezone.get_current_timezone_name(),
    ]
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    return f'"{campaign.pk}-{campaign.stats_version}-{digest}"'


def is_live(campaign: Campaign) -> bool:
    """Still changing by itself: active, or completed with reports still awaited within the
    account's report window."""
    window = timedelta(hours=campaign.vendor_account.report_window_hours)
    return bool(
        campaign.status in ACTIVE_STATES
        or (
            campaign.status == Campaign.State.COMPLETED
            and (awaiting_count(campaign) or campaign.unknown_count)
            and campaign.finished_at
            and timezone.now() - campaign.finished_at < window
        )
    )


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
    live = is_live(campaign)
    return {
        "id": campaign.pk,
        "status": campaign.status,
        "status_label": status_label(campaign),
        "status_reason": wording.shown(campaign.status_reason),
        "paused_by_vendor": paused_by_vendor(campaign),
        "live": live,
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
        # Which of the page's buttons apply now: its refresh hides the others (a draft's
        # "Edit" and "Check and send" once it is sent, a schedule's "Review" once it starts).
        "actions": {
            "edit": campaign.status == Campaign.State.DRAFT,
            "confirm": campaign.status == Campaign.State.DRAFT,
            "review": campaign.status == Campaign.State.SCHEDULED,
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
    if waiting := compliance.paused_text(campaign):
        return waiting  # "Paused until 08:00 tomorrow (outside the send window)"
    return str(campaign.get_status_display())


def paused_by_vendor(campaign: Campaign) -> bool:
    """Paused by the pipeline because the vendor refused for the account (credentials,
    balance, sender number, signature) or kept refusing: an administrator must act."""
    return (
        campaign.status == Campaign.State.PAUSED
        and campaign.pause_cause == Campaign.PauseCause.VENDOR
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
    # The kept groups (``services.campaign_stats``), never the campaign's messages.
    groups = list(
        CampaignUnresolved.objects.filter(
            campaign=campaign, status__in=UNRESOLVED, messages__gt=0
        ).values_list("status", "reason", "messages", "parts", "last_submitted_at")
    )
    groups.sort(key=lambda g: (-g[2], g[0], g[1]))
    reasons = [
        {"status": status, "reason": _reason_text(reason), "n": n}
        for status, reason, n, _parts, _last in groups[:TOP_REASONS]
    ]
    if len(groups) > TOP_REASONS:
        for status, count in ((Status.UNKNOWN, unknown), (Status.NO_REPORT, no_report)):
            rest = count - sum(r["n"] for r in reasons if r["status"] == status)
            if rest > 0:
                reasons.append({"status": status, "reason": _("Other reasons"), "n": rest})
    summary["reasons"] = reasons
    summary["segments"] = sum(parts for *_, parts, _last in groups)
    last = max((g[4] for g in groups if g[0] == Status.UNKNOWN and g[4]), default=None)
    if unknown and last:
        until = last + timedelta(hours=summary["window_hours"])
        summary["wait_until"] = until.isoformat()
        summary["wait_until_text"] = timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
    summary["can_resend"] = campaign.status in RESENDABLE_STATES
    return summary


def _reason_text(error: str) -> str:
    """A stored reason for the marketer: a bare HTTP status (the transport's words) says whose
    it is."""
    error = wording.shown(error).strip()
    if not error:
        return _("The vendor gave no reason.")
    if match := BARE_HTTP_STATUS.fullmatch(error):
        return _("HTTP %(code)s from the vendor") % {"code": match[1]}
    return error[:REASON_CHARS]


def status_codes(campaign: Campaign) -> list[dict]:
    """Vendor status codes of final messages (reports and refusals) by count, with their
    words: from the kept counts (``services.campaign_stats``), a few rows per code."""
    rows = list(
        CampaignCodeCount.objects.filter(campaign=campaign, messages__gt=0)
        .order_by()
        .values("code")
        .annotate(n=Sum("messages"), description=Max("description"), status=Max("status"))
        .order_by("-n", "code")
    )
    codes = [
        {
            "code": row["code"],
            "n": row["n"],
            # The vendor's words as it said them, our meaning in the UI language only.
            "words": vendor_words(row["description"] or ""),
            "description": status_meaning(row["description"] or "", row["status"]),
            "status": row["status"],
            "status_label": str(Status(row["status"]).label) if row["status"] else "",
        }
        for row in rows[: TOP_CODES + 1]
    ]
    if len(codes) > TOP_CODES:
        rest = sum(row["n"] for row in rows[TOP_CODES:])
        other = {"code": _("other"), "n": rest, "words": "", "description": ""}
        codes = [*codes[:TOP_CODES], other]
    return codes


def delivery_timeline(campaign: Campaign) -> dict:
    """Delivered and failed messages by the time their final status came, in minutes, hours or
    days depending on the span, from the kept buckets (``services.campaign_stats``): at most
    the minutes of six hours, else the hours.  "No report" is not a failure (the vendor may
    have delivered it) and skipped messages never left: neither is drawn."""
    minutes = CampaignTimeline.objects.filter(campaign=campaign, minutes=1).exclude(
        delivered=0, failed=0
    )
    span = minutes.order_by().aggregate(first=Min("start"), last=Max("start"))
    if span["first"] is None:
        return {"labels": [], "delivered": [], "failed": [], "unit": "minute"}
    length = span["last"] - span["first"]
    tz = timezone.get_current_timezone()
    if length > timedelta(days=3):
        unit, fmt, step = "day", "%m-%d", 60
    elif length > timedelta(hours=6):
        unit, fmt, step = "hour", "%m-%d %H:00", 60
    else:
        unit, fmt, step = "minute", "%H:%M", 1
    rows = (
        CampaignTimeline.objects.filter(campaign=campaign, minutes=step)
        .exclude(delivered=0, failed=0)
        .order_by("start")
        .values_list("start", "delivered", "failed")
    )
    buckets: dict[str, list[int]] = {}
    for start, delivered, failed in rows:
        counts = buckets.setdefault(timezone.localtime(start, tz).strftime(fmt), [0, 0])
        counts[0] += delivered
        counts[1] += failed
    return {
        "labels": list(buckets),
        "delivered": [counts[0] for counts in buckets.values()],
        "failed": [counts[1] for counts in buckets.values()],
        "unit": unit,
    }


# --------------------------------------------------------------------------- operations


def _operation(request, pk: int, action):
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        action(request, campaign)
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
    return redirect("portal:campaign", pk=campaign.pk)


@portal_view("messaging.view_campaign", capability=SEND)
@require_POST
def pause(request, pk: int):
    def act(request, campaign):
        if campaign_commands.pause_by_hand(campaign.pk, request.user):
            messages.success(request, campaign_commands.pause_summary(campaign.pk))
        else:
            messages.error(request, _("Only a sending campaign can be paused."))

    return _operation(request, pk, act)


@portal_view("messaging.view_campaign", capability=SEND)
@require_POST
def resume(request, pk: int):
    def act(request, campaign):
        campaign_commands.resume(campaign.pk)
        messages.success(request, _("Resumed."))

    return _operation(request, pk, act)


@portal_view("messaging.view_campaign", capability=SEND)
@require_POST
def cancel(request, pk: int):
    def act(request, campaign):
        withdrawn = campaign_commands.cancel_by_hand(campaign.pk, request.user)
        messages.success(request, _("Cancelled; %(n)d messages were not sent.") % {"n": withdrawn})

    return _operation(request, pk, act)


@portal_view("messaging.view_campaign", capability=SEND)
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
