"""What the portal keeps, and for how long: the daily purge.

Each campaign leaves behind raw pushes, raw poll answers, delivery reports and thousands of
task results, and every import its uploaded file.  ``purge`` removes what is older than its
window (the ``RETAIN_*_DAYS`` settings, 0 keeping a kind for ever) in batches: one short
transaction per batch of ``batch`` rows (``DELETE … WHERE id IN (SELECT id … LIMIT n)``),
never one statement over the whole table, so that pushes and sends go on beside it.

Only what may go goes:

* a delivery report only once its message is final (a report of a message still awaiting,
  say one part of a long message, may yet decide it) or when it matched no message;
* a poll answer only once applied (``services.polling`` applies a left-over one);
* a finished task after ``RETAIN_TASK_RESULTS_DAYS``, a failed one after
  ``RETAIN_FAILED_TASKS_DAYS``;
* an audit event after ``RETAIN_AUDIT_DAYS`` (two years unless set);
* an import's uploaded file and rejected-rows report only once the import is done or
  failed; the import's row (its counts) stays.

``ARCHIVE_AFTER_DAYS`` (0: off) also queues the archive of campaigns finished that long ago
(``services.archive``), and archives left half done by a dead worker are queued again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_q.models import Task

from ..models import DeliveryReport, ImportJob, Message, PollRecord, PushRecord
from ..statuses import FINAL_STATUSES

log = logging.getLogger(__name__)

BATCH = 5000


@dataclass
class PurgeResult:
    """How many of each kind went (or would go, for a dry run)."""

    counts: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    archives_queued: int = 0

    def __str__(self) -> str:
        parts = [f"{kind} {n}" for kind, n in self.counts.items()]
        if self.archives_queued:
            parts.append(f"archives queued {self.archives_queued}")
        return "purged: " + ", ".join(parts)


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def pushes(cutoff: datetime) -> QuerySet:
    return PushRecord.objects.filter(received_at__lt=cutoff)


def poll_answers(cutoff: datetime) -> QuerySet:
    return PollRecord.objects.filter(received_at__lt=cutoff, applied_at__isnull=False)


def delivery_reports(cutoff: datetime) -> QuerySet:
    """Old reports that can no longer move a message: their message is final, or there is
    none (unmatched, or its campaign archived)."""
    open_message = Message.objects.filter(pk=OuterRef("message_id")).exclude(
        status__in=FINAL_STATUSES
    )
    return DeliveryReport.objects.filter(received_at__lt=cutoff).filter(~Exists(open_message))


def task_results(success_cutoff: datetime | None, failure_cutoff: datetime | None) -> QuerySet:
    condition = Q(pk__in=[])
    if success_cutoff:
        condition |= Q(success=True, stopped__lt=success_cutoff)
    if failure_cutoff:
        condition |= Q(success=False, stopped__lt=failure_cutoff)
    return Task.objects.filter(condition)


def import_files(cutoff: datetime) -> QuerySet:
    """Finished imports older than the window that still hold a file."""
    finished = (ImportJob.State.DONE, ImportJob.State.FAILED)
    return (
        ImportJob.objects.filter(state__in=finished)
        .filter(Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff))
        .exclude(file="", rejected_report="")
    )


def delete_in_batches(queryset: QuerySet, batch: int = BATCH) -> tuple[int, int]:
    """Delete the rows of ``queryset`` ``batch`` at a time, each batch its own transaction:
    ``DELETE … WHERE id IN (SELECT id … ORDER BY id LIMIT batch)``.  Only for models no other
    row refers to (the delete is then one statement).  Returns (rows, batches)."""
    model = queryset.model
    total = batches = 0
    while True:
        chosen = queryset.order_by("pk").values("pk")[:batch]
        with transaction.atomic():
            deleted, _by_model = model._base_manager.filter(pk__in=chosen).delete()
        if not deleted:
            return total, batches
        total += deleted
        batches += 1
        if deleted < batch:
            return total, batches


def remove_import_files(queryset: QuerySet, batch: int = BATCH) -> tuple[int, int]:
    """Delete the uploaded file and the rejected-rows report of each import (the files
    first, then the fields are emptied: a file already gone is no error).  Returns (imports,
    batches)."""
    total = batches = 0
    while True:
        jobs = list(queryset.order_by("pk")[:batch])
        if not jobs:
            return total, batches
        for job in jobs:
            for file in (job.file, job.rejected_report):
                if file:
                    try:
                        file.storage.delete(file.name)
                    except OSError:
                        log.warning("could not delete %s of import %s", file.name, job.pk)
        ImportJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
            file="", rejected_report=""
        )
        total += len(jobs)
        batches += 1
        if len(jobs) < batch:
            return total, batches


def audit_events(cutoff: datetime) -> QuerySet:
    from accounts.models import AuditEvent

    return AuditEvent.objects.filter(at__lt=cutoff)


def kinds(now: datetime) -> dict[str, tuple[QuerySet, Callable]]:
    """Each kind the purge removes: its rows due now and how they are removed.  A kind whose
    setting is 0 is kept for ever (absent here)."""
    found: dict[str, tuple[QuerySet, Callable]] = {}
    if cutoff := _cutoff(now, settings.RETAIN_PUSHES_DAYS):
        found["pushes"] = (pushes(cutoff), delete_in_batches)
    if cutoff := _cutoff(now, settings.RETAIN_POLL_ANSWERS_DAYS):
        found["poll answers"] = (poll_answers(cutoff), delete_in_batches)
    if cutoff := _cutoff(now, settings.RETAIN_DELIVERY_REPORTS_DAYS):
        found["delivery reports"] = (delivery_reports(cutoff), delete_in_batches)
    success = _cutoff(now, settings.RETAIN_TASK_RESULTS_DAYS)
    failure = _cutoff(now, settings.RETAIN_FAILED_TASKS_DAYS)
    if success or failure:
        found["task results"] = (task_results(success, failure), delete_in_batches)
    if cutoff := _cutoff(now, settings.RETAIN_IMPORT_FILES_DAYS):
        found["import files"] = (import_files(cutoff), remove_import_files)
    if cutoff := _cutoff(now, settings.RETAIN_AUDIT_DAYS):
        found["audit events"] = (audit_events(cutoff), delete_in_batches)
    return found


def purge(now: datetime | None = None, batch: int = BATCH, dry_run: bool = False) -> PurgeResult:
    """Remove everything older than its window, in batches of ``batch``; with ``dry_run``,
    count what would go and remove nothing.  Returns the counts per kind."""
    now = now or timezone.now()
    result = PurgeResult()
    for kind, (queryset, remove) in kinds(now).items():
        if dry_run:
            result.counts[kind] = queryset.count()
            continue
        result.counts[kind], result.batches[kind] = remove(queryset, batch)
    from . import archive

    if dry_run:
        result.archives_queued = len(archive.due_for_archive(now))
    else:
        result.archives_queued = archive.queue_due(now)
    return result
