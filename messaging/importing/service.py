"""Importing a spreadsheet into a recipient list.

Lifecycle of an ``ImportJob``: ``inspect_upload`` stores the file and describes it (format,
sheet, header, detected phone column, a sample); the marketer confirms the mapping; then
``run_import`` (in the request for a small file, in a django-q2 task otherwise) imports it.

All or nothing, with visible progress — two phases:

1. *Read and validate* (no transaction; nothing is written to the list).  Rows stream from the
   file; each phone is normalized, checked against the phones seen earlier in the file, against
   the suppression list and against the list's current recipients (batched queries per chunk).
   Accepted rows go to a staging file on disk, rejected rows to the rejected-rows report.  After
   every chunk the job's progress is saved in its own autocommitted UPDATE, so the browser sees
   it while the import runs.
2. *Save* (one transaction).  The list row is locked (``SELECT … FOR UPDATE``: two imports into
   one list take turns), the staged rows are inserted — PostgreSQL: ``COPY`` straight into the
   recipient table (psycopg 3 ``cursor.copy``); other databases: ``bulk_create`` in chunks
   ignoring conflicts (the twins of ``services.sql.rows.insert_staged_recipients``) — the
   list's variable columns are extended and the job is marked done with its counts, all in
   that one transaction.  A phone added to the list by other means
   between the phases makes the COPY fail on the unique constraint: its savepoint is rolled
   back and the rows go through a temporary table and ``INSERT … ON CONFLICT DO NOTHING``
   instead; such phones are counted as already in the list.

A failure in phase 1 leaves the list untouched because nothing was written to it; a failure in
phase 2 rolls the whole transaction back.  Either way the list is as it was and the job says
``failed`` with the reason (that UPDATE runs after the rollback).
"""

from __future__ import annotations

import csv
import logging
import os
import queue
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path

from django.conf import settings
from django.core.files.base import File
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.audit import Action, record
from messaging.models import ImportJob, Recipient, RecipientList, Suppression
from messaging.services import sql
from messaging.services.sql import rows as rows_sql

from .cells import escape_cell
from .phones import Rejection, normalize
from .readers import SpreadsheetError, Table, cell_text, no_rows, open_table

logger = logging.getLogger(__name__)

CHUNK_SIZE = 5000  # rows per validation batch, progress update and insert batch
SYNC_MAX_ROWS = 5000  # smaller files import in the request; larger ones in a task
SYNC_MAX_BYTES = 1024 * 1024


# --------------------------------------------------------------------------- validation


@dataclass
class Rejected:
    row: int
    reason: str
    value: str
    values: list = field(default_factory=list)


class RowChecker:
    """The validation every import path shares (marketer pages, task, admin Resource).

    ``check`` takes one row's phone cell: it returns the normalized phone, or ``None`` when the
    row is rejected (recorded with its reason) or repeats a phone seen earlier in the file
    (counted).  ``filter_chunk`` then drops, from a batch of checked phones, those on the
    suppression list or already in the recipient list (counted)."""

    def __init__(self, recipient_list: RecipientList | None, *, allow_international: bool):
        self.recipient_list_id = recipient_list.pk if recipient_list else None
        self.allow_international = allow_international
        self.seen: set[int] = set()
        self.duplicate_in_file = 0
        self.duplicate_in_list = 0
        self.suppressed = 0
        self.rejected = 0
        self.blank = 0
        self.on_reject = None  # callable(Rejected)
        self._check_list = bool(
            self.recipient_list_id
            and Recipient.objects.filter(recipient_list_id=self.recipient_list_id).exists()
        )
        self._check_suppression = Suppression.objects.active().exists()

    def check(self, row: int, raw, values=()) -> str | None:
        phone = normalize(raw, allow_international=self.allow_international)
        if phone.__class__ is not str:
            if (raw is None or raw == "") and not any(cell_text(v) for v in values):
                self.blank += 1  # a row of empty strings: not data
                return None
            self.reject(row, phone, raw, values)
            return None
        # Ints take half the memory of strings in the dedupe set (1M phones: ~70 MB, not ~100).
        key = int(phone) if phone[0] != "+" else -int(phone[1:])
        if key in self.seen:
            self.duplicate_in_file += 1
            return None
        self.seen.add(key)
        return phone

    def reject(self, row: int, rejection: Rejection, raw, values=()) -> None:
        self.rejected += 1
        if self.on_reject is not None:
            self.on_reject(
                Rejected(
                    row=row,
                    reason=rejection.message,
                    value=cell_text(raw),
                    values=list(values),
                )
            )

    def filter_chunk(self, phones: Iterable[str]) -> set[str]:
        """The phones of this batch that must not be imported (suppressed or already listed)."""
        phones = list(phones)
        drop: set[str] = set()
        if self._check_suppression and phones:
            suppressed = set(
                Suppression.objects.active()
                .filter(phone__in=phones)
                .values_list("phone", flat=True)
            )
            self.suppressed += len(suppressed)
            drop |= suppressed
        if self._check_list and phones:
            listed = set(
                Recipient.objects.filter(
                    recipient_list_id=self.recipient_list_id, phone__in=phones
                ).values_list("phone", flat=True)
            )
            listed -= drop
            self.duplicate_in_list += len(listed)
            drop |= listed
        return drop


