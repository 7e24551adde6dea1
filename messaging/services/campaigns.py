"""Campaign bookkeeping shared by the sending and reporting services."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Sum

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


# Which counters a message in each status counts towards.  ``total_count`` is set when the
# messages are created and never changes with a status.
_COUNTERS_BY_STATUS: dict[str, tuple[str, ...]] = {
    Status.QUEUED: ("pending_count",),
    Status.SUBMITTING: ("pending_count",),
    Status.SKIPPED: ("skipped_count",),
    Status.UNKNOWN: ("unknown_count",),
    Status.SUBMITTED: ("submitted_count",),
    Status.DELIVERED: ("submitted_count", "delivered_count"),
    Status.FAILED: ("failed_count",),
    Status.UNDELIVERED: ("submitted_count", "failed_count"),
    Status.EXPIRED: ("submitted_count", "failed_count"),
    Status.REJECTED: ("submitted_count", "failed_count"),
}


def record_transitions(transitions: Iterable[tuple[int | None, str, str, int]]) -> None:
    """Move the counters of each campaign by the given status changes, in the caller's
    transaction: ``(campaign_id, old_status, new_status, segments)`` per message.

    Cheap at any campaign size (one UPDATE per campaign touched), and exact as long as every
    status change goes through a service that reports it here; ``refresh_counters`` recounts
    from scratch and repairs them if ever needed."""
    deltas: dict[int, Counter] = defaultdict(Counter)
    for campaign_id, old, new, segments in transitions:
        if campaign_id is None or old == new:
            continue
        delta = deltas[campaign_id]
        for field in _COUNTERS_BY_STATUS[old]:
            delta[field] -= 1
        for field in _COUNTERS_BY_STATUS[new]:
            delta[field] += 1
        billed_before, billed_after = old in BILLED_STATUSES, new in BILLED_STATUSES
        if billed_after and not billed_before:
            delta["segment_count"] += segments
        elif billed_before and not billed_after:
            delta["segment_count"] -= segments
    for campaign_id, delta in deltas.items():
        changes = {field: F(field) + n for field, n in delta.items() if n}
        if changes:
            Campaign.objects.filter(pk=campaign_id).update(**changes)
