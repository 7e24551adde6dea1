"""Writing many rows fast: PostgreSQL's COPY where available, one executemany elsewhere.

Campaign starts create up to millions of messages in one transaction; the ORM's bulk_create
builds a model instance per row and a huge INSERT per chunk, which is several times slower
than streaming the rows through COPY."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the current transaction;
    returns how many were written."""
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    quoted_table = connection.ops.quote_name(table)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {quoted_table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quoted_table} ({names}) VALUES ({placeholders})"  # noqa: S608
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
