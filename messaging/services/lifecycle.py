"""Every change of a message's status, and only here (see ``Message`` for the diagram).

Each move is a conditional bulk statement — it moves only messages still in the status it
moves from — that returns the moves it made, and each function hands those moves to the
campaign counters (``campaigns.record_transitions``) in the caller's transaction, and then
to the campaign's kept stats (``campaign_stats``: those that reach a final status, and those
that enter or leave ``unknown`` / ``no report``), so neither can drift from the messages.
The statements that differ by database (take-off, submit answers, report moves) are
``sql.messages``'s, each PostgreSQL statement beside its generic twin, held equal by
``tests/foundation/test_sql_dialect_twins.py``.

Moves (old → new):

* ``take_off`` — queued → submitting: the request is about to leave (``submitted_at``).
* ``take_off_single`` — the same for one message sent outside a campaign.
* ``record_submitted`` — submitting | unknown → submitted, with the vendor's ids.
* ``record_refused`` — submitting → failed, with the vendor's code and our reason.
* ``record_unknown`` — submitting → unknown, with the reason.
* ``requeue`` — submitting → queued (nothing was taken: retry, or wait for the account).
* ``withdraw`` — queued → skipped (the campaign was cancelled).
* ``lose_in_flight`` — submitting → unknown (the worker died with the request out).
* ``end_wait`` — unknown → no report (the account's report window passed).
* ``resend`` — unknown | no report → queued (the marketer chose to send again).
* ``advance_by_reports`` / ``save_report_moves`` — reports: forward only, by rank; a long
  message's parts weighed together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from ..models import DeliveryReport, Message
from ..statuses import FINAL_STATUSES, Status, can_advance
from . import campaign_stats
from .campaigns import record_transitions
from .sql import messages as messages_sql

Move = tuple[int, str, str]  # (message pk, old status, new status)
CHUNK = 5000


def _count(moves: Sequence[tuple[int, int | None, int, str, str]]) -> None:
    record_transitions((campaign_id, old, new, parts) for _, campaign_id, parts, old, new in moves)


# --------------------------------------------------------------------------- sending


def take_off(batch_id: int, pks: Sequence[int], now: datetime) -> list[tuple]:
    """queued → submitting for the batch's messages among ``pks``; returns the rows moved as
    ``(pk, phone, content, segments, variables, custom_id)``.  Counters do not move: both
    statuses count as waiting."""
    return messages_sql.take_off(batch_id, pks, now)


def take_off_single(pk: int, now: datetime) -> bool:
    """queued → submitting for one message sent on its own (a notification outside any
    campaign); False when it is no longer queued (already sent by another run)."""
    return bool(
        _move(
            [pk], [Status.QUEUED], Status.SUBMITTING, submitted_at=now, attempts=F("attempts") + 1
        )
    )


def record_submitted(rows: Sequence[tuple[int, str, str]]) -> list[Move]:
    """submitting | unknown → submitted with the vendor's ids (``(pk, vendor id, vendor
    batch id)`` per message).  A message a report already moved further keeps its status
    (forward only) but learns its ids.  Counted."""
    if not rows:
        return []
    moves = messages_sql.record_submitted(rows)
    _count([move[:5] for move in moves])
    campaign_stats.record_unresolved(
        (campaign_id, old, error, new, error, parts, None)
        for _, campaign_id, parts, old, new, error in moves
        if old == Status.UNKNOWN
    )
    return [(pk, old, new) for pk, _, _, old, new, _ in moves]


def _move(pks: Iterable[int], old: Sequence[str], new: str, **fields) -> list[Move]:
    """Move the messages among ``pks`` that are in one of ``old`` to ``new`` (setting
    ``fields``); counted; returns the moves made."""
    pks = list(pks)
    moves = []
    changes = []  # for the unresolved stats: the error before and after, the send time
    watch_errors = new in campaign_stats.UNRESOLVED or bool(
        campaign_stats.UNRESOLVED.intersection(old)
    )
    columns = ["pk", "campaign_id", "segments", "status"]
    if watch_errors:
        columns += ["error", "submitted_at"]
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        locked = Message.objects.select_for_update().filter(pk__in=chunk, status__in=old)
        rows = list(locked.order_by("pk").values_list(*columns))
        if not rows:
            continue
        Message.objects.filter(pk__in=[r[0] for r in rows], status__in=old).update(
            status=new, **fields
        )
        moves += [
            (pk, campaign_id, parts, status, new) for pk, campaign_id, parts, status, *_ in rows
        ]
        if watch_errors:
            changes += [
                (campaign_id, status, error, new, fields.get("error", error), parts, sent)
                for _, campaign_id, parts, status, error, sent in rows
            ]
    _count(moves)
    if new in FINAL_STATUSES and moves:
        # Final: the kept stats learn the code (a refusal's) and the time it came.
        code, description = fields.get("vendor_status_code", ""), ""
        campaign_stats.record_finals(
            (campaign_id, new, code, description, fields.get("final_at"))
            for _, campaign_id, _, _, _ in moves
        )
    campaign_stats.record_unresolved(changes)
    return [(pk, old_status, new) for pk, _, _, old_status, new in moves]


def record_refused(pks: Iterable[int], code: str, reason: str, now: datetime) -> list[Move]:
    """submitting → failed: the vendor refused these messages for good (also from unknown,
    when a worker taken for dead answers after all)."""
    return _move(
        pks,
        [Status.SUBMITTING, Status.UNKNOWN],
        Status.FAILED,
        vendor_status_code=code[:32],
        error=reason,
        final_at=now,
    )


def record_unknown(pks: Iterable[int], reason: str) -> list[Move]:
    """submitting → unknown: the vendor may have these messages."""
    return _move(pks, [Status.SUBMITTING], Status.UNKNOWN, error=reason)


def requeue(pks: Iterable[int], reason: str) -> list[Move]:
    """submitting → queued: the vendor took nothing; they go again later (the batch says
    when).  The reason stays on the message until it goes."""
    return _move(pks, [Status.SUBMITTING], Status.QUEUED, error=reason)


def withdraw(campaign_id: int, reason: str) -> int:
    """queued → skipped for a cancelled campaign's messages not yet on their way."""
    pks = Message.objects.filter(campaign_id=campaign_id, status=Status.QUEUED).values_list(
        "pk", flat=True
    )
    return len(_move(list(pks), [Status.QUEUED], Status.SKIPPED, error=reason))


