"""Archiving a finished campaign: its messages written to a file kept with the campaign, then
removed from the message and report tables.

The file is the campaign's messages export (``messaging.exports.message_rows``, the rows of
the portal's "Export messages" download) as CSV — UTF-8 with a BOM, formula-like cells
escaped, in the language of whoever asked — compressed with gzip, stored under
``MEDIA_ROOT/archives/campaigns/<campaign id>/`` and served only through the permission-checked
portal views (never from ``MEDIA_ROOT`` directly).  Its name, the number of rows and when it
was made are on the campaign (``archive_file``, ``archived_message_count``, ``archived_at``).

What stays: the campaign and its counters (the truth of the campaign page; nothing here
touches them), its send batches, its replies (their link to the message they answered is
emptied, their campaign stays) and the export, which then answers with the archive.

The work is a django-q2 task (``messaging.tasks.archive_campaign``) in two steps, each
resumable (see ``ArchiveState``):

1. ``writing``: the file is written to a temporary file, stored, read back and its rows
   counted; only when they equal the campaign's messages does the campaign record the file
   and move to ``removing`` (a worker killed before that leaves no message removed; the run
   that follows writes the file again).
2. ``removing``: the messages go ``BATCH`` at a time, each batch one short transaction with
   their delivery reports (``archive_removed_count`` moves with it); a worker killed midway
   leaves the rest for the next run, which continues.  A task removes for at most
   ``REMOVAL_BUDGET_S`` and queues the rest as a new task.  Then ``archived``.

Each run first claims the archive (``_claim``): a run finding it moving (another worker's, or
the same task handed out again by the broker) leaves it alone; one that stopped moving for
``STALE_AFTER`` is taken over (the daily purge queues those again).

A campaign can be archived when it is completed or cancelled, nothing of it waits to be sent
or is on its way, and no delivery report can still come: when messages still await their
report (or their outcome is unknown), the account's report window since the campaign finished
must have passed.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..exports import csv_stream, message_rows
from ..models import ArchiveState, Campaign, DeliveryReport, InboundMessage, Message
from . import wording

log = logging.getLogger(__name__)

BATCH = 5000
STALE_AFTER = timedelta(minutes=10)
"""An archive in progress that has not moved for this long lost its worker: it may be asked
for again (and the daily purge queues it again).  A running archive moves (its
``archive_progress_at``) every ``HEARTBEAT_ROWS`` rows written and every batch removed; a
second run (the broker hands a task out again after ``Q_CLUSTER["retry"]``) finds it moving
and leaves it alone."""
HEARTBEAT_ROWS = 20_000
REMOVAL_BUDGET_S = 300.0
"""One task removes for at most this long, then queues the rest as a new task."""
TASK_TIMEOUT_S = 3600
"""Writing the file of a campaign of millions of messages takes minutes (see bench/README)."""
FINISHED = (Campaign.State.COMPLETED, Campaign.State.CANCELLED)
IN_PROGRESS = (ArchiveState.QUEUED, ArchiveState.WRITING, ArchiveState.REMOVING)
ARCHIVE_CONTENT_TYPE = "application/gzip"


class ArchiveError(Exception):
    """The campaign cannot be archived (now); the message is for the user."""


# --------------------------------------------------------------------------- may it be archived


def _stale(campaign: Campaign, now: datetime) -> bool:
    moved = campaign.archive_progress_at
    return moved is None or now - moved > STALE_AFTER


def _waiting_for_reports(campaign: Campaign) -> bool:
    """Messages the vendor took whose report has not come, or whose outcome is unknown."""
    settled = (
        campaign.pending_count
        + campaign.skipped_count
        + campaign.no_report_count
        + campaign.delivered_count
        + campaign.failed_count
    )
    return campaign.total_count > settled


def refusal(campaign: Campaign, now: datetime | None = None, *, running: bool = False) -> str:
    """Why ``campaign`` cannot be archived now, in words; empty when it can.  From the
    campaign's own fields only (no query): the campaign page asks on every view.  ``running``:
    asked by the archive's own task, to which an archive in progress is no obstacle."""
    now = now or timezone.now()
    if campaign.archive_state == ArchiveState.ARCHIVED:
        return _("This campaign is already archived.")
    if campaign.archive_state == ArchiveState.REMOVING:
        # Its file is written: the removal goes on whatever the campaign says now.
        return "" if running or _stale(campaign, now) else _("This campaign is being archived.")
    if campaign.archive_state in IN_PROGRESS and not running and not _stale(campaign, now):
        return _("This campaign is being archived.")
    if campaign.status not in FINISHED:
        return _("Only a completed or cancelled campaign can be archived.")
    if campaign.pending_count:
        return _("Messages of this campaign are still waiting to be sent or on their way.")
    if _waiting_for_reports(campaign):
        window = timedelta(hours=campaign.vendor_account.report_window_hours)
        if campaign.finished_at is None or now < campaign.finished_at + window:
            until = (campaign.finished_at or now) + window
            return _(
                "Delivery reports may still come until %(until)s (the account's report "
                "window): archive the campaign after that."
            ) % {"until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")}
    return ""


