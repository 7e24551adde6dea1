"""The reply inbox: filters, links to campaigns, opt-outs marked, mark as read.

The queries and the read marks are ``messaging.services.inbox``'s; this module only reads the
filters from the page and renders."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ...models import Campaign, VendorAccount
from ...services import inbox as inbox_service
from .common import portal_view, safe_next

PAGE_SIZE = 30
FILTER_KEYS = ("q", "campaign", "account", "read", "opt_out", "date_from", "date_to")


def current_filters(data) -> dict[str, str]:
    """The inbox filters present in a GET or POST, as the service reads them."""
    return {key: data.get(key, "").strip() for key in FILTER_KEYS if data.get(key, "").strip()}


@portal_view("messaging.view_inboundmessage")
def inbox(request):
    filters = current_filters(request.GET)
    replies = inbox_service.inbox_queryset(request.user, filters)
    page = Paginator(replies, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "campaigns": Campaign.objects.filter(replies__isnull=False)
        .distinct()
        .order_by("-created_at")
        .values("pk", "name")[:200],
        "accounts": VendorAccount.objects.order_by("name").values("pk", "name"),
        "unread_count": inbox_service.unread_count(request.user),
    }
    partial = request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results"
    template = "portal/inbox/_results.html" if partial else "portal/inbox/inbox.html"
    return TemplateResponse(request, template, context)


@portal_view("messaging.change_inboundmessage")
@require_POST
def mark(request):
    """Mark (``mark`` = read / unread) the chosen replies (``ids``), or every reply matching
    the filters (``all``)."""
    read = request.POST.get("mark", "read") != "unread"
    if request.POST.get("all"):
        filters = current_filters(request.POST)
        ids = inbox_service.inbox_queryset(request.user, filters).values_list("pk", flat=True)
    else:
        ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    count = inbox_service.mark_read(list(ids), read=read, user=request.user)
    if read:
        messages.success(request, _("%(n)d replies marked read.") % {"n": count})
    else:
        messages.success(request, _("%(n)d replies marked unread.") % {"n": count})
    return redirect(safe_next(request, reverse("portal:inbox")))