def lose_in_flight(batch_id: int, reason: str) -> list[Move]:
    """submitting → unknown for a batch whose worker died with the request out."""
    pks = Message.objects.filter(send_batch_id=batch_id, status=Status.SUBMITTING).values_list(
        "pk", flat=True
    )
    return _move(list(pks), [Status.SUBMITTING], Status.UNKNOWN, error=reason)


def end_wait(pks: Iterable[int], reason: str, now: datetime) -> list[Move]:
    """unknown → no report: the vendor's report window passed without a word."""
    return _move(pks, [Status.UNKNOWN], Status.NO_REPORT, error=reason, final_at=now)


def resend(pks: Iterable[int], reason: str) -> list[Move]:
    """unknown | no report → queued, each with a new id of ours (a late report of the first
    try must not be taken for the second).  The marketer's explicit choice."""
    pks = list(pks)
    moves = _move(
        pks, [Status.UNKNOWN, Status.NO_REPORT], Status.QUEUED, error=reason, final_at=None
    )
    stamp = timezone.now().strftime("%y%m%d%H%M%S")
    for pk, _, _ in moves:
        Message.objects.filter(pk=pk).update(custom_id=f"r{stamp}{pk}"[:32])
    return moves


# --------------------------------------------------------------------------- reports


def advance_by_reports(targets: Sequence, now) -> list:
    """Where its reports take each matched message (``reports._Target``, locked by the caller):
    in arrival order, forward only.  Returns the messages that change (status or vendor id);
    ``save_report_moves`` writes them.

    A long message whose vendor reports each part (``part_count`` > 1) is delivered only when
    every part is; the first part that fails makes the message fail with that part's code
    (a failed part is the worst news, and what the handset shows).  A part delivered while
    others are still out proves the vendor took the message: ``submitted``."""
    delivered_parts = _delivered_parts([t for t in targets if _has_parts(t)])
    for target in targets:
        for report in target.reports:
            status = report.status
            if report.part_count > 1 and status == Status.DELIVERED:
                parts = delivered_parts.setdefault(target.pk, set())
                parts.add(report.part_index)
                if len(parts) < report.part_count:
                    status = Status.SUBMITTED
            if can_advance(target.status, status):
                target.status = status
                target.code = report.vendor_code
                target.description = report.description
                if status in FINAL_STATUSES:
                    target.final_at = report.done_at or now
                target.changed = True
    return [t for t in targets if t.changed]


def _has_parts(target) -> bool:
    return any(r.part_count > 1 for r in target.reports)


def _delivered_parts(targets: Sequence) -> dict[int, set[int]]:
    """Parts already reported delivered for these long messages (earlier pushes or polls)."""
    if not targets:
        return {}
    parts: dict[int, set[int]] = {}
    for message_id, part in DeliveryReport.objects.filter(
        message_id__in=[t.pk for t in targets], status=Status.DELIVERED, part_count__gt=1
    ).values_list("message_id", "part_index"):
        parts.setdefault(message_id, set()).add(part)
    return parts


def save_report_moves(targets: Sequence) -> None:
    """Write the report-driven state of matched messages (``reports._Target``: status,
    vendor code and words, final time, vendor id), computed forward-only by the caller from
    rows it locked.  The statement repeats the rank rule so that none can ever move a message
    backwards.  The caller counts the moves."""
    if not targets:
        return
    messages_sql.save_report_moves(targets)
