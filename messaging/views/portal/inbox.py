"""The reply inbox: filters, links to campaigns, opt-outs marked, mark as read.

The queries and the read marks are ``messaging.services.inbox``'s; this module only reads the
filters from the page and renders."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ...models import Campaign, VendorAccount
from ...services import inbox as inbox_service
from .common import NewestPaginator, clean_text, parse_id, portal_view, safe_next

PAGE_SIZE = 30
FILTER_KEYS = ("q", "campaign", "account", "read", "opt_out", "date_from", "date_to")
DATE_KEYS = ("date_from", "date_to")
# Dates outside these are clamped to them: a day boundary must stay a datetime the database
# (and the conversion to UTC) can hold; every reply lies well inside.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 30)


def current_filters(data) -> dict[str, str]:
    """The inbox filters present in a GET or POST, as typed (cleaned of characters no query can
    carry), for the page to show them again."""
    filters = {key: clean_text(data.get(key, "")) for key in FILTER_KEYS}
    return {key: value for key, value in filters.items() if value}


def applicable_filters(filters: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The filters as the service may apply them, and what is wrong with the others (not
    applied): an id that is no id, a date that is no date.  Dates far in the past or future
    are clamped to the range a day boundary can be computed in."""
    usable, problems = dict(filters), []
    for key in ("campaign", "account"):
        if key in usable and parse_id(usable[key]) is None:
            value = usable.pop(key)[:40]
            if key == "campaign":
                text = _("“%(value)s” is no campaign; the campaign filter is not applied.")
            else:
                text = _("“%(value)s” is no vendor account; the account filter is not applied.")
            problems.append(text % {"value": value})
    for key in DATE_KEYS:
        if key not in usable:
            continue
        try:
            day = parse_date(usable[key])
        except ValueError:  # well-formed but impossible, e.g. 2024-02-30
            day = None
        if day is None:
            problems.append(
                _("“%(value)s” is not a date (YYYY-MM-DD); that filter is not applied.")
                % {"value": usable.pop(key)[:40]}
            )
            continue
        usable[key] = min(max(day, FIRST_DAY), LAST_DAY).isoformat()
    return usable, problems


@portal_view("messaging.view_inboundmessage")
def inbox(request):
    filters = current_filters(request.GET)
    usable, problems = applicable_filters(filters)
    partial = request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results"
    if not partial:  # the partial page has no place for messages
        for problem in problems:
            messages.warning(request, problem)
    replies = inbox_service.inbox_queryset(request.user, usable)
    page = NewestPaginator(replies, PAGE_SIZE).get_page(request.GET.get("page"))
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
    template = "portal/inbox/_results.html" if partial else "portal/inbox/inbox.html"
    return TemplateResponse(request, template, context)


@portal_view("messaging.change_inboundmessage")
@require_POST
def mark(request):
    """Mark (``mark`` = read / unread) the chosen replies (``ids``), or every reply matching
    the filters (``all``)."""
    read = request.POST.get("mark", "read") != "unread"
    if request.POST.get("all"):
        filters, problems = applicable_filters(current_filters(request.POST))
        if problems:  # never mark more than the page showed
            for problem in problems:
                messages.error(request, problem)
            return redirect(safe_next(request, reverse("portal:inbox")))
        ids = inbox_service.inbox_queryset(request.user, filters).values_list("pk", flat=True)
    else:
        ids = [pk for pk in map(parse_id, request.POST.getlist("ids")[:1000]) if pk is not None]
    count = inbox_service.mark_read(list(ids), read=read, user=request.user)
    if read:
        messages.success(request, _("%(n)d replies marked read.") % {"n": count})
    else:
        messages.success(request, _("%(n)d replies marked unread.") % {"n": count})
    return redirect(safe_next(request, reverse("portal:inbox")))
