"""What a vendor's push needs before and around applying it: the raw push kept as it came,
and the deadlock retry every writer of reports and messages runs its transaction in.

A push is stored raw (``keep_push``) in the transaction that applies what it carries
(``reports.apply_status_events``, ``replies.record_replies``,
``templates.apply_template_reviews``), so the vendor hears "received" only once all of it is
stored.  That transaction, like the sweeps of ``sending`` and ``polling``, runs in
``retry_on_deadlock``: writers lock messages in one order, but a report can race the very
submit answer that gives its message the vendor's id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

from ..models import PushRecord
from .sql import reports as reports_sql

log = logging.getLogger(__name__)
T = TypeVar("T")

DEADLOCK_ATTEMPTS = 3


def keep_push(record: PushRecord) -> None:
    """Store a received push (a new ``PushRecord``) as it came (``sql.reports.insert_push``:
    on PostgreSQL its body is bound as binary, not as hex in the SQL text)."""
    reports_sql.insert_push(record)


def retry_on_deadlock(operation: Callable[[], T]) -> T:
    """Run ``operation`` (a whole transaction) again when PostgreSQL broke a deadlock by
    aborting it.  Writers lock messages in one order, but a report can race the very submit
    answer that gives its message the vendor's id; then one transaction is rolled back whole,
    and running it again is both safe and the only way not to lose what it carried."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return operation()
        except OperationalError as exc:
            if attempt == DEADLOCK_ATTEMPTS or getattr(exc.__cause__, "sqlstate", "") != "40P01":
                raise
            log.warning(
                "deadlock broken by the database; attempt %s of %s", attempt + 1, DEADLOCK_ATTEMPTS
            )
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")
