"""The replies inbox: what the admin's reply list and the marketer's inbox page show.

``inbox_queryset(user, filters)`` answers the page's list (newest first, with the account,
campaign and message it needs, already joined); ``mark_read`` / ``mark_unread`` are its
actions; ``unread_count`` feeds a badge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date

from ..models import InboundMessage

VIEW_PERMISSION = "messaging.view_inboundmessage"
CHANGE_PERMISSION = "messaging.change_inboundmessage"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def can_view(user) -> bool:
    return bool(user and user.is_active and user.has_perm(VIEW_PERMISSION))


def can_mark(user) -> bool:
    return bool(user and user.is_active and user.has_perm(CHANGE_PERMISSION))


def inbox_queryset(user, filters: Mapping[str, object] | None = None) -> QuerySet[InboundMessage]:
    """Replies ``user`` may read, filtered.  Nothing for a user without the view permission.

    ``filters`` (a ``request.GET`` works; unknown keys and empty values are ignored):

    * ``account``: vendor account id
    * ``campaign``: campaign id
    * ``opt_out``: true / false
    * ``read``: true / false (``unread=1`` is the same as ``read=false``)
    * ``date_from`` / ``date_to``: ``YYYY-MM-DD``, inclusive, in the portal's time zone
    * ``q``: a phone (exact) or words in the content
    """
    replies = InboundMessage.objects.select_related(
        "vendor_account", "campaign", "message"
    ).order_by("-received_at", "-pk")
    if not can_view(user):
        return replies.none()
    filters = filters or {}

    def value(name: str) -> str:
        raw = filters.get(name)
        return str(raw).strip() if raw is not None else ""

    # ASCII digits only: "²".isdigit() is true, and int() refuses it.
    if value("account").isascii() and value("account").isdigit():
        replies = replies.filter(vendor_account_id=int(value("account")))
    if value("campaign").isascii() and value("campaign").isdigit():
        replies = replies.filter(campaign_id=int(value("campaign")))
    opt_out = _flag(value("opt_out"))
    if opt_out is not None:
        replies = replies.filter(is_opt_out=opt_out)
    read = _flag(value("read"))
    if read is None and _flag(value("unread")) is not None:
        read = not _flag(value("unread"))
    if read is not None:
        replies = replies.filter(is_read=read)
    start, end = _date(value("date_from")), _date(value("date_to"))
    # Inside the calendar the database and ``timedelta`` can count in (9999-12-31 + 1 day).
    start = start and min(max(start, dt.date(1900, 1, 1)), dt.date(9998, 12, 30))
    end = end and min(max(end, dt.date(1900, 1, 1)), dt.date(9998, 12, 30))
    if start:
        replies = replies.filter(received_at__gte=_day_start(start))
    if end:
        replies = replies.filter(received_at__lt=_day_start(end + dt.timedelta(days=1)))
    query = value("q")
    if query:
        replies = replies.filter(Q(phone=query) | Q(content__icontains=query))
    return replies


def mark_read(ids: Iterable[int], *, read: bool = True, user=None) -> int:
    """Mark replies read (or unread); returns how many changed.  With ``user``, nothing
    happens unless that user may change replies."""
    if user is not None and not can_mark(user):
        return 0
    pks = [int(pk) for pk in ids]
    if not pks:
        return 0
    return InboundMessage.objects.filter(pk__in=pks).exclude(is_read=read).update(is_read=read)


def mark_unread(ids: Iterable[int], *, user=None) -> int:
    return mark_read(ids, read=False, user=user)


def unread_count(user) -> int:
    return inbox_queryset(user, {"read": "false"}).count()


def _flag(text: str) -> bool | None:
    text = text.lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _date(text: str) -> dt.date | None:
    try:
        return parse_date(text) if text else None
    except ValueError:  # well-formed but impossible, e.g. 2024-02-30
        return None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
