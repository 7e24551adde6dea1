"""Writing many new rows fast, each PostgreSQL way beside its generic twin (see the package's
docstring):

* ``insert_rows`` — rows given as tuples (a campaign start's messages): COPY on PostgreSQL,
  one ``executemany`` per 10,000 rows elsewhere.  The ORM's bulk_create builds a model
  instance per row and a huge INSERT per chunk, several times slower than COPY;
* ``insert_staged_recipients`` — an import's save (phase 2 of ``importing.service``): the
  staged rows COPYed straight into the recipient table on PostgreSQL, ``bulk_create``
  ignoring conflicts elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from django.db import connection, transaction

from ...models import Recipient
from . import twin

STAGED_COLUMNS = "(recipient_list_id, phone, variables, source_row)"
"""The columns of an import's staging file, in COPY's text format (one recipient a line)."""


# --------------------------------------------------------------------------- rows


@twin
def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the current transaction;
    returns how many were written."""
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    quoted_table = connection.ops.quote_name(table)
    count = 0
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {quoted_table} ({names}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        chunk: list[Sequence] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == 10_000:
                cursor.executemany(sql, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)
            count += len(chunk)
    return count


@insert_rows.on_postgresql
def insert_rows_postgresql(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    quoted_table = connection.ops.quote_name(table)
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quoted_table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


# --------------------------------------------------------------------------- an import's save


@twin
def insert_staged_recipients(
    list_id: int,
    stage_path: str,
    *,
    accepted: int,
    stage_name: str,
    chunk_size: int,
    progress: Callable[[int], None],
) -> int:
    """Insert the recipients staged at ``stage_path`` (``accepted`` rows, none already in the
    list when they were checked) into list ``list_id``; returns how many were inserted.  A
    phone added to the list by other means meanwhile is skipped.  ``progress`` hears the
    rows saved so far (after each ``chunk_size`` on the generic path); ``stage_name`` names
    a temporary table where one is needed."""
    before = Recipient.objects.filter(recipient_list_id=list_id).count()
    batch: list[Recipient] = []
    saved = 0
    for phone, variables, number in _staged_rows(stage_path):
        batch.append(
            Recipient(
                recipient_list_id=list_id, phone=phone, variables=variables, source_row=number
            )
        )
        if len(batch) >= chunk_size:
            Recipient.objects.bulk_create(batch, ignore_conflicts=True)
            saved += len(batch)
            batch = []
            progress(saved)
    if batch:
        Recipient.objects.bulk_create(batch, ignore_conflicts=True)
        saved += len(batch)
        progress(saved)
    return Recipient.objects.filter(recipient_list_id=list_id).count() - before


@insert_staged_recipients.on_postgresql
def insert_staged_recipients_postgresql(
    list_id: int,
    stage_path: str,
    *,
    accepted: int,
    stage_name: str,
    chunk_size: int,
    progress: Callable[[int], None],
) -> int:
    # COPY the staged rows straight into the recipient table.  Phase 1 removed the phones
    # already in the list, and the list is locked, so this only conflicts when a phone was
    # added by other means meanwhile; then the savepoint is rolled back and the rows go
    # through a temporary table and ``INSERT … ON CONFLICT DO NOTHING`` instead (slower,
    # same result).
    import psycopg

    table = Recipient._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor
        try:
            with transaction.atomic():
                _copy_stage(raw, f"COPY {table} {STAGED_COLUMNS} FROM STDIN", stage_path)
                progress(accepted)
            return accepted
        except psycopg.errors.UniqueViolation:
            pass
        cursor.execute(
            f"CREATE TEMPORARY TABLE {stage_name} (recipient_list_id bigint, "
            "phone varchar(20) NOT NULL, variables jsonb NOT NULL, source_row integer) "
            "ON COMMIT DROP"
        )
        _copy_stage(raw, f"COPY {stage_name} {STAGED_COLUMNS} FROM STDIN", stage_path)
        # Table names are ours.
        insert = (
            f"INSERT INTO {table} {STAGED_COLUMNS} "  # noqa: S608
            f"SELECT recipient_list_id, phone, variables, source_row FROM {stage_name} "
            "ON CONFLICT (recipient_list_id, phone) DO NOTHING"
        )
        cursor.execute(insert)
        inserted = cursor.rowcount
        progress(inserted)
        cursor.execute(f"DROP TABLE {stage_name}")
    return inserted


def _copy_stage(raw_cursor, statement: str, stage_path: str) -> None:
    """Stream a staging file into a PostgreSQL COPY on the psycopg cursor ``raw_cursor``."""
    with raw_cursor.copy(statement) as copy, open(stage_path, "rb") as stage:
        while block := stage.read(1 << 20):
            copy.write(block)


def _staged_rows(stage_path: str):
    with open(stage_path, encoding="utf-8", newline="\n") as stage:
        for line in stage:
            _list, phone, variables, number = line.rstrip("\n").split("\t")
            yield phone, json.loads(variables.replace("\\\\", "\\")), int(number)