# --------------------------------------------------------------------------- inspection


def inspect_upload(
    recipient_list: RecipientList,
    upload,
    *,
    user=None,
    sheet: str | None = None,
    allow_international: bool = False,
) -> ImportJob:
    """Store an uploaded file as a new job and describe it.  Raises ``SpreadsheetError``
    (and keeps nothing) when the file cannot be imported."""
    job = ImportJob(
        recipient_list=recipient_list,
        created_by=user if user is not None and user.is_authenticated else None,
        original_name=_file_name(upload.name),
        allow_international=allow_international,
    )
    job.file.save(job.original_name, upload, save=False)
    try:
        describe(job, sheet=sheet)
    except Exception:
        job.file.delete(save=False)
        raise
    job.save()
    return job


_NOT_IN_A_NAME = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _file_name(name: str | None) -> str:
    """The uploaded file's name as the job keeps it: its last part, without the characters a
    database may refuse (NUL in PostgreSQL, lone surrogates anywhere)."""
    name = _NOT_IN_A_NAME.sub("", os.path.basename((name or "").replace("\\", "/"))).strip()
    return name[:255] or "upload"


def choose_mapping(
    job: ImportJob, *, sheet: str, phone_column: str, allow_international: bool
) -> Table | None:
    """Save the marketer's choices on the mapping page.  Another sheet is read again (its phone
    column detected anew; its table returned to show); otherwise the phone column is taken.
    Raises ``SpreadsheetError`` (and saves nothing) when the sheet cannot be read."""
    table = None
    if sheet and sheet != job.sheet:
        job.phone_column = ""
        table = describe(job, sheet=sheet)
    else:
        job.phone_column = phone_column
    job.allow_international = allow_international
    job.save()
    return table


def describe(job: ImportJob, *, sheet: str | None = None) -> Table:
    """(Re)read the job's file and fill in its format, sheet, columns and detected phone
    column.  Does not save the job."""
    table = open_table(job.file.path, sheet=sheet or None)
    job.file_format = table.file_format
    job.encoding = table.encoding
    job.sheets = table.sheets
    job.sheet = table.sheet
    job.headers = table.headers
    if job.phone_column not in table.headers:
        job.phone_column = table.phone_column or ""
    job.estimated_rows = table.estimated_rows
    return table


def job_table(job: ImportJob) -> Table:
    return open_table(
        job.file.path,
        sheet=job.sheet or None,
        file_format=job.file_format or None,
        encoding=job.encoding or None,
    )


def runs_in_request(job: ImportJob) -> bool:
    return job.estimated_rows < SYNC_MAX_ROWS and job.file.size < SYNC_MAX_BYTES


@dataclass
class Preview:
    rows: int = 0
    valid: int = 0
    duplicate_in_file: int = 0
    duplicate_in_list: int = 0
    suppressed: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    complete: bool = True


