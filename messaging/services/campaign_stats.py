"""A campaign's kept stats: its status-code breakdown and its delivery over time.

The campaign page and its 2-second refresh read these small tables (and the campaign row),
never the campaign's messages.  They move as messages reach a final status — in the caller's
transaction, right after the counters (``campaigns.record_transitions``), from the moves
``lifecycle`` and the report paths (``reports``, ``sql.messages``) made — and a final status
never changes, so they only grow:

* ``CampaignCodeCount`` — per (campaign, final status, vendor code): messages, and one of the
  vendor's descriptions of the code;
* ``CampaignTimeline`` — per (campaign, minute) and (campaign, hour) the final status came:
  delivered and failed (failed, undelivered, expired, rejected).  "No report" is not final
  and skipped messages never left: neither is drawn.

and, as messages move in and out of ``unknown`` and ``no_report`` (``record_unresolved``):

* ``CampaignUnresolved`` — per (campaign, status, reason): messages, parts, the last send.

Each is written with one upsert per call whose rows are sorted, after the campaign row the
counters already hold locked in the same transaction: writers of one campaign wait for each
other no longer than the counters make them.  ``rebuild`` recounts them from messages (repair,
or data made before the tables existed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncHour, TruncMinute

from ..models import Campaign, CampaignCodeCount, CampaignTimeline, CampaignUnresolved, Message
from ..statuses import FINAL_STATUSES, Status
from .sql import stats as stats_sql

DRAWN_STATUSES = frozenset(FINAL_STATUSES - {Status.SKIPPED})
SPANS = (1, 60)
"""The timeline's bucket lengths in minutes: minutes for a chart of hours, hours for days."""

UNRESOLVED = frozenset({Status.UNKNOWN, Status.NO_REPORT})
REASON_CHARS = 300

Final = tuple[int | None, str, str, str, datetime | None]
"""A message that reached a final status: (campaign id, status, code, description, final at)."""


def bucket(moment: datetime, minutes: int) -> datetime:
    """The start (UTC) of the ``minutes``-long bucket ``moment`` falls in."""
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return moment.replace(minute=0) if minutes == 60 else moment


def record_finals(finals: Iterable[Final]) -> None:
    """Count messages that reached a final status (in the caller's transaction)."""
    codes: Counter = Counter()
    words: dict[tuple, str] = {}
    times: Counter = Counter()
    for campaign_id, status, code, description, final_at in finals:
        if campaign_id is None or status not in FINAL_STATUSES:
            continue
        if code:
            key = (campaign_id, status, code)
            codes[key] += 1
            if description:
                words[key] = description
        if status in DRAWN_STATUSES and final_at is not None:
            delivered = status == Status.DELIVERED
            for minutes in SPANS:
                times[campaign_id, minutes, bucket(final_at, minutes), delivered] += 1
    rows: dict[tuple, list[int]] = {}
    for (campaign_id, minutes, start, delivered), n in times.items():
        rows.setdefault((campaign_id, minutes, start), [0, 0])[0 if delivered else 1] += n
    stats_sql.add_finals(
        [(*key, words.get(key, ""), codes[key]) for key in sorted(codes)],
        [(*key, *rows[key]) for key in sorted(rows)],
    )


Change = tuple[int | None, str, str, str, str, int, datetime | None]
"""A message's move as the unresolved stats see it: (campaign id, old status, old error, new
status, new error, parts, submitted at)."""


def reason_key(error: str | None) -> str:
    """The message's error as the unresolved stats group it (what the page can show)."""
    return (error or "").strip()[:REASON_CHARS]


def record_unresolved(changes: Iterable[Change]) -> None:
    """Count messages moving in and out of ``unknown`` and ``no_report`` (in the caller's
    transaction); moves that neither enter nor leave them are ignored."""
    deltas: dict[tuple, list] = {}
    for campaign_id, old, old_error, new, new_error, parts, submitted_at in changes:
        if campaign_id is None or (old not in UNRESOLVED and new not in UNRESOLVED):
            continue
        if old == new and reason_key(old_error) == reason_key(new_error):
            continue
        if old in UNRESOLVED:
            row = deltas.setdefault((campaign_id, old, reason_key(old_error)), [0, 0, None])
            row[0] -= 1
            row[1] -= parts
        if new in UNRESOLVED:
            row = deltas.setdefault((campaign_id, new, reason_key(new_error)), [0, 0, None])
            row[0] += 1
            row[1] += parts
            if submitted_at is not None and (row[2] is None or submitted_at > row[2]):
                row[2] = submitted_at
    keys = sorted(key for key, row in deltas.items() if row[0] or row[1] or row[2])
    stats_sql.add_unresolved([(*key, *deltas[key]) for key in keys])


# --------------------------------------------------------------------------- repair


