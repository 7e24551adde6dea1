"""Normalized message statuses shared by the models, the services and the vendor adapters.

This module has no ORM access so vendor code may import it.  A status only ever moves to a
higher rank (see ``can_advance``); a report that repeats or arrives late changes nothing.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SKIPPED = "skipped", _("Skipped")
    SUBMITTING = "submitting", _("Submitting")
    UNKNOWN = "unknown", _("Outcome unknown")
    SUBMITTED = "submitted", _("Submitted")
    FAILED = "failed", _("Failed")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    EXPIRED = "expired", _("Expired")
    REJECTED = "rejected", _("Rejected")
    NO_REPORT = "no_report", _("No report")


# Rank decides what may overwrite what.  ``unknown`` ranks below ``submitted`` so that a late
# submit answer or any report can still resolve it; every final status shares the top rank so
# that the first final report wins and a contradicting duplicate is ignored.  ``no_report``
# (an unknown message whose report window passed) ends the campaign's wait, yet a report that
# comes after all still tells the truth: it ranks below the final statuses.
RANK: dict[str, int] = {
    Status.QUEUED: 0,
    Status.SUBMITTING: 1,
    Status.UNKNOWN: 2,
    Status.SUBMITTED: 3,
    Status.NO_REPORT: 4,
    Status.SKIPPED: 9,
    Status.FAILED: 9,
    Status.DELIVERED: 9,
    Status.UNDELIVERED: 9,
    Status.EXPIRED: 9,
    Status.REJECTED: 9,
}

FINAL_STATUSES: frozenset[str] = frozenset(s for s, rank in RANK.items() if rank == 9)
REPORT_STATUSES: frozenset[str] = frozenset(
    {Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED, Status.REJECTED}
)


def can_advance(current: str, new: str) -> bool:
    """True when a message in ``current`` may move to ``new`` (strictly forward only)."""
    return RANK[new] > RANK[current]