def preview(job: ImportJob, table: Table | None = None, *, limit: int = SYNC_MAX_ROWS) -> Preview:
    """Counts for the confirmation page: the whole import checked without saving, for files of
    up to ``limit`` rows (larger ones show the estimate only)."""
    table = table or job_table(job)
    result = Preview()
    if not job.phone_column:
        return result
    phone_index = table.column_index(job.phone_column)
    checker = RowChecker(job.recipient_list, allow_international=job.allow_international)
    checker.on_reject = result.rejected.append
    batch: list[str] = []
    for number, values in table.rows():
        if result.rows >= limit:
            result.complete = False
            break
        result.rows += 1
        phone = checker.check(number, values[phone_index], values)
        if phone is not None:
            batch.append(phone)
        if len(batch) >= CHUNK_SIZE:
            result.valid += len(batch) - len(checker.filter_chunk(batch))
            batch = []
    result.valid += len(batch) - len(checker.filter_chunk(batch))
    result.rows -= checker.blank
    result.duplicate_in_file = checker.duplicate_in_file
    result.duplicate_in_list = checker.duplicate_in_list
    result.suppressed = checker.suppressed
    return result


# --------------------------------------------------------------------------- running


class ImportFailed(Exception):
    pass


def _set(job: ImportJob, **fields) -> None:
    """Save fields of the job at once (autocommit: the progress page sees them)."""
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**fields)


def _checkpoint(job: ImportJob, saved: int) -> None:
    """Called after each chunk saved in phase 2; a test hook for failures midway."""


def run_import(job_id: int, *, language: str | None = None) -> ImportJob:
    """Import a confirmed job's file into its list (all or nothing).  Never raises for a bad
    file or a failed import: the job records what happened."""
    claimed = ImportJob.objects.filter(
        pk=job_id, state__in=(ImportJob.State.INSPECTED, ImportJob.State.QUEUED)
    ).update(state=ImportJob.State.RUNNING, started_at=timezone.now(), error="")
    job = ImportJob.objects.select_related("recipient_list").get(pk=job_id)
    if not claimed:
        return job  # already run or running (a task retried, a double submit)
    with translation.override(language or settings.LANGUAGE_CODE):
        stage_path = None
        try:
            staged = _run_pipelined(job) if _pipelined() else None
            if staged is None:  # not on PostgreSQL, inside a transaction, or a late duplicate
                staged = _read_and_stage(job)
                stage_path = staged[0]
                _set(job, state=ImportJob.State.SAVING)
                _save(job, *staged)
            else:
                stage_path = staged[0]
        except Exception as e:
            if isinstance(e, SpreadsheetError | ImportFailed):
                error = str(e)
            else:
                logger.exception("import %s failed", job.pk)
                error = gettext("The import failed (%(error)s); the list was not changed.") % {
                    "error": type(e).__name__
                }
            _set(
                job,
                state=ImportJob.State.FAILED,
                error=error,
                finished_at=timezone.now(),
                imported_count=0,
            )
        finally:
            if stage_path:
                Path(stage_path).unlink(missing_ok=True)
    return job


def _read_and_stage(job: ImportJob, sink=None):
    """Phase 1: validate every row; accepted rows to a staging file (PostgreSQL COPY text
    format: phone, variables as JSON, source row), rejected ones to the report."""
    table = job_table(job)
    if not job.phone_column:
        raise ImportFailed(gettext("Choose the column that holds the phone numbers."))
    phone_index = table.column_index(job.phone_column)
    variables = [(name, i) for i, name in enumerate(table.headers) if i != phone_index]
    checker = RowChecker(job.recipient_list, allow_international=job.allow_international)
    report = _RejectedReport(job, table.headers)
    checker.on_reject = report.write
    escape = encode_basestring
    keys = [(escape(name) + ":", i) for name, i in variables]

    def variables_json(values) -> str:
        # JSON by hand (C string escaping, keys escaped once): 3× faster than json.dumps.
        return (
            "{"
            + ",".join(
                [
                    key
                    + escape(
                        value.strip() if (value := values[i]).__class__ is str else cell_text(value)
                    )
                    for key, i in keys
                ]
            )
            + "}"
        )

    list_id = job.recipient_list_id

    fd, stage_path = tempfile.mkstemp(prefix=f"import-{job.pk}-", suffix=".stage")
    accepted = 0
    read = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stage:
            chunk: list[tuple[str, int, list]] = []

            def flush():
                nonlocal accepted
                drop = checker.filter_chunk(phone for phone, _n, _v in chunk)
                lines = []
                for phone, number, values in chunk:
                    if drop and phone in drop:
                        continue
                    # JSON by hand (C string escaping, keys escaped once): 3× json.dumps.
                    text = variables_json(values)
                    if "\\" in text:
                        if "\\u0000" in text:  # PostgreSQL refuses NUL in jsonb: drop them
                            text = variables_json(
                                [cell_text(v).replace("\x00", "") for v in values]
                            )
                        text = text.replace("\\", "\\\\")  # COPY text format
                    lines.append(f"{list_id}\t{phone}\t{text}\t{number}\n")
                block = "".join(lines)
                stage.write(block)
                if sink is not None:
                    sink(block.encode())
                accepted += len(lines)
                chunk.clear()

            for number, values in table.rows():
                read += 1
                phone = checker.check(number, values[phone_index], values)
                if phone is not None:
                    chunk.append((phone, number, values))
                    if len(chunk) >= CHUNK_SIZE:
                        flush()
                if read % CHUNK_SIZE == 0:
                    _set(job, processed_rows=read, rejected_count=checker.rejected)
            flush()
        if read == checker.blank:
            raise no_rows()  # nothing to import: the list keeps its columns too
        _set(job, processed_rows=read - checker.blank)
        report.close()
    except BaseException:
        report.close(discard=True)
        Path(stage_path).unlink(missing_ok=True)
        raise
    return stage_path, [name for name, _i in variables], checker, accepted


