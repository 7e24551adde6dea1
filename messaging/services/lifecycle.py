"""Every change of a message's status, and only here (see ``Message`` for the diagram).

Each move is a conditional bulk statement — it moves only messages still in the status it
moves from — that returns the moves it made, and each function hands those moves to the
campaign counters (``campaigns.record_transitions``) in the caller's transaction, so the
counters can never drift from the messages.  Where PostgreSQL has a faster statement it stands
here beside its generic twin (``*_postgresql`` / ``*_generic``); ``tests/sending/
test_lifecycle_dialects.py`` runs both on PostgreSQL and compares the rows they leave.

Moves (old → new):

* ``take_off`` — queued → submitting: the request is about to leave (``submitted_at``).
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

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection
from django.utils import timezone

from ..models import DeliveryReport, Message
from ..statuses import FINAL_STATUSES, RANK, Status, can_advance
from .campaigns import record_transitions

Move = tuple[int, str, str]  # (message pk, old status, new status)
CHUNK = 5000

ADVANCES_TO_SUBMITTED = (Status.SUBMITTING, Status.UNKNOWN)


def _count(moves: Sequence[tuple[int, int | None, int, str, str]]) -> None:
    record_transitions((campaign_id, old, new, parts) for _, campaign_id, parts, old, new in moves)


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


# --------------------------------------------------------------------------- sending


def take_off(batch_id: int, pks: Sequence[int], now: datetime) -> list[tuple]:
    """queued → submitting for the batch's messages among ``pks``; returns the rows moved as
    ``(pk, phone, content, segments, variables, custom_id)``.  Counters do not move: both
    statuses count as waiting."""
    table = Message._meta.db_table
    rows: list[tuple] = []
    pks = list(pks)
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        with connection.cursor() as cursor:
            if _is_postgresql():
                cursor.execute(
                    f"UPDATE {table} SET status = %s, submitted_at = %s, "  # noqa: S608
                    "attempts = attempts + 1 "
                    "WHERE send_batch_id = %s AND status = %s AND id = ANY(%s::bigint[]) "
                    "RETURNING id, phone, content, segments, variables, custom_id",
                    [Status.SUBMITTING, now, batch_id, Status.QUEUED, chunk],
                )
            else:
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} SET status = %s, submitted_at = %s, "  # noqa: S608
                    "attempts = attempts + 1 "
                    f"WHERE send_batch_id = %s AND status = %s AND id IN ({marks}) "
                    "RETURNING id, phone, content, segments, variables, custom_id",
                    [
                        Status.SUBMITTING,
                        connection.ops.adapt_datetimefield_value(now),
                        batch_id,
                        Status.QUEUED,
                        *chunk,
                    ],
                )
            rows += [
                (pk, phone, content, parts, json.loads(v) if isinstance(v, str) else v, cid)
                for pk, phone, content, parts, v, cid in cursor.fetchall()
            ]
    return rows


def record_submitted(rows: Sequence[tuple[int, str, str]]) -> list[Move]:
    """submitting | unknown → submitted with the vendor's ids (``(pk, vendor id, vendor
    batch id)`` per message).  A message a report already moved further keeps its status
    (forward only) but learns its ids.  Counted."""
    if not rows:
        return []
    if _is_postgresql():
        moves = record_submitted_postgresql(rows)
    else:
        moves = record_submitted_generic(rows)
    _count(moves)
    return [(pk, old, new) for pk, _, _, old, new in moves]


def record_submitted_generic(rows) -> list[tuple]:
    table = Message._meta.db_table
    moves = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        before = {
            pk: (campaign_id, parts, status)
            for pk, campaign_id, parts, status in Message.objects.filter(
                pk__in=[pk for pk, _, _ in chunk]
            )
            .select_for_update()
            .values_list("pk", "campaign_id", "segments", "status")
        }
        # SQLite and PostgreSQL both take VALUES rows in a CTE joined by UPDATE … FROM.
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params = [p for row in chunk for p in row]
        sql = (
            f"WITH v(id, vendor_id, batch_id) AS (VALUES {values}) "  # noqa: S608
            f"UPDATE {table} SET vendor_message_id = v.vendor_id, batch_id = v.batch_id, "
            f"status = CASE WHEN {table}.status IN (%s, %s) THEN %s ELSE {table}.status END "
            f"FROM v WHERE {table}.id = CAST(v.id AS bigint)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *ADVANCES_TO_SUBMITTED, Status.SUBMITTED])
        moves += [
            (pk, campaign_id, parts, old, Status.SUBMITTED)
            for pk, (campaign_id, parts, old) in before.items()
            if old in ADVANCES_TO_SUBMITTED
        ]
    return moves


def record_submitted_postgresql(rows) -> list[tuple]:
    # Three array parameters instead of 150,000 scalars (whose conversion alone took seconds
    # per batch); the old status comes back from the same statement: the locking CTE reads
    # each row as the UPDATE finds it.
    ids, vendor_ids, batch_ids = (list(column) for column in zip(*rows, strict=True))
    table = Message._meta.db_table
    sql = f"""
        WITH v AS (
            SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, vendor_id, batch_id)
        ), old AS (
            SELECT m.id, m.status FROM {table} m JOIN v ON m.id = v.id
            FOR UPDATE OF m
        ), changed AS (
            UPDATE {table} m
            SET vendor_message_id = v.vendor_id, batch_id = v.batch_id,
                status = CASE WHEN m.status IN (%s, %s) THEN %s ELSE m.status END
            FROM v JOIN old ON old.id = v.id
            WHERE m.id = v.id
            RETURNING m.id, m.campaign_id, m.segments, old.status AS before
        )
        SELECT id, campaign_id, segments, before FROM changed WHERE before IN (%s, %s)
    """  # noqa: S608 - table names only
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                ids,
                vendor_ids,
                batch_ids,
                *ADVANCES_TO_SUBMITTED,
                Status.SUBMITTED,
                *ADVANCES_TO_SUBMITTED,
            ],
        )
        return [
            (pk, campaign_id, parts, before, Status.SUBMITTED)
            for pk, campaign_id, parts, before in cursor.fetchall()
        ]


def _move(pks: Iterable[int], old: Sequence[str], new: str, **fields) -> list[Move]:
    """Move the messages among ``pks`` that are in one of ``old`` to ``new`` (setting
    ``fields``); counted; returns the moves made."""
    pks = list(pks)
    moves = []
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        locked = Message.objects.select_for_update().filter(pk__in=chunk, status__in=old)
        rows = list(locked.order_by("pk").values_list("pk", "campaign_id", "segments", "status"))
        if not rows:
            continue
        Message.objects.filter(pk__in=[r[0] for r in rows], status__in=old).update(
            status=new, **fields
        )
        moves += [(pk, campaign_id, parts, status, new) for pk, campaign_id, parts, status in rows]
    _count(moves)
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


def _rank_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in RANK.items())
    return f"(CASE {column} {cases} ELSE -1 END)"


def save_report_moves(targets: Sequence) -> None:
    """Write the report-driven state of matched messages (``reports._Target``: status,
    vendor code and words, final time, vendor id), computed forward-only by the caller from
    rows it locked.  The rank condition repeats the rule in SQL so that no statement can
    ever move a message backwards.  The caller counts the moves."""
    if not targets:
        return
    if _is_postgresql():
        save_report_moves_postgresql(targets)
    else:
        save_report_moves_generic(targets)


def save_report_moves_postgresql(targets: Sequence) -> None:
    from .reports import _pg_array

    table = Message._meta.db_table
    forward = f"{_rank_sql('m.status')} < {_rank_sql('v.status')}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET "  # noqa: S608 - identifiers are ours
            f"status = CASE WHEN {forward} THEN v.status ELSE m.status END, "
            f"vendor_status_code = CASE WHEN {forward} THEN v.code "
            "ELSE m.vendor_status_code END, "
            f"vendor_status_description = CASE WHEN {forward} THEN v.description "
            "ELSE m.vendor_status_description END, "
            f"final_at = CASE WHEN {forward} THEN v.final_at ELSE m.final_at END, "
            "vendor_message_id = CASE WHEN m.vendor_message_id = '' THEN v.vendor_id "
            "ELSE m.vendor_message_id END "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], "
            "%s::timestamptz[], %s::text[]) "
            "AS v(id, status, code, description, final_at, vendor_id) "
            "WHERE m.id = v.id",
            [
                _pg_array([t.pk for t in targets]),
                _pg_array([t.status for t in targets]),
                _pg_array([t.code for t in targets]),
                _pg_array([t.description for t in targets]),
                _pg_array([t.final_at for t in targets]),
                _pg_array([t.vendor_message_id for t in targets]),
            ],
        )


def save_report_moves_generic(targets: Sequence) -> None:
    # The rows were locked by the caller (SQLite serializes writers): a plain bulk update,
    # with the same forward-only guard per row.
    current = dict(
        Message.objects.filter(pk__in=[t.pk for t in targets]).values_list("pk", "status")
    )
    updates = []
    for t in targets:
        old = current.get(t.pk)
        if old is None:
            continue
        forward = RANK[old] < RANK[t.status]
        updates.append((t, forward))
    Message.objects.bulk_update(
        [
            Message(
                pk=t.pk,
                status=t.status,
                vendor_status_code=t.code,
                vendor_status_description=t.description,
                final_at=t.final_at,
                vendor_message_id=t.vendor_message_id,
            )
            for t, forward in updates
            if forward
        ],
        [
            "status",
            "vendor_status_code",
            "vendor_status_description",
            "final_at",
            "vendor_message_id",
        ],
        batch_size=500,
    )
    # A message that did not move may still learn its vendor id from a report.
    for t, forward in updates:
        if not forward and t.vendor_message_id:
            Message.objects.filter(pk=t.pk, vendor_message_id="").update(
                vendor_message_id=t.vendor_message_id
            )


def deliver_submitted_postgresql(account_pk: int, chosen: Sequence, now) -> list[tuple]:
    """The common case of a push on PostgreSQL in one statement: reports (one per vendor id,
    sorted) that take a ``submitted`` message to a final status.  Returns ``(pk, vendor id,
    campaign id, segments, new status)`` per message moved; counted here.

    The UPDATE is its own lock: it moves only rows whose status is ``submitted`` when it
    holds them (PostgreSQL re-checks the condition on a row another transaction changed
    meanwhile), so ``submitted`` is exactly the status each returned row moved from."""
    from ..statuses import FINAL_STATUSES
    from .reports import _pg_array

    vendor_id_array = _pg_array([r.vendor_message_id for r in chosen])  # bound twice
    final_at = [(r.done_at or now) if r.status in FINAL_STATUSES else None for r in chosen]
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET status = r.status, vendor_status_code = r.code, "  # noqa: S608
            "vendor_status_description = r.description, "
            "final_at = COALESCE(r.final_at, m.final_at) "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[]) "
            "AS r(vendor_id, status, code, description, final_at) "
            "WHERE m.vendor_account_id = %s AND m.vendor_message_id <> '' "
            "AND m.vendor_message_id = ANY(%s::text[]) AND m.vendor_message_id = r.vendor_id "
            "AND m.status = %s "
            "RETURNING m.id, m.vendor_message_id, m.campaign_id, m.segments, m.status",
            [
                vendor_id_array,
                _pg_array([r.status for r in chosen]),
                _pg_array([r.vendor_code for r in chosen]),
                _pg_array([r.description for r in chosen]),
                _pg_array(final_at),
                account_pk,
                vendor_id_array,
                Status.SUBMITTED,
            ],
        )
        rows = cursor.fetchall()
    record_transitions(
        (campaign_id, Status.SUBMITTED, status, parts) for _, _, campaign_id, parts, status in rows
    )
    return rows
