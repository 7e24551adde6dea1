"""The portal's front page: open alerts, vendor balances, recent campaigns, unread replies,
unmatched reports; and the alerts page with the administrators' test button."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import MARKETERS, has_role

from ...models import Alert, Campaign, DeliveryReport, PortalSettings, VendorAccount
from ...services import alerts, inbox
from ...services.vendor_accounts import probe_summary, refresh_balance
from ...vendors.registry import vendor
from .common import is_administrator, portal_view, safe_next

RECENT_CAMPAIGNS = 8
RECENT_REPLIES = 6
RECENT_ALERTS = 10


def home(request):
    """``/``: administrators to the admin, everyone else to the portal (which asks to log in)."""
    if is_administrator(request.user) and not has_role(request.user, MARKETERS):
        return redirect("admin:index")
    return redirect("portal:dashboard")


def account_rows() -> list[dict]:
    """What a marketer may see of each active account: name, vendor, signature, balance.
    Never a connection detail or credential."""
    rows = []
    default = PortalSettings.load().low_balance_threshold
    for account in VendorAccount.objects.filter(is_active=True).order_by("name"):
        threshold = alerts.balance_threshold(account, default)
        low = alerts.is_low(account, default)
        rows.append(
            {
                "pk": account.pk,
                "name": account.name,
                "vendor": account.get_vendor_display(),
                "signature": account.signature,
                "balance": account.balance,
                "unit": account.balance_unit,
                "checked_at": account.balance_checked_at,
                "threshold": threshold,
                "low": low,
                "has_error": bool(account.last_error),
                "no_balance_query": not vendor(account.vendor).capabilities.balance_query,
                "price_per_part": account.price_per_part,
            }
        )
    return rows


@portal_view("messaging.view_campaign")
def dashboard(request):
    campaigns = Campaign.objects.select_related("vendor_account", "recipient_list").order_by(
        "-created_at"
    )[:RECENT_CAMPAIGNS]
    unread = inbox.inbox_queryset(request.user, {"read": "false"})
    unmatched = DeliveryReport.objects.filter(message__isnull=True)
    unmatched_by_account = (
        unmatched.order_by()
        .values("vendor_account__name")
        .annotate(n=Count("id"), last=Max("received_at"))
        .order_by("-n")
    )
    counts = Campaign.objects.order_by().values("status").annotate(n=Count("id"))
    by_state = {row["status"]: row["n"] for row in counts}
    context = {
        "alerts": list(alerts.open_alerts().exclude(kind=alerts.Kind.TEST)[:RECENT_ALERTS]),
        "accounts": account_rows(),
        "campaigns": campaigns,
        "unread_count": unread.count(),
        "unread": unread[:RECENT_REPLIES],
        "unmatched_count": unmatched.count(),
        "unmatched_by_account": unmatched_by_account,
        "sending_count": by_state.get(Campaign.State.SENDING, 0)
        + by_state.get(Campaign.State.STARTING, 0),
        "scheduled_count": by_state.get(Campaign.State.SCHEDULED, 0),
        "draft_count": by_state.get(Campaign.State.DRAFT, 0),
    }
    return TemplateResponse(request, "portal/dashboard.html", context)


@portal_view("messaging.view_vendoraccount")
@require_POST
def refresh_account_balance(request, pk: int):
    account = get_object_or_404(VendorAccount, pk=pk, is_active=True)
    check = refresh_balance(account)
    if check.ok:
        messages.success(
            request,
            probe_summary(account, check)
            or _("Balance of %(account)s updated.") % {"account": account.name},
        )
    else:
        messages.error(
            request,
            _("%(account)s: %(error)s") % {"account": account.name, "error": check.error},
        )
    return redirect(safe_next(request, reverse("portal:dashboard")))


@portal_view()
def alert_list(request):
    """Open alerts, the latest resolved ones, and (for administrators) the test button with
    what the last test alert's delivery did."""
    resolved = Alert.objects.filter(resolved_at__isnull=False).exclude(kind=alerts.Kind.TEST)
    context = {
        "open": alerts.open_alerts().exclude(kind=alerts.Kind.TEST),
        "resolved": resolved.order_by("-resolved_at")[:30],
        "can_test": is_administrator(request.user),
        "test": alerts.latest_test() if is_administrator(request.user) else None,
        "recipients": len(alerts.recipients()),
    }
    return TemplateResponse(request, "portal/alerts/index.html", context)


@portal_view()
@require_POST
def test_alert(request):
    if not is_administrator(request.user):
        raise PermissionDenied
    alerts.send_test_alert(request.user)
    messages.success(
        request,
        _("A test alert is on its way; what its delivery did shows below in a few seconds."),
    )
    return redirect("portal:alerts")
