"""Every statement that PostgreSQL runs differently, each beside its generic twin.

The portal runs on PostgreSQL in production and on SQLite in development and the fast tests.
Where PostgreSQL has a faster way (COPY, arrays bound as one parameter, one UPDATE … RETURNING
instead of a read and a write, rendering a campaign's messages in SQL), the PostgreSQL code and
the generic code that every database can run stand side by side in this package, one pair per
decorated function:

.. code-block:: python

    @twin
    def insert_rows(table, columns, rows):          # the generic twin
        ...

    @insert_rows.on_postgresql
    def insert_rows_postgresql(table, columns, rows):
        ...

Calling ``insert_rows(...)`` runs the twin of the connection's dialect (``dialect()``).  Both
twins take the same arguments and must leave the same rows: ``tests/foundation/
test_sql_dialect_twins.py`` runs every pair of ``TWINS`` both ways on PostgreSQL (the generic
twin chosen with ``forcing(GENERIC)``) and compares the rows they leave, row for row.  Nothing
outside this package asks which database it is on.

The modules hold the pairs by what they write:

* ``messages`` — message status moves of the lifecycle (take-off, submit answers, report
  moves) and the report fast path;
* ``reports`` — finding messages by the vendor's id, storing reports, storing pushes;
* ``rows`` — bulk inserts of new rows and the import's save of staged recipients;
* ``campaign_start`` — creating a campaign's messages (rendered in SQL on PostgreSQL);
* ``estimates`` — row counts the database keeps (the admin's big lists), not counted;
* ``locks`` — the campaign's locks: a take-off's look, a start's hold.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.db import connection

POSTGRESQL = "postgresql"
GENERIC = "generic"

_forced: ContextVar[str | None] = ContextVar("sql_dialect_forced", default=None)


def dialect() -> str:
    """``POSTGRESQL`` on PostgreSQL (unless a test forces ``GENERIC``), else ``GENERIC``."""
    forced = _forced.get()
    if forced is not None:
        return forced
    return POSTGRESQL if connection.vendor == "postgresql" else GENERIC


@contextmanager
def forcing(name: str) -> Iterator[None]:
    """Run the twins of dialect ``name`` within the block (in this thread): the generic twins
    on PostgreSQL, for a test that compares the two."""
    if name not in (POSTGRESQL, GENERIC):
        raise ValueError(name)
    if name == POSTGRESQL and connection.vendor != "postgresql":
        raise ValueError("the PostgreSQL twins need PostgreSQL")
    token = _forced.set(name)
    try:
        yield
    finally:
        _forced.reset(token)


class Twin:
    """A function with a generic body and, registered with ``on_postgresql``, a PostgreSQL
    one; a call runs the one of the current ``dialect()``."""

    def __init__(self, generic: Callable[..., Any]):
        functools.update_wrapper(self, generic)
        self.name = f"{generic.__module__.rpartition('.')[2]}.{generic.__name__}"
        self.generic = generic
        self.postgresql: Callable[..., Any] | None = None
        TWINS[self.name] = self

    def on_postgresql(self, function: Callable[..., Any]) -> Callable[..., Any]:
        self.postgresql = function
        return function

    def __call__(self, *args, **kwargs):
        if self.postgresql is not None and dialect() == POSTGRESQL:
            return self.postgresql(*args, **kwargs)
        return self.generic(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<twin {self.name}>"


TWINS: dict[str, Twin] = {}
"""Every pair, by ``module.function`` (filled as the modules of this package are imported)."""


def twin(generic: Callable[..., Any]) -> Twin:
    """Declare ``generic`` the generic twin of a pair (see the module's docstring)."""
    return Twin(generic)


def all_twins() -> dict[str, Twin]:
    """``TWINS`` with every module of the package imported."""
    from . import campaign_start, estimates, locks, messages, reports, rows, stats  # noqa: F401

    return TWINS


# --------------------------------------------------------------------------- PostgreSQL settings


def for_bulk(cursor) -> None:
    """Plan the rest of the caller's transaction for statements over tens of thousands of rows
    (the start's chunks, a batch's take-off and answer); ``SET LOCAL`` ends with the
    transaction.

    * ``jit = off``: the planner's estimate for them (the start's rendering above all, whose
      regular expressions it prices high) passes ``jit_above_cost``, and each chunk of a start
      then spent ~4 s compiling its expressions with LLVM (``auto_explain``: "JIT … Total
      4275 ms" of an 8.4 s chunk of 49,000 rows) to save far less in running them, again for
      every statement.
    * ``random_page_cost = 1.1`` (the usual value for SSDs; the table's pages are in memory
      anyway): with the default 4, 25,000 primary-key lookups looked dearer than reading the
      whole message table, and a batch's answer hashed all of it twice (``auto_explain``:
      2.7 s per 25,000 messages once the table held a million, 1.35 s by the index).
    * ``work_mem = 64MB``: the start's window sorts and the answer's merge spilled to disk
      with the default 4 MB."""
    # One round trip: set_config(..., true) is SET LOCAL.
    cursor.execute(
        "SELECT set_config('jit', 'off', true), set_config('random_page_cost', '1.1', true), "
        "set_config('work_mem', '64MB', true)"
    )


# --------------------------------------------------------------------------- PostgreSQL literals


def pg_array(values: Iterable) -> str:
    """A PostgreSQL array literal, bound as one text parameter and cast in SQL.

    psycopg adapts a Python list element by element (a regular expression per text element
    when binding client-side, as Django does); one string built here is bound in one piece,
    which for a push of 500 reports is the difference between ~100 ms and ~1 ms."""
    values = list(values)
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"  # ids: nothing to quote
    if all(type(value) is str for value in values):
        # The usual case: texts, none needing an escape, joined in one go.
        joined = '","'.join(values)
        if '"' not in joined and "\\" not in joined:
            return '{"' + joined + '"}' if values else "{}"
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
            continue
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        items.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(text: str) -> str:
    """A text field in COPY's text format (backslash, tab and line breaks escaped)."""
    return text.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text) else text
