"""Row counts the database keeps without counting, each PostgreSQL statement beside its
generic twin (see the package's docstring):

* ``estimated_rows`` — how many rows a whole table holds, as the planner knows it
  (``pg_class.reltuples``, kept by autovacuum's ANALYZE); the generic twin has no estimate.
"""

from __future__ import annotations

from django.db import connection

from . import twin


@twin
def estimated_rows(table: str) -> int | None:
    """The planner's estimate of the rows of ``table``, or None where there is none (never
    analyzed, or a database that keeps no estimate): the caller counts then, within a cap."""
    return None


@estimated_rows.on_postgresql
def estimated_rows_postgresql(table: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table]
        )
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None  # -1: never vacuumed nor analyzed
    return int(row[0])
