"""Campaign bookkeeping shared by the sending and reporting services."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Sum

from ..models import ArchiveState, Campaign, Message
from ..statuses import Status
from . import campaign_stats

# Which counters a message in each status counts towards: the one statement of the rule,
# used by the recount and by the incremental updates.  ``total_count`` counts every message.
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
    Status.NO_REPORT: ("no_report_count",),
}

# Parts are billed once the vendor said it took the message: accepted or reported.  An unknown
# message (or one whose report window passed without a word) may or may not be billed: the
# campaign page shows those parts apart, never as billed.
BILLED_STATUSES = frozenset(
    {
        Status.SUBMITTED,
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.EXPIRED,
        Status.REJECTED,
    }
)
ARCHIVED_STATES = (ArchiveState.REMOVING, ArchiveState.ARCHIVED)
COUNTER_FIELDS = (
    "pending_count",
    "skipped_count",
    "submitted_count",
    "delivered_count",
    "failed_count",
    "unknown_count",
    "no_report_count",
)


def refresh_counters(campaign_ids: Iterable[int | None]) -> None:
    """Recount each campaign's messages by status (one grouped query per campaign) and store
    the counters, and rebuild its kept stats (``campaign_stats.rebuild``): the repair for the
    incremental ones.  An archived campaign's messages are gone (``services.archive``): its
    counters and kept stats stay as they were."""
    wanted = {c for c in campaign_ids if c is not None}
    archived = set(
        Campaign.objects.filter(pk__in=wanted, archive_state__in=ARCHIVED_STATES).values_list(
            "pk", flat=True
        )
    )
    for campaign_id in wanted - archived:
        rows = (
            Message.objects.filter(campaign_id=campaign_id)
            .order_by()
            .values("status")
            .annotate(n=Count("id"), parts=Sum("segments"))
        )
        counters = dict.fromkeys(COUNTER_FIELDS, 0)
        counters.update(total_count=0, segment_count=0)
        for row in rows:
            counters["total_count"] += row["n"]
            for field in _COUNTERS_BY_STATUS[row["status"]]:
                counters[field] += row["n"]
            if row["status"] in BILLED_STATUSES:
                counters["segment_count"] += row["parts"] or 0
        Campaign.objects.filter(pk=campaign_id).update(**counters)
        campaign_stats.rebuild(campaign_id)


def record_transitions(transitions: Iterable[tuple[int | None, str, str, int]]) -> None:
    """Move the counters of each campaign by the given status changes, in the caller's
    transaction: ``(campaign_id, old_status, new_status, segments)`` per message.

    Cheap at any campaign size (one UPDATE per campaign touched), and exact as long as every
    status change goes through a service that reports it here; ``refresh_counters`` recounts
    from scratch and repairs them if ever needed."""
    # Counted by kind of move first: a push of 500 reports is a handful of kinds.
    moves: Counter = Counter()
    parts: Counter = Counter()
    for campaign_id, old, new, segments in transitions:
        if campaign_id is not None and old != new:
            moves[campaign_id, old, new] += 1
            parts[campaign_id, old, new] += segments
    deltas: dict[int, Counter] = defaultdict(Counter)
    for (campaign_id, old, new), count in moves.items():
        delta = deltas[campaign_id]
        for field in _COUNTERS_BY_STATUS[old]:
            delta[field] -= count
        for field in _COUNTERS_BY_STATUS[new]:
            delta[field] += count
        billed_before, billed_after = old in BILLED_STATUSES, new in BILLED_STATUSES
        if billed_after and not billed_before:
            delta["segment_count"] += parts[campaign_id, old, new]
        elif billed_before and not billed_after:
            delta["segment_count"] -= parts[campaign_id, old, new]
    for campaign_id, delta in deltas.items():
        changes = {field: F(field) + n for field, n in delta.items() if n}
        if changes:
            changes["stats_version"] = F("stats_version") + 1
            Campaign.objects.filter(pk=campaign_id).update(**changes)
