"""The campaign's kept stats (``services.campaign_stats``): their upserts.

* ``add_finals`` — status-code counts and timeline buckets of messages that reached a final
  status: two upserts, one statement on PostgreSQL (so the report fast path stays one UPDATE,
  one COPY, the counters and this);
* ``add_unresolved`` — signed deltas of the unresolved groups (one upsert, any database).

Every statement adds to the rows it finds (``ON CONFLICT … DO UPDATE``), with its rows sorted
by key: writers of one campaign already wait for each other on the campaign row the counters
update first in the same transaction, and lock these rows in the same order after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from ...models import CampaignCodeCount, CampaignTimeline, CampaignUnresolved
from . import twin


def _codes_statement(codes: Sequence[tuple]) -> tuple[str, list]:
    table = CampaignCodeCount._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(codes))
    sql = (
        f"INSERT INTO {table} (campaign_id, status, code, description, messages) "  # noqa: S608
        f"VALUES {values} ON CONFLICT (campaign_id, status, code) DO UPDATE SET "
        f"messages = {table}.messages + excluded.messages, "
        f"description = CASE WHEN {table}.description = '' THEN excluded.description "
        f"ELSE {table}.description END"
    )
    return sql, [p for row in codes for p in row]


def _times_statement(times: Sequence[tuple]) -> tuple[str, list]:
    table = CampaignTimeline._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(times))
    sql = (
        f"INSERT INTO {table} (campaign_id, minutes, start, delivered, failed) "  # noqa: S608
        f"VALUES {values} ON CONFLICT (campaign_id, minutes, start) DO UPDATE SET "
        f"delivered = {table}.delivered + excluded.delivered, "
        f"failed = {table}.failed + excluded.failed"
    )
    params = [
        p
        for campaign_id, minutes, start, delivered, failed in times
        for p in (campaign_id, minutes, adapt(start), delivered, failed)
    ]
    return sql, params


@twin
def add_finals(codes: Sequence[tuple], times: Sequence[tuple]) -> None:
    """Add ``codes`` — ``(campaign id, status, code, description, messages)`` — and ``times``
    — ``(campaign id, minutes, start, delivered, failed)`` —, each sorted by key, to the
    kept counts.  A code's description is kept from its first non-empty one."""
    with connection.cursor() as cursor:
        for rows, statement in ((codes, _codes_statement), (times, _times_statement)):
            if rows:
                cursor.execute(*statement(rows))


@add_finals.on_postgresql
def add_finals_postgresql(codes: Sequence[tuple], times: Sequence[tuple]) -> None:
    # Both upserts in one statement (data-modifying CTEs): one round trip.  Their rows are
    # apart, so the order PostgreSQL runs them in does not matter.
    parts = [
        statement(rows)
        for rows, statement in ((codes, _codes_statement), (times, _times_statement))
        if rows
    ]
    if not parts:
        return
    if len(parts) == 1:
        sql, params = parts[0]
    else:
        (first, first_params), (second, second_params) = parts
        sql = f"WITH codes AS ({first}), times AS ({second}) SELECT 1"
        params = [*first_params, *second_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def add_unresolved(rows: Sequence[tuple]) -> None:
    """Add ``(campaign id, status, reason, messages, parts, last submitted at)`` deltas (signed,
    sorted by key) to the unresolved groups; the last send time only grows."""
    if not rows:
        return
    table = CampaignUnresolved._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params = [p for *key, last in rows for p in (*key, adapt(last))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, status, reason, messages, parts, "  # noqa: S608
            f"last_submitted_at) VALUES {values} "
            "ON CONFLICT (campaign_id, status, reason) DO UPDATE SET "
            f"messages = {table}.messages + excluded.messages, "
            f"parts = {table}.parts + excluded.parts, "
            f"last_submitted_at = CASE WHEN {table}.last_submitted_at IS NULL "
            f"OR excluded.last_submitted_at > {table}.last_submitted_at "
            f"THEN excluded.last_submitted_at ELSE {table}.last_submitted_at END",
            params,
        )