def is_archived(campaign: Campaign) -> bool:
    """Its messages are (being) removed: the archive file is what there is to export."""
    return bool(campaign.archive_file) and campaign.archive_state in (
        ArchiveState.REMOVING,
        ArchiveState.ARCHIVED,
    )


# --------------------------------------------------------------------------- asking for it


def request_archive(campaign_id: int, language: str | None = None) -> None:
    """Queue the archive of a campaign (the admin action, the campaign page, the daily purge
    for ``ARCHIVE_AFTER_DAYS``).  Raises ``ArchiveError`` with the reason when it cannot be."""
    now = timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .select_related("vendor_account")
            .get(pk=campaign_id)
        )
        reason = refusal(campaign, now)
        if reason:
            raise ArchiveError(reason)
        if campaign.archive_state == ArchiveState.REMOVING:
            # A removal whose worker was lost: its file is written and verified, some messages
            # may be gone.  It stays as it is, to be claimed by the task.
            Campaign.objects.filter(pk=campaign_id).update(archive_error="")
        else:
            Campaign.objects.filter(pk=campaign_id).update(
                archive_state=ArchiveState.QUEUED, archive_error="", archive_progress_at=now
            )
        transaction.on_commit(lambda: _enqueue(campaign_id, language))


def _enqueue(campaign_id: int, language: str | None) -> None:
    from django_q.tasks import async_task

    async_task(
        "messaging.tasks.archive_campaign",
        campaign_id,
        language,
        group="archive",
        q_options={"task_name": f"archive campaign {campaign_id}", "timeout": TASK_TIMEOUT_S},
    )


def due_for_archive(now: datetime) -> list[int]:
    """Campaigns the daily purge archives: finished ``ARCHIVE_AFTER_DAYS`` ago (when set) and
    not archived, and archives whose worker was lost."""
    stale = now - STALE_AFTER
    lost = Campaign.objects.filter(archive_state__in=IN_PROGRESS).filter(
        Q(archive_progress_at__lt=stale) | Q(archive_progress_at__isnull=True)
    )
    due = set(lost.values_list("pk", flat=True))
    days = settings.ARCHIVE_AFTER_DAYS
    if days > 0:
        old = Campaign.objects.filter(
            status__in=FINISHED,
            finished_at__lt=now - timedelta(days=days),
            archive_state=ArchiveState.NONE,  # a failed one is tried again by hand
        ).select_related("vendor_account")
        due |= {c.pk for c in old if not refusal(c, now)}
    return sorted(due)


def queue_due(now: datetime) -> int:
    queued = 0
    for campaign_id in due_for_archive(now):
        try:
            request_archive(campaign_id)
        except ArchiveError as exc:
            log.info("campaign %s not archived: %s", campaign_id, exc)
            continue
        queued += 1
    return queued


# --------------------------------------------------------------------------- the work


def archive_campaign(campaign_id: int, language: str | None = None, batch: int = BATCH) -> str:
    """Write the campaign's archive and remove its messages (see the module's docstring).
    Idempotent: run again on an archived campaign it does nothing; on one left half done it
    continues.  Returns what it did, for the task's result."""
    campaign = Campaign.objects.select_related("vendor_account").get(pk=campaign_id)
    if campaign.archive_state == ArchiveState.ARCHIVED:
        return f"campaign {campaign_id} already archived"
    if not _claim(campaign_id):
        return f"campaign {campaign_id} is being archived by another worker"
    campaign.refresh_from_db()
    if campaign.archive_state != ArchiveState.REMOVING:
        # Kept in both languages: the page that shows it is read in either (``wording``).
        reason = wording.both(lambda: refusal(campaign, running=True))
        if reason:
            _update(campaign_id, archive_state=ArchiveState.FAILED, archive_error=reason)
            raise ArchiveError(wording.shown(reason))
        try:
            written = write_archive(campaign, language)
        except Exception as exc:
            _update(campaign_id, archive_state=ArchiveState.FAILED, archive_error=str(exc)[:2000])
            raise
        log.info("campaign %s: %s messages archived to a file", campaign_id, written)
    removed, done = remove_messages(campaign_id, batch, budget_s=REMOVAL_BUDGET_S)
    if not done:
        # Released, and the rest queued as a new task (which claims it again).
        Campaign.objects.filter(pk=campaign_id).update(archive_progress_at=None)
        transaction.on_commit(lambda: _enqueue(campaign_id, language))
        return f"campaign {campaign_id}: {removed} messages removed, the rest continues"
    _update(campaign_id, archive_state=ArchiveState.ARCHIVED, archived_at=timezone.now())
    campaign.refresh_from_db()
    return (
        f"campaign {campaign_id} archived: {campaign.archived_message_count} messages in "
        f"{campaign.archive_file.name}, {removed} removed now"
    )


