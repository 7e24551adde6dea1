"""The daily purge: only what is older than its window and may go, in batches."""

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule, Task

from messaging.models import (
    ArchiveState,
    Campaign,
    DeliveryReport,
    ImportJob,
    Message,
    PollRecord,
    PushRecord,
)
from messaging.services import retention, schedules
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days_ago(days: float):
    return NOW - timedelta(days=days)


def pushes(account, *ages):
    records = []
    for age in ages:
        record = PushRecord.objects.create(
            vendor_account=account, method="POST", path="/x/", body=b"[]", outcome="accepted"
        )
        PushRecord.objects.filter(pk=record.pk).update(received_at=days_ago(age))
        records.append(record)
    return records


def test_pushes_older_than_their_window_go_in_batches(vendor_account):
    old = pushes(vendor_account, 31, 40, 50, 60, 90)
    new = pushes(vendor_account, 29, 1)
    result = retention.purge(now=NOW, batch=2)
    assert result.counts["pushes"] == 5
    assert result.batches["pushes"] == 3  # 2 + 2 + 1
    assert not PushRecord.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert PushRecord.objects.filter(pk__in=[r.pk for r in new]).count() == 2


def test_a_poll_answer_goes_only_once_applied(vendor_account):
    def answer(age, applied):
        record = PollRecord.objects.create(
            vendor_account=vendor_account, kind="reports", applied_at=NOW if applied else None
        )
        PollRecord.objects.filter(pk=record.pk).update(received_at=days_ago(age))
        return record.pk

    old_applied, old_waiting, new_applied = answer(31, True), answer(31, False), answer(2, True)
    assert retention.purge(now=NOW).counts["poll answers"] == 1
    assert set(PollRecord.objects.values_list("pk", flat=True)) == {old_waiting, new_applied}
    assert old_applied not in PollRecord.objects.values_list("pk", flat=True)


def report(account, message, age):
    item = DeliveryReport.objects.create(
        vendor_account=account,
        source="push",
        vendor_message_id=message.vendor_message_id if message else "nobody",
        status=Status.DELIVERED,
        raw="{}",
        message=message,
    )
    DeliveryReport.objects.filter(pk=item.pk).update(received_at=days_ago(age))
    return item.pk


def test_a_report_that_could_still_move_its_message_is_kept(vendor_account, make_campaign):
    campaign = make_campaign(vendor_account, n=1)

    def message(i, status):
        return Message.objects.create(
            campaign=campaign,
            vendor_account=vendor_account,
            phone=f"1380000000{i}",
            content="x",
            custom_id=f"our-{i}",
            vendor_message_id=f"v{i}",
            status=status,
        )

    final = message(1, Status.DELIVERED)
    awaiting = message(2, Status.SUBMITTED)  # e.g. one part of a long message reported
    no_report = message(3, Status.NO_REPORT)
    gone = [
        report(vendor_account, final, 91),
        report(vendor_account, None, 91),  # matched nothing
        report(vendor_account, None, 120),
    ]
    kept = [
        report(vendor_account, awaiting, 91),
        report(vendor_account, no_report, 91),
        report(vendor_account, final, 89),
        report(vendor_account, None, 10),
    ]
    result = retention.purge(now=NOW, batch=1)
    assert result.counts["delivery reports"] == 3
    assert result.batches["delivery reports"] == 3
    assert not DeliveryReport.objects.filter(pk__in=gone).exists()
    assert DeliveryReport.objects.filter(pk__in=kept).count() == len(kept)


def task(age, success):
    started = days_ago(age)
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"task-{uuid.uuid4().hex[:8]}",
        func="messaging.tasks.send_batch",
        started=started,
        stopped=started,
        success=success,
    ).pk


def test_task_results_finished_after_7_days_failed_after_30():
    gone = [task(8, True), task(30, True), task(31, False)]
    kept = [task(6, True), task(8, False), task(29, False)]
    result = retention.purge(now=NOW, batch=2)
    assert result.counts["task results"] == 3
    assert result.batches["task results"] == 2
    assert set(Task.objects.values_list("pk", flat=True)) == set(kept)
    assert not Task.objects.filter(pk__in=gone).exists()