class _RejectedReport:
    """The downloadable CSV of rejected rows: row number, reason, the phone cell, then the
    row as it was in the file.  UTF-8 with a BOM so that Excel shows Chinese correctly."""

    def __init__(self, job: ImportJob, headers: list[str]):
        self.job = job
        self.headers = headers
        self.file = None
        self.path = None
        self.writer = None

    def write(self, rejected: Rejected) -> None:
        if self.writer is None:
            fd, self.path = tempfile.mkstemp(prefix=f"rejected-{self.job.pk}-", suffix=".csv")
            self.file = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.file)
            self.writer.writerow(
                [
                    gettext("row"),
                    gettext("reason"),
                    gettext("phone as in the file"),
                    *self.headers,
                ]
            )
        self.writer.writerow(
            [rejected.row, rejected.reason, escape_cell(rejected.value)]
            + [escape_cell(cell_text(v)) for v in rejected.values]
        )

    def close(self, discard: bool = False) -> None:
        if self.file is None:
            return
        self.file.close()
        self.file = None
        if not discard:
            stem = Path(self.job.original_name).stem[:60]
            # Phone numbers: a folder no one can guess, and served only by the import's view
            # (``views.rejected_report``), never from MEDIA_ROOT directly.
            name = f"imports/rejected/{os.urandom(16).hex()}/{self.job.pk}-{stem}-rejected.csv"
            with open(self.path, "rb") as f:
                self.job.rejected_report.save(name, File(f), save=False)
            ImportJob.objects.filter(pk=self.job.pk).update(
                rejected_report=self.job.rejected_report.name
            )
        os.unlink(self.path)


def _save(job: ImportJob, stage_path: str, variable_names, checker: RowChecker, accepted: int):
    """Phase 2: everything below commits together or not at all."""
    with transaction.atomic():
        recipient_list = RecipientList.objects.select_for_update().get(pk=job.recipient_list_id)
        inserted = rows_sql.insert_staged_recipients(
            job.recipient_list_id,
            stage_path,
            accepted=accepted,
            stage_name=f"import_stage_{job.pk}",
            chunk_size=CHUNK_SIZE,
            progress=lambda saved: _checkpoint(job, saved),
        )
        _finish(job, recipient_list, variable_names, checker, accepted, inserted)


def _finish(job, recipient_list, variable_names, checker, accepted: int, inserted: int) -> None:
    """The end of phase 2, inside its transaction: the list's columns, the job's result."""
    late_duplicates = accepted - inserted  # added to the list by someone meanwhile
    columns = list(recipient_list.columns or [])
    new_columns = [name for name in variable_names if name not in columns]
    if new_columns:
        recipient_list.columns = columns + new_columns
        recipient_list.save(update_fields=["columns"])
    _set(
        job,
        state=ImportJob.State.DONE,
        finished_at=timezone.now(),
        imported_count=inserted,
        duplicate_in_file_count=checker.duplicate_in_file,
        duplicate_in_list_count=checker.duplicate_in_list + late_duplicates,
        suppressed_count=checker.suppressed,
        rejected_count=checker.rejected,
    )