def _claim(campaign_id: int) -> bool:
    """Take the campaign's archive for this run: one not started yet, or one whose run
    stopped moving (lost, or released to a continuation)."""
    now = timezone.now()
    not_running = (
        Q(archive_state__in=(ArchiveState.NONE, ArchiveState.QUEUED, ArchiveState.FAILED))
        | Q(archive_progress_at__isnull=True)
        | Q(archive_progress_at__lt=now - STALE_AFTER)
    )
    return bool(
        Campaign.objects.filter(pk=campaign_id)
        .filter(not_running)
        .exclude(archive_state=ArchiveState.ARCHIVED)
        .update(archive_progress_at=now)
    )


def _update(campaign_id: int, **fields) -> None:
    fields.setdefault("archive_progress_at", timezone.now())
    Campaign.objects.filter(pk=campaign_id).update(**fields)


class _Counted:
    """The rows, counted; the campaign's archive shown moving every ``HEARTBEAT_ROWS``."""

    def __init__(self, rows, campaign_id: int):
        self.rows = rows
        self.campaign_id = campaign_id
        self.n = 0

    def __iter__(self):
        for row in self.rows:
            self.n += 1
            if self.n % HEARTBEAT_ROWS == 0:
                _update(self.campaign_id)
            yield row


def write_archive(campaign: Campaign, language: str | None = None) -> int:
    """Step 1: the export written, stored, read back and checked; then the campaign records
    it and moves to ``removing``.  Returns the number of messages written."""
    _update(campaign.pk, archive_state=ArchiveState.WRITING, archive_error="")
    messages = Message.objects.filter(campaign_id=campaign.pk)
    expected = messages.count()
    with translation.override(language or settings.LANGUAGE_CODE):
        headers, rows = message_rows(messages)
        counted = _Counted(rows, campaign.pk)
        with tempfile.TemporaryFile() as temporary:
            with gzip.GzipFile(fileobj=temporary, mode="wb", mtime=0) as compressed:
                for chunk in csv_stream(headers, counted):
                    compressed.write(chunk.encode("utf-8"))
            if counted.n != expected:
                raise ArchiveError(
                    f"{counted.n} messages written, {expected} expected: the campaign changed"
                )
            temporary.seek(0)
            previous = campaign.archive_file.name if campaign.archive_file else ""
            name = campaign.archive_file.storage.save(
                campaign_archive_name(campaign), File(temporary)
            )
    stored = archive_row_count(name)
    if stored != expected:
        campaign.archive_file.storage.delete(name)
        raise ArchiveError(f"the stored archive holds {stored} rows, {expected} expected")
    with transaction.atomic():
        _update(
            campaign.pk,
            archive_file=name,
            archived_message_count=expected,
            archive_removed_count=0,
            archive_state=ArchiveState.REMOVING,
        )
    if previous and previous != name:
        campaign.archive_file.storage.delete(previous)
    return expected


def campaign_archive_name(campaign: Campaign) -> str:
    field = Campaign._meta.get_field("archive_file")
    return field.generate_filename(campaign, f"campaign-{campaign.pk}-messages.csv.gz")


@contextmanager
def open_archive(name: str) -> Iterator[io.TextIOWrapper]:
    """A stored archive's CSV text (BOM included), decompressed as it is read."""
    storage = Campaign._meta.get_field("archive_file").storage
    with (
        storage.open(name, "rb") as raw,
        gzip.GzipFile(fileobj=raw) as unzipped,
        io.TextIOWrapper(unzipped, encoding="utf-8", newline="") as text,
    ):
        yield text


def archive_chunks(name: str, size: int = 64 * 1024) -> Iterator[str]:
    """A stored archive's CSV text in chunks, for a streamed download."""
    with open_archive(name) as text:
        while chunk := text.read(size):
            yield chunk


def archive_row_count(name: str) -> int:
    """The rows of a stored archive, not counting its header (a cell may hold line breaks:
    records are counted, not lines)."""
    with open_archive(name) as text:
        return sum(1 for _row in csv.reader(text)) - 1


def remove_messages(
    campaign_id: int, batch: int = BATCH, budget_s: float | None = None
) -> tuple[int, bool]:
    """Step 2: the campaign's messages and their delivery reports removed ``batch`` at a time,
    each batch one transaction that also counts its progress on the campaign; the replies to
    them stay (linked to the campaign, no longer to the message).  Stops after ``budget_s``
    seconds.  Returns how many went, and whether none is left."""
    removed = 0
    started = time.monotonic()
    while True:
        with transaction.atomic():
            pks = list(
                Message.objects.filter(campaign_id=campaign_id)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not pks:
                return removed, True
            DeliveryReport.objects.filter(message_id__in=pks).delete()
            InboundMessage.objects.filter(message_id__in=pks).update(message=None)
            # One DELETE: the reports and replies that pointed at them were handled above.
            gone = Message.objects.filter(pk__in=pks)._raw_delete(Message.objects.db)
            Campaign.objects.filter(pk=campaign_id).update(
                archive_removed_count=F("archive_removed_count") + gone,
                archive_progress_at=timezone.now(),
            )
        removed += gone
        if budget_s is not None and time.monotonic() - started > budget_s:
            return removed, False
