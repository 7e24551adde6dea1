"""The deadlock retry every writer of reports and messages runs its transaction in.

Writers lock messages in one order, but a report can race the very submit answer that gives its
message the vendor's id; PostgreSQL then breaks the deadlock by aborting one transaction whole.
Pushes, polls and the sending sweeps run their transactions in ``retry_on_deadlock``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")

DEADLOCK_ATTEMPTS = 3


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