def job(recipient_list, media, state, age):
    item = ImportJob(recipient_list=recipient_list, original_name="a.csv", state=state)
    item.file.save("a.csv", ContentFile(b"phone\n138\n"), save=False)
    item.rejected_report.save("imports/r.csv", ContentFile(b"row\n"), save=False)
    item.save()
    ImportJob.objects.filter(pk=item.pk).update(finished_at=days_ago(age), imported_count=5)
    return item


def test_import_files_of_finished_imports_go_and_the_job_stays(media, make_campaign):
    from messaging.models import RecipientList

    recipients = RecipientList.objects.create(name="l")
    old = job(recipients, media, ImportJob.State.DONE, 31)
    failed = job(recipients, media, ImportJob.State.FAILED, 40)
    running = job(recipients, media, ImportJob.State.RUNNING, 40)
    recent = job(recipients, media, ImportJob.State.DONE, 3)
    paths = {
        j.pk: (media / j.file.name, media / j.rejected_report.name) for j in ImportJob.objects.all()
    }
    result = retention.purge(now=NOW, batch=1)
    assert result.counts["import files"] == 2
    for item in (old, failed):
        item.refresh_from_db()
        assert not item.file and not item.rejected_report
        assert item.imported_count == 5
        assert not any(p.exists() for p in paths[item.pk])
    for item in (running, recent):
        item.refresh_from_db()
        assert item.file and item.rejected_report
        assert all(p.exists() for p in paths[item.pk])
    assert retention.purge(now=NOW).counts["import files"] == 0


def test_dry_run_counts_and_removes_nothing(vendor_account, settings):
    pushes(vendor_account, 31, 32)
    task(8, True)
    result = retention.purge(now=NOW, dry_run=True)
    assert result.counts["pushes"] == 2
    assert result.counts["task results"] == 1
    assert PushRecord.objects.count() == 2 and Task.objects.count() == 1


def test_zero_keeps_a_kind_for_ever(vendor_account, settings):
    settings.RETAIN_PUSHES_DAYS = 0
    pushes(vendor_account, 400)
    assert "pushes" not in retention.purge(now=NOW).counts
    assert PushRecord.objects.count() == 1


def test_the_command_prints_what_would_go(vendor_account, capsys):
    pushes(vendor_account, 31)
    call_command("purge_old_data", "--dry-run")
    out = capsys.readouterr().out
    assert "pushes: 1 would go" in out
    assert PushRecord.objects.count() == 1
    call_command("purge_old_data", "--batch", "10")
    assert "pushes: 1 removed in 1 batches" in capsys.readouterr().out
    assert PushRecord.objects.count() == 0


def test_the_daily_schedule_exists_after_ensure_schedules():
    Schedule.objects.filter(name=schedules.PURGE_SCHEDULE).delete()
    schedules.ensure_schedules()
    schedules.ensure_schedules()
    schedule = Schedule.objects.get(name=schedules.PURGE_SCHEDULE)
    assert schedule.func == "messaging.tasks.purge_old_data"
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.repeats == -1
    assert schedule.next_run > timezone.now()


def test_the_task_purges(vendor_account):
    from messaging import tasks

    pushes(vendor_account, 31)
    assert "pushes 1" in tasks.purge_old_data()


def test_finished_campaigns_are_archived_after_archive_after_days(
    finished_campaign, settings, sync_tasks, django_capture_on_commit_callbacks
):
    settings.ARCHIVE_AFTER_DAYS = 7
    old = finished_campaign(name="old", days_ago=8)
    young = finished_campaign(name="young", days_ago=6)
    sending = finished_campaign(name="sending", days_ago=30, state=Campaign.State.SENDING)
    with django_capture_on_commit_callbacks(execute=True):
        result = retention.purge()
    assert result.archives_queued == 1
    for campaign, state in (
        (old, ArchiveState.ARCHIVED),
        (young, ArchiveState.NONE),
        (sending, ArchiveState.NONE),
    ):
        campaign.refresh_from_db()
        assert campaign.archive_state == state
    settings.ARCHIVE_AFTER_DAYS = 0
    assert retention.purge().archives_queued == 0
