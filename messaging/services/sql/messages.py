"""The message lifecycle's statements, each PostgreSQL statement beside its generic twin.

``services.lifecycle`` decides every move of a message's status and counts it; the statements
that make a move differ by database and stand here in pairs (see the package's docstring):

* ``take_off`` — queued → submitting, returning what the request needs;
* ``record_submitted`` — submit answers: the vendor's ids, submitting | unknown → submitted;
* ``save_report_moves`` — the report-driven state of matched messages, forward only;
* ``deliver_submitted`` — the report fast path: reports taking ``submitted`` messages, found
  by the vendor's id, to a final status in one statement (PostgreSQL); the generic twin leaves
  every report to the general path of ``services.reports``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from ...models import Message
from ...statuses import FINAL_STATUSES, RANK, Status
from .. import campaign_stats
from ..campaigns import record_transitions
from . import for_bulk, pg_array, twin

CHUNK = 5000

ADVANCES_TO_SUBMITTED = (Status.SUBMITTING, Status.UNKNOWN)
_SUBMITTED_RANK = RANK[Status.SUBMITTED]


def _variables(value) -> list:
    if value == "[]":
        return []  # no template values (all but vendor-template sends): no JSON to parse
    return json.loads(value) if isinstance(value, str) else value


def _returned_take_off(cursor) -> list[tuple]:
    return [
        (pk, phone, content, parts, _variables(v), cid)
        for pk, phone, content, parts, v, cid in cursor.fetchall()
    ]


# --------------------------------------------------------------------------- take-off


@twin
def take_off(batch_id: int, pks: Sequence[int], now: datetime) -> list[tuple]:
    """queued → submitting for the batch's messages among ``pks``; returns the rows moved as
    ``(pk, phone, content, segments, variables, custom_id)``."""
    table = Message._meta.db_table
    rows: list[tuple] = []
    pks = list(pks)
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
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
            rows += _returned_take_off(cursor)
    return rows


@take_off.on_postgresql
def take_off_postgresql(batch_id: int, pks: Sequence[int], now: datetime) -> list[tuple]:
    table = Message._meta.db_table
    rows: list[tuple] = []
    pks = list(pks)
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        with connection.cursor() as cursor:
            if not start:
                for_bulk(cursor)
            cursor.execute(
                f"UPDATE {table} SET status = %s, submitted_at = %s, "  # noqa: S608
                "attempts = attempts + 1 "
                "WHERE send_batch_id = %s AND status = %s AND id = ANY(%s::bigint[]) "
                "RETURNING id, phone, content, segments, variables, custom_id",
                [Status.SUBMITTING, now, batch_id, Status.QUEUED, pg_array(chunk)],
            )
            rows += _returned_take_off(cursor)
    return rows


# --------------------------------------------------------------------------- submit answers


@twin
def record_submitted(rows) -> list[tuple]:
    """submitting | unknown → submitted with the vendor's ids (``(pk, vendor id, vendor batch
    id)`` per message; every message learns its ids).  Returns ``(pk, campaign id, segments,
    old status, new status, error)`` per move (the error, which does not change, only of a
    message that was unknown: the unresolved stats group by it); the caller counts them."""
    table = Message._meta.db_table
    moves = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        before = {
            pk: (campaign_id, parts, status, error if status == Status.UNKNOWN else "")
            for pk, campaign_id, parts, status, error in Message.objects.filter(
                pk__in=[pk for pk, _, _ in chunk]
            )
            .select_for_update()
            .values_list("pk", "campaign_id", "segments", "status", "error")
        }
        # SQLite and PostgreSQL both take VALUES rows in a CTE joined by UPDATE … FROM.
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params = [p for row in chunk for p in row]
        sql = (
            f"WITH v(id, vendor_id, batch_id) AS (VALUES {values}) "  # noqa: S608
            f"UPDATE {table} SET vendor_message_id = v.vendor_id, vendor_batch_id = v.batch_id, "
            f"status = CASE WHEN {table}.status IN (%s, %s) THEN %s ELSE {table}.status END "
            f"FROM v WHERE {table}.id = CAST(v.id AS bigint)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *ADVANCES_TO_SUBMITTED, Status.SUBMITTED])
        moves += [
            (pk, campaign_id, parts, old, Status.SUBMITTED, error)
            for pk, (campaign_id, parts, old, error) in before.items()
            if old in ADVANCES_TO_SUBMITTED
        ]
    return moves


@record_submitted.on_postgresql
def record_submitted_postgresql(rows) -> list[tuple]:
    # Three array parameters instead of 150,000 scalars (whose conversion alone took seconds
    # per batch); the old status comes back from the same statement: the locking CTE reads
    # each row as the UPDATE finds it.
    ids, vendor_ids, batch_ids = (pg_array(column) for column in zip(*rows, strict=True))
    table = Message._meta.db_table
    sql = f"""
        WITH v AS (
            SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, vendor_id, batch_id)
        ), old AS (
            SELECT m.id, m.status FROM {table} m JOIN v ON m.id = v.id
            FOR UPDATE OF m
        ), changed AS (
            UPDATE {table} m
            SET vendor_message_id = v.vendor_id, vendor_batch_id = v.batch_id,
                status = CASE WHEN m.status IN (%s, %s) THEN %s ELSE m.status END
            FROM v JOIN old ON old.id = v.id
            WHERE m.id = v.id
            RETURNING m.id, m.campaign_id, m.segments, old.status AS before,
                CASE WHEN old.status = %s THEN m.error ELSE '' END AS error
        )
        SELECT id, campaign_id, segments, before, error FROM changed WHERE before IN (%s, %s)
    """  # noqa: S608 - table names only
    with connection.cursor() as cursor:
        for_bulk(cursor)
        cursor.execute(
            sql,
            [
                ids,
                vendor_ids,
                batch_ids,
                *ADVANCES_TO_SUBMITTED,
                Status.SUBMITTED,
                Status.UNKNOWN,
                *ADVANCES_TO_SUBMITTED,
            ],
        )
        return [
            (pk, campaign_id, parts, before, Status.SUBMITTED, error)
            for pk, campaign_id, parts, before, error in cursor.fetchall()
        ]


# --------------------------------------------------------------------------- report moves


def _rank_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in RANK.items())
    return f"(CASE {column} {cases} ELSE -1 END)"


@twin
def save_report_moves(targets: Sequence) -> None:
    """Write the report-driven state of matched messages (``reports._Target``: status, vendor
    code and words, final time, vendor id), forward only: a message moves only to a status
    ranked above its own, and learns a vendor id only when it has none."""
    # The rows were locked by the caller (SQLite serializes writers): a plain bulk update,
    # with the same forward-only guard per row.
    current = {
        pk: (status, vendor_id)
        for pk, status, vendor_id in Message.objects.filter(
            pk__in=[t.pk for t in targets]
        ).values_list("pk", "status", "vendor_message_id")
    }
    updates = []
    for t in targets:
        if t.pk not in current:
            continue
        old, vendor_id = current[t.pk]
        forward = RANK[old] < RANK[t.status]
        updates.append((t, forward, vendor_id))
    Message.objects.bulk_update(
        [
            Message(
                pk=t.pk,
                status=t.status,
                vendor_status_code=t.code,
                vendor_status_description=t.description,
                final_at=t.final_at,
                vendor_message_id=vendor_id or t.vendor_message_id,
            )
            for t, forward, vendor_id in updates
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
    for t, forward, vendor_id in updates:
        if not forward and not vendor_id and t.vendor_message_id:
            Message.objects.filter(pk=t.pk, vendor_message_id="").update(
                vendor_message_id=t.vendor_message_id
            )


@save_report_moves.on_postgresql
def save_report_moves_postgresql(targets: Sequence) -> None:
    # One UPDATE from arrays; the rank condition repeats the rule in SQL.
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
                pg_array([t.pk for t in targets]),
                pg_array([t.status for t in targets]),
                pg_array([t.code for t in targets]),
                pg_array([t.description for t in targets]),
                pg_array([t.final_at for t in targets]),
                pg_array([t.vendor_message_id for t in targets]),
            ],
        )


# --------------------------------------------------------------------------- report fast path


@twin
def deliver_submitted(account_pk: int, reports: list, now) -> int:
    """The report fast path: reports (``reports._Report``) that take a ``submitted`` message,
    found by the vendor's id, to a final status.  Sets those reports' ``message_id``, counts
    the moves and returns how many messages moved.  The generic twin has no fast path: it
    moves nothing and leaves every report to the general path (``reports._match``), which
    reaches the same rows."""
    return 0


@deliver_submitted.on_postgresql
def deliver_submitted_postgresql(account_pk: int, reports: list, now) -> int:
    # Applying a message's reports in arrival order, forward only, leaves it at the first of
    # its highest-ranked reports; that report is chosen here, one row per vendor id.  Reports
    # of one part of a long message take the general path, which weighs every part.
    best: dict = {}
    for report in reports:
        vendor_id = report.vendor_message_id
        if not vendor_id or RANK[report.status] <= _SUBMITTED_RANK or report.part_count > 1:
            continue
        chosen = best.get(vendor_id)
        if chosen is None or RANK[report.status] > RANK[chosen.status]:
            best[vendor_id] = report
    if not best:
        return 0
    chosen = [best[vendor_id] for vendor_id in sorted(best)]
    rows = _deliver_chosen(account_pk, chosen, now)
    message_by_vendor_id = {vendor_id: pk for pk, vendor_id, *_ in rows}
    for report in reports:
        if report.part_count == 1:
            report.message_id = message_by_vendor_id.get(report.vendor_message_id)
    return len(rows)


def _deliver_chosen(account_pk: int, chosen: Sequence, now) -> list[tuple]:
    """One statement for reports (one per vendor id, sorted) that take a ``submitted``
    message to a final status.  Returns ``(pk, vendor id, campaign id, segments, new status,
    code, description, final at)`` per message moved; counted here (counters and kept stats).

    The UPDATE is its own lock: it moves only rows whose status is ``submitted`` when it
    holds them (PostgreSQL re-checks the condition on a row another transaction changed
    meanwhile), so ``submitted`` is exactly the status each returned row moved from."""
    vendor_id_array = pg_array([r.vendor_message_id for r in chosen])  # bound twice
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
            "RETURNING m.id, m.vendor_message_id, m.campaign_id, m.segments, m.status, "
            "m.vendor_status_code, m.vendor_status_description, m.final_at",
            [
                vendor_id_array,
                pg_array([r.status for r in chosen]),
                pg_array([r.vendor_code for r in chosen]),
                pg_array([r.description for r in chosen]),
                pg_array(final_at),
                account_pk,
                vendor_id_array,
                Status.SUBMITTED,
            ],
        )
        rows = cursor.fetchall()
    record_transitions(
        (campaign_id, Status.SUBMITTED, status, parts)
        for _, _, campaign_id, parts, status, *_ in rows
    )
    campaign_stats.record_finals(
        (campaign_id, status, code, description, final_at)
        for _, _, campaign_id, _, status, code, description, final_at in rows
    )
    return rows
