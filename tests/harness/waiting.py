"""Waiting for what the simulator or a receiver does in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Calls ``check`` until it answers something true or ``timeout`` seconds have passed, and
    returns its last answer: ``assert eventually(lambda: ...)``."""
    deadline = time.monotonic() + timeout
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(interval)
        result = check()
    return result