# --------------------------------------------------------------------------- PostgreSQL pipeline
#
# On PostgreSQL, outside any transaction (a task, a request), phase 2 does not wait for phase 1:
# a second thread opens the import's one transaction, locks the list and runs the COPY while
# this thread is still reading — the database works on one core while Python parses on another.
# The transaction is the same all-or-nothing one: it commits only after the last row and the
# job's result, and rolls back on any error (here or there).  Progress and the per-chunk
# suppression / list look-ups stay on this thread's connection (autocommit), so the browser
# sees progress.  The staging file is still written: when the COPY meets a phone added to the
# list meanwhile, the import falls back to the sequential path.  Whether it runs is decided by
# ``services.sql.dialect()``, so forcing the generic twins turns it off too.

_END = object()


def _pipelined() -> bool:
    return sql.dialect() == sql.POSTGRESQL and not connection.in_atomic_block


class _Aborted(Exception):
    pass


class _CopyWorker(threading.Thread):
    def __init__(self, job: ImportJob):
        super().__init__(name=f"import-{job.pk}-copy", daemon=True)
        self.job = job
        self.inbox: queue.Queue = queue.Queue(maxsize=16)
        self.error: BaseException | None = None

    def send(self, item) -> None:
        while True:
            if self.error is not None or not self.is_alive():
                raise self.error or RuntimeError("COPY worker stopped")
            try:
                self.inbox.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def run(self) -> None:
        from django.db import connection as own  # this thread's own connection

        try:
            with transaction.atomic():
                recipient_list = RecipientList.objects.select_for_update().get(
                    pk=self.job.recipient_list_id
                )
                table = Recipient._meta.db_table
                columns = rows_sql.STAGED_COLUMNS
                with (
                    own.cursor() as cursor,
                    cursor.cursor.copy(f"COPY {table} {columns} FROM STDIN") as copy,
                ):
                    while (block := self.inbox.get()) is not _END:
                        if block is None:
                            raise _Aborted
                        copy.write(block)
                finish = self.inbox.get()
                if finish is None:
                    raise _Aborted
                _checkpoint(self.job, -1)
                finish(recipient_list)
        except BaseException as e:
            self.error = e
        finally:
            own.close()

    def abort(self) -> None:
        while self.is_alive():
            try:
                self.inbox.put(None, timeout=0.2)
                break
            except queue.Full:
                if self.error is not None:
                    break
        self.join()


def _run_pipelined(job: ImportJob):
    import psycopg

    worker = _CopyWorker(job)
    worker.start()
    try:
        staged = _read_and_stage(job, sink=worker.send)
    except BaseException:
        worker.abort()
        if isinstance(worker.error, psycopg.errors.UniqueViolation):
            return None
        raise
    stage_path, variable_names, checker, accepted = staged
    try:
        _set(job, state=ImportJob.State.SAVING)
        worker.send(_END)
        worker.send(
            lambda recipient_list: _finish(
                job, recipient_list, variable_names, checker, accepted, accepted
            )
        )
    except BaseException:
        worker.abort()
        if not isinstance(worker.error, psycopg.errors.UniqueViolation):
            Path(stage_path).unlink(missing_ok=True)
            raise
    worker.join()
    if worker.error is not None:
        Path(stage_path).unlink(missing_ok=True)
        if isinstance(worker.error, psycopg.errors.UniqueViolation):
            # A phone was added to the list after it was checked: the sequential path skips
            # it (temporary table, ON CONFLICT DO NOTHING).  The job counts were not saved.
            _set(job, processed_rows=0)
            return None
        raise worker.error
    return staged


# --------------------------------------------------------------------------- starting


def start(job: ImportJob, *, language: str | None = None) -> ImportJob:
    """Run a confirmed job: here for a small file, in a django-q2 task for a large one."""
    # Recorded when confirmed, for whoever confirmed it (the task runs for nobody).
    record(
        Action.IMPORTED,
        job.recipient_list,
        details={"import_job": job.pk, "file": job.original_name},
    )
    if runs_in_request(job):
        return run_import(job.pk, language=language)
    from django_q.tasks import async_task

    _set(job, state=ImportJob.State.QUEUED)
    task_id = async_task(
        "messaging.importing.tasks.import_recipients",
        job.pk,
        language,
        task_name=f"import-{job.pk}",
        group="recipient-imports",
    )
    ImportJob.objects.filter(pk=job.pk, task_id="").update(task_id=task_id or "")
    job.refresh_from_db()
    return job