def recount(campaign_id: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The kept stats as the campaign's messages say they should be: ``(codes, timeline,
    unresolved)``, codes as ``(status, code, messages)``, the timeline as ``(minutes, start,
    delivered, failed)`` and the unresolved as ``(status, reason, messages, parts)``, sorted.
    Grouped in the database; reads every message of the campaign (repair and tests only)."""
    rows = (
        Message.objects.filter(campaign_id=campaign_id, status__in=FINAL_STATUSES)
        .exclude(vendor_status_code="")
        .order_by()
        .values_list("status", "vendor_status_code")
        .annotate(n=Count("id"))
    )
    codes = sorted(rows)
    finals = Message.objects.filter(
        campaign_id=campaign_id, status__in=DRAWN_STATUSES, final_at__isnull=False
    ).order_by()
    timeline: dict[tuple, list[int]] = {}
    for minutes, trunc in ((1, TruncMinute), (60, TruncHour)):
        rows = (
            finals.annotate(start=trunc("final_at", tzinfo=UTC))
            .values("start")
            .annotate(
                delivered=Count("id", filter=Q(status=Status.DELIVERED)),
                failed=Count("id", filter=~Q(status=Status.DELIVERED)),
            )
            .values_list("start", "delivered", "failed")
        )
        for start, delivered, failed in rows:
            timeline[minutes, start] = [delivered, failed]
    unresolved: dict[tuple, list[int]] = {}
    groups = (
        Message.objects.filter(campaign_id=campaign_id, status__in=UNRESOLVED)
        .order_by()
        .values("status", "error")
        .annotate(n=Count("id"), parts=Sum("segments"))
        .values_list("status", "error", "n", "parts")
    )
    for status, error, n, parts in groups:
        row = unresolved.setdefault((status, reason_key(error)), [0, 0])
        row[0] += n
        row[1] += parts or 0
    return (
        codes,
        sorted((*key, *value) for key, value in timeline.items()),
        sorted((*key, *value) for key, value in unresolved.items()),
    )


def kept(campaign_id: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The kept stats of a campaign, in ``recount``'s shape (rows of zero left out)."""
    codes = CampaignCodeCount.objects.filter(campaign_id=campaign_id, messages__gt=0)
    timeline = CampaignTimeline.objects.filter(campaign_id=campaign_id).exclude(
        delivered=0, failed=0
    )
    return (
        sorted(codes.values_list("status", "code", "messages")),
        sorted(timeline.values_list("minutes", "start", "delivered", "failed")),
        sorted(
            CampaignUnresolved.objects.filter(campaign_id=campaign_id)
            .exclude(messages=0, parts=0)
            .values_list("status", "reason", "messages", "parts")
        ),
    )


def rebuild(campaign_id: int) -> bool:
    """Recount a campaign's kept stats from its messages and store them (the campaign row is
    locked meanwhile, so no move counts twice or not at all).  A campaign without messages
    (archived, or never started) keeps what it has: returns False."""
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign_id).values_list("pk").first()
        if not Message.objects.filter(campaign_id=campaign_id).exists():
            return False
        codes, timeline, unresolved = recount(campaign_id)
        described = (
            Message.objects.filter(campaign_id=campaign_id, status__in=FINAL_STATUSES)
            .exclude(vendor_status_code="")
            .exclude(vendor_status_description="")
            .order_by()
            .values_list("status", "vendor_status_code")
            .annotate(words=Max("vendor_status_description"))
        )
        words = {(status, code): text for status, code, text in described} if codes else {}
        CampaignCodeCount.objects.filter(campaign_id=campaign_id).delete()
        CampaignTimeline.objects.filter(campaign_id=campaign_id).delete()
        CampaignUnresolved.objects.filter(campaign_id=campaign_id).delete()
        CampaignCodeCount.objects.bulk_create(
            CampaignCodeCount(
                campaign_id=campaign_id,
                status=status,
                code=code,
                description=words.get((status, code), ""),
                messages=n,
            )
            for status, code, n in codes
        )
        CampaignTimeline.objects.bulk_create(
            (
                CampaignTimeline(
                    campaign_id=campaign_id,
                    minutes=minutes,
                    start=start,
                    delivered=delivered,
                    failed=failed,
                )
                for minutes, start, delivered, failed in timeline
            ),
            batch_size=1000,
        )
        last = (
            dict(
                Message.objects.filter(campaign_id=campaign_id, status__in=UNRESOLVED)
                .order_by()
                .values_list("status")
                .annotate(last=Max("submitted_at"))
            )
            if unresolved
            else {}
        )
        CampaignUnresolved.objects.bulk_create(
            CampaignUnresolved(
                campaign_id=campaign_id,
                status=status,
                reason=reason,
                messages=n,
                parts=parts,
                last_submitted_at=last.get(status),
            )
            for status, reason, n, parts in unresolved
        )
        Campaign.objects.filter(pk=campaign_id).update(stats_version=F("stats_version") + 1)
    return True
