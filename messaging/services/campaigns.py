"""Campaign bookkeeping shared by the sending and reporting services."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Sum

from ..models import Campaign, Message
from ..statuses import Status

# Accepted by the vendor: submitted, or any status a delivery report can bring.
ACCEPTED_STATUSES = (
    Status.SUBMITTED,
    Status.DELIVERED,
    Status.UNDELIVERED,
    Status.EXPIRED,
    Status.REJECTED,
)
FAILED_STATUSES = (Status.FAILED, Status.UNDELIVERED, Status.EXPIRED, Status.REJECTED)
BILLED_STATUSES = (*ACCEPTED_STATUSES, Status.UNKNOWN)


def refresh_counters(campaign_ids: Iterable[int | None]) -> None:
    """Recount each campaign's messages by status (one grouped query on the campaign + status
    index per campaign) and store the counters."""
    for campaign_id in {c for c in campaign_ids if c is not None}:
        rows = (
            Message.objects.filter(campaign_id=campaign_id)
            .order_by()
            .values("status")
            .annotate(n=Count("id"), parts=Sum("segments"))
        )
        count = {row["status"]: row["n"] for row in rows}
        parts = {row["status"]: row["parts"] or 0 for row in rows}
        Campaign.objects.filter(pk=campaign_id).update(
            total_count=sum(count.values()),
            pending_count=count.get(Status.QUEUED, 0) + count.get(Status.SUBMITTING, 0),
            skipped_count=count.get(Status.SKIPPED, 0),
            submitted_count=sum(count.get(s, 0) for s in ACCEPTED_STATUSES),
            delivered_count=count.get(Status.DELIVERED, 0),
            failed_count=sum(count.get(s, 0) for s in FAILED_STATUSES),
            unknown_count=count.get(Status.UNKNOWN, 0),
            segment_count=sum(parts.get(s, 0) for s in BILLED_STATUSES),
        )
