"""Reports and pushes as the database stores them, each PostgreSQL statement beside its
generic twin (see the package's docstring):

* ``message_rows_by_vendor_id`` — the messages a push's vendor ids name (the rows
  ``services.reports`` matches reports to and then locks);
* ``insert_reports`` — a push's or poll's reports, matched or not (COPY on PostgreSQL);
* ``insert_push`` — a received push as it came (its body a binary parameter on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg
from django.db import connection
from django.utils import timezone

from ...models import DeliveryReport, Message, PushRecord
from . import copy_text, pg_array, twin

TARGET_COLUMNS = (
    "id",
    "vendor_message_id",
    "custom_id",
    "phone",
    "status",
    "campaign_id",
    "segments",
    "submitted_at",
    "error",
    "vendor_status_code",
    "vendor_status_description",
    "final_at",
)
"""What matching a report needs of its message, in the order of a row."""


# --------------------------------------------------------------------------- finding


@twin
def message_rows_by_vendor_id(account_pk: int, vendor_ids: set[str]) -> list[tuple]:
    """The account's messages with one of ``vendor_ids`` (never the empty id), unlocked, as
    ``TARGET_COLUMNS`` rows.  The last three columns may be left blank ('', '', None): the
    report moves keep them in SQL whenever the status does not move."""
    rows: list[tuple] = []
    ids = list(vendor_ids)
    for start in range(0, len(ids), 500):
        rows += (
            Message.objects.filter(
                vendor_account_id=account_pk, vendor_message_id__in=ids[start : start + 500]
            )
            .exclude(vendor_message_id="")
            .values_list(*TARGET_COLUMNS)
        )
    return rows


@message_rows_by_vendor_id.on_postgresql
def message_rows_by_vendor_id_postgresql(account_pk: int, vendor_ids: set[str]) -> list[tuple]:
    # One statement on the partial index (vendor_account, vendor_message_id) WHERE
    # vendor_message_id <> '': the explicit condition lets the planner use it.
    table = Message._meta.db_table
    columns = ", ".join(TARGET_COLUMNS[:-3]) + ", '', '', NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} "  # noqa: S608 - identifiers are ours
            "WHERE vendor_account_id = %s AND vendor_message_id <> '' "
            "AND vendor_message_id = ANY(%s::text[])",
            [account_pk, pg_array(vendor_ids)],
        )
        return cursor.fetchall()


# --------------------------------------------------------------------------- reports


@twin
def insert_reports(account_pk: int, source: str, reports: Sequence, now: datetime) -> None:
    """Store reports (``reports._Report``) received at ``now``, each with its message where
    it was matched."""
    DeliveryReport.objects.bulk_create(
        (
            DeliveryReport(
                vendor_account_id=account_pk,
                source=source,
                vendor_message_id=r.vendor_message_id,
                custom_id=r.custom_id,
                phone=r.phone,
                status=r.status,
                vendor_code=r.vendor_code,
                description=r.description,
                done_at=r.done_at,
                raw=r.raw,
                part_index=r.part_index,
                part_count=r.part_count,
                message_id=r.message_id,
                matched_at=None if r.message_id is None else now,
            )
            for r in reports
        ),
        batch_size=500,
    )


@insert_reports.on_postgresql
def insert_reports_postgresql(account_pk: int, source: str, reports: Sequence, now) -> None:
    # COPY in its text format, built here in one piece: PostgreSQL reads the rows without
    # parsing SQL, and the constant columns are formatted once, not once per report.
    table = DeliveryReport._meta.db_table
    columns = (
        "vendor_account_id, source, received_at, vendor_message_id, custom_id, phone, "
        "status, vendor_code, description, done_at, raw, part_index, part_count, "
        "message_id, matched_at"
    )
    head = f"{account_pk}\t{copy_text(source)}\t{now.isoformat()}\t"
    matched_tail = f"\t{now.isoformat()}\n"
    times: dict[datetime | None, str] = {None: "\\N"}
    lines = []
    for r in reports:
        done_at = times.get(r.done_at)
        if done_at is None:
            done_at = times[r.done_at] = r.done_at.isoformat()
        fields = (
            copy_text(r.vendor_message_id),
            copy_text(r.custom_id),
            copy_text(r.phone),
            r.status,
            copy_text(r.vendor_code),
            copy_text(r.description),
            done_at,
            copy_text(r.raw),
            str(r.part_index),
            str(r.part_count),
        )
        tail = "\t\\N\t\\N\n" if r.message_id is None else f"\t{r.message_id}{matched_tail}"
        lines.append(head + "\t".join(fields) + tail)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        copy.write("".join(lines))


# --------------------------------------------------------------------------- pushes


@twin
def insert_push(record: PushRecord) -> None:
    """Store a received push (a new ``PushRecord``) as it came."""
    record.save()


@insert_push.on_postgresql
def insert_push_postgresql(record: PushRecord) -> None:
    # The body goes to the server as a binary parameter: Django binds parameters into the SQL
    # text, which turns a 150 KB push into 300 KB of hex for the server to decode again, and
    # costs more than applying the push's 500 reports.
    record.received_at = timezone.now()
    fields = [f for f in PushRecord._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join("%b" if f.name == "body" else "%s" for f in fields)
    values = [
        bytes(record.body)
        if f.name == "body"
        else f.get_db_prep_save(f.value_from_object(record), connection)
        for f in fields
    ]
    with connection.cursor() as cursor:
        # A server-side-binding cursor on Django's own connection (and transaction).
        binding = psycopg.Cursor(cursor.cursor.connection)
        binding.execute(
            f"INSERT INTO {PushRecord._meta.db_table} ({columns}) "  # noqa: S608 - ours
            f"VALUES ({placeholders}) RETURNING id",
            values,
        )
        record.pk = binding.fetchone()[0]
