"""The import service: all or nothing, progress visible while it runs, the task path."""

import pytest
from django.db import connection
from django.utils import translation
from django_q.conf import Conf

from messaging.importing import service
from messaging.importing.readers import Table
from messaging.models import ImportJob, Recipient, RecipientList

from .conftest import text_upload

pytestmark = pytest.mark.django_db


def csv_of(n: int, start: int = 1) -> str:
    lines = ["手机号,姓名"] + [f"139{i:08d},用户{i}" for i in range(start, start + n)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def existing(recipient_list):
    recipient_list.columns = ["等级"]
    recipient_list.save()
    Recipient.objects.create(recipient_list=recipient_list, phone="13000000000")
    return recipient_list


def inspect(recipient_list, text):
    return service.inspect_upload(recipient_list, text_upload("list.csv", text))


def test_a_failure_while_saving_leaves_the_list_as_it_was(existing, monkeypatch):
    monkeypatch.setattr(service, "CHUNK_SIZE", 5)
    job = inspect(existing, csv_of(12))
    seen = []

    def fail_midway(job, saved):
        # Rows of this import are already in the table when it fails.
        seen.append(Recipient.objects.filter(recipient_list=existing).count())
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "_checkpoint", fail_midway)
    with translation.override("en"):
        job = service.run_import(job.pk, language="en")
    assert seen and seen[0] > 1
    assert job.state == ImportJob.State.FAILED
    assert job.error == "The import failed (RuntimeError); the list was not changed."
    assert list(
        Recipient.objects.filter(recipient_list=existing).values_list("phone", flat=True)
    ) == ["13000000000"]
    existing.refresh_from_db()
    assert existing.columns == ["等级"]
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and job.imported_count == 0


def test_a_failure_while_reading_leaves_the_list_as_it_was(existing, monkeypatch):
    job = inspect(existing, csv_of(10))
    original_rows = Table.rows

    def broken_rows(self):
        for i, row in enumerate(original_rows(self)):
            if i == 5:
                raise OSError("connection reset")
            yield row

    monkeypatch.setattr(Table, "rows", broken_rows)
    job = service.run_import(job.pk)
    assert job.state == ImportJob.State.FAILED
    assert Recipient.objects.filter(recipient_list=existing).count() == 1


def test_the_list_is_extended_and_counts_add_up(existing):
    Recipient.objects.create(recipient_list=existing, phone="13900000003")
    job = service.run_import(inspect(existing, csv_of(6) + "13900000001,again\nbad,x\n").pk)
    assert job.state == ImportJob.State.DONE
    assert job.processed_rows == 8
    assert (job.imported_count, job.duplicate_in_file_count, job.duplicate_in_list_count) == (
        5,
        1,
        1,
    )
    assert job.rejected_count == 1 and job.rejected_report
    existing.refresh_from_db()
    assert existing.columns == ["等级", "姓名"]
    assert Recipient.objects.filter(recipient_list=existing).count() == 7


def test_a_job_runs_once(recipient_list):
    job = inspect(recipient_list, csv_of(3))
    service.run_import(job.pk)
    again = service.run_import(job.pk)
    assert again.state == ImportJob.State.DONE and again.imported_count == 3
    assert Recipient.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_progress_is_committed_outside_the_import_transaction(monkeypatch):
    recipient_list = RecipientList.objects.create(name="big")
    monkeypatch.setattr(service, "CHUNK_SIZE", 10)
    job = inspect(recipient_list, csv_of(35))
    progress = []
    original_set = service._set

    def watching_set(job, **fields):
        original_set(job, **fields)
        if "processed_rows" in fields and not connection.in_atomic_block:
            # committed: another connection (the browser's request) reads the same
            progress.append(ImportJob.objects.get(pk=job.pk).processed_rows)

    original_save = service._save

    def checking_save(job, *args):
        assert not connection.in_atomic_block
        assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.SAVING
        return original_save(job, *args)

    monkeypatch.setattr(service, "_set", watching_set)
    monkeypatch.setattr(service, "_save", checking_save)
    job = service.run_import(job.pk)
    assert job.state == ImportJob.State.DONE, job.error
    assert progress == [10, 20, 30, 35]


def test_large_files_go_to_the_task_queue(recipient_list, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(service, "SYNC_MAX_ROWS", 2)
    job = inspect(recipient_list, csv_of(20))
    assert not service.runs_in_request(job)
    job = service.start(job, language="en")
    assert job.task_id
    assert job.state == ImportJob.State.DONE and job.imported_count == 20


def test_small_files_import_in_the_request(recipient_list, monkeypatch):
    def no_queue(*args, **kwargs):
        raise AssertionError("queued")

    monkeypatch.setattr("django_q.tasks.async_task", no_queue)
    job = service.start(inspect(recipient_list, csv_of(3)))
    assert job.state == ImportJob.State.DONE and not job.task_id


def test_preview_counts_without_saving(recipient_list):
    Recipient.objects.create(recipient_list=recipient_list, phone="13900000002")
    job = inspect(recipient_list, csv_of(4) + "13900000001,dup\n1.38E+10,sci\n")
    preview = service.preview(job)
    assert (preview.rows, preview.valid, preview.duplicate_in_file, preview.duplicate_in_list) == (
        6,
        3,
        1,
        1,
    )
    assert [r.row for r in preview.rejected] == [7]
    assert Recipient.objects.count() == 1


def test_a_phone_added_between_the_phases_is_counted_not_fatal(recipient_list, monkeypatch):
    job = inspect(recipient_list, csv_of(5))
    original = service._read_and_stage

    def then_someone_adds_one(job):
        staged = original(job)
        Recipient.objects.create(recipient_list=recipient_list, phone="13900000003")
        return staged

    monkeypatch.setattr(service, "_read_and_stage", then_someone_adds_one)
    job = service.run_import(job.pk)
    assert job.state == ImportJob.State.DONE, job.error
    assert (job.imported_count, job.duplicate_in_list_count) == (4, 1)
    assert Recipient.objects.filter(recipient_list=recipient_list).count() == 5


def test_awkward_values_survive_the_staging_round_trip(recipient_list):
    text = '手机号,备注,路径\n13900000001,"say ""hi""\tnow",C:\\temp\\u0000x\n13900000002,ab,\\\n'
    job = service.run_import(inspect(recipient_list, text).pk)
    assert job.state == ImportJob.State.DONE, job.error
    first = Recipient.objects.get(phone="13900000001").variables
    assert first == {"备注": 'say "hi"\tnow', "路径": "C:\\temp\\u0000x"}
    assert Recipient.objects.get(phone="13900000002").variables == {"备注": "ab", "路径": "\\"}


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY pipeline runs on PostgreSQL"
)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_pipelined_import_outside_a_transaction(monkeypatch):
    recipient_list = RecipientList.objects.create(name="pipeline", columns=["等级"])
    monkeypatch.setattr(service, "CHUNK_SIZE", 5)
    job = service.run_import(inspect(recipient_list, csv_of(23) + "bad,x\n").pk)
    assert job.state == ImportJob.State.DONE, job.error
    job.refresh_from_db()
    assert (job.imported_count, job.rejected_count, job.processed_rows) == (23, 1, 24)
    recipient_list.refresh_from_db()
    assert recipient_list.columns == ["等级", "姓名"]
    assert Recipient.objects.filter(recipient_list=recipient_list).count() == 23


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_pipelined_import_is_all_or_nothing(monkeypatch):
    recipient_list = RecipientList.objects.create(name="pipeline")
    Recipient.objects.create(recipient_list=recipient_list, phone="13000000000")
    monkeypatch.setattr(service, "CHUNK_SIZE", 5)

    def fail_after_the_copy(job, saved):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "_checkpoint", fail_after_the_copy)
    job = service.run_import(inspect(recipient_list, csv_of(23)).pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and job.imported_count == 0
    assert Recipient.objects.filter(recipient_list=recipient_list).count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_pipelined_import_falls_back_on_a_late_duplicate(monkeypatch):
    recipient_list = RecipientList.objects.create(name="pipeline")
    Recipient.objects.create(recipient_list=recipient_list, phone="13900000004")
    # As if the phone had been added after its chunk was checked.
    monkeypatch.setattr(service.RowChecker, "filter_chunk", lambda self, phones: set())
    job = service.run_import(inspect(recipient_list, csv_of(6)).pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE, job.error
    assert (job.imported_count, job.duplicate_in_list_count) == (5, 1)
    assert Recipient.objects.filter(recipient_list=recipient_list).count() == 6
