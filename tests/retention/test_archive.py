"""Archiving a finished campaign: a file of its messages kept with it, the messages gone from
the hot tables, the counters, the page and the exports as they were."""

import csv
import gzip
import io
from datetime import timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone, translation

from messaging.models import ArchiveState, Campaign, DeliveryReport, InboundMessage, Message
from messaging.services import archive, wording
from messaging.services.campaigns import COUNTER_FIELDS, refresh_counters
from messaging.statuses import Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """The reasons are read in English here: pages without a language asked for, and the
    services' own words."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


KEPT = (*COUNTER_FIELDS, "total_count", "segment_count", "status", "finished_at")


def counters(campaign):
    return Campaign.objects.filter(pk=campaign.pk).values(*KEPT).get()


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def export(client, campaign, fmt="csv") -> bytes:
    response = client.get(reverse("portal:export_messages", args=[campaign.pk, fmt]))
    assert response.status_code == 200
    return body(response)


def test_archive_writes_the_export_then_removes_messages_and_reports(
    finished_campaign, marketer_client, media
):
    campaign = finished_campaign()
    other = finished_campaign(name="other")
    before = counters(campaign)
    exported_csv = export(marketer_client, campaign)
    exported_xlsx_rows = xlsx_rows(export(marketer_client, campaign, "xlsx"))
    message_pks = list(campaign.messages.values_list("pk", flat=True))

    result = archive.archive_campaign(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.ARCHIVED
    assert campaign.archived_at is not None
    assert campaign.archived_message_count == len(message_pks) == 7
    assert campaign.archive_removed_count == 7
    assert campaign.archive_file.name.startswith(f"archives/campaigns/{campaign.pk}/")
    assert campaign.archive_file.name.endswith(".csv.gz")
    assert (media / campaign.archive_file.name).exists()
    assert "7 messages" in result
    # The file is the export: its rows equal the messages.
    with gzip.open(media / campaign.archive_file.name) as stored:
        assert stored.read() == exported_csv
    rows = list(csv.reader(io.StringIO(exported_csv.decode("utf-8")[1:])))
    assert len(rows) == 1 + 7
    # Gone from the hot tables, with their reports; the other campaign untouched.
    assert not Message.objects.filter(pk__in=message_pks).exists()
    assert not DeliveryReport.objects.filter(message_id__in=message_pks).exists()
    assert other.messages.count() == 7
    assert DeliveryReport.objects.filter(message__campaign=other).count() == 4
    # The reply stays with its campaign.
    reply = InboundMessage.objects.get(campaign=campaign)
    assert reply.message_id is None
    # Counters are the truth and stay; a recount leaves them too.
    assert counters(campaign) == before
    refresh_counters([campaign.pk])
    assert counters(campaign) == before
    # The exports serve the archive: the same download as before.
    assert export(marketer_client, campaign) == exported_csv
    assert xlsx_rows(export(marketer_client, campaign, "xlsx")) == exported_xlsx_rows


def xlsx_rows(data: bytes):
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_archived_campaign_page_and_download(finished_campaign, marketer_client, media):
    campaign = finished_campaign()
    archive.archive_campaign(campaign.pk)
    campaign.refresh_from_db()
    page = marketer_client.get(reverse("portal:campaign", args=[campaign.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="archive-notice"' in html
    assert (
        campaign.archived_at.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M")
        in html
    )
    assert reverse("portal:archive_file", args=[campaign.pk]) in html
    assert 'id="archive-form"' not in html  # no second archive
    download = marketer_client.get(reverse("portal:archive_file", args=[campaign.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/gzip"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in download["Content-Disposition"]
    assert body(download) == (media / campaign.archive_file.name).read_bytes()
    stats = marketer_client.get(reverse("portal:campaign_stats", args=[campaign.pk]))
    assert stats.json()["counters"]["delivered"] == 3


def test_running_it_again_changes_nothing(finished_campaign):
    campaign = finished_campaign()
    archive.archive_campaign(campaign.pk)
    campaign.refresh_from_db()
    name = campaign.archive_file.name
    assert "already archived" in archive.archive_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.archive_file.name == name
    with pytest.raises(archive.ArchiveError):
        archive.request_archive(campaign.pk)


@pytest.mark.parametrize("state", [Campaign.State.SENDING, Campaign.State.PAUSED])
def test_an_unfinished_campaign_is_refused(finished_campaign, state):
    campaign = finished_campaign(state=state)
    with pytest.raises(archive.ArchiveError, match="completed or cancelled"):
        archive.request_archive(campaign.pk)
    with pytest.raises(archive.ArchiveError):
        archive.archive_campaign(campaign.pk)
    assert campaign.messages.count() == 7
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.FAILED
    assert not campaign.archive_file
    # The task's refusal, read on the page in either language (``wording``).
    assert "completed or cancelled" in wording.shown(campaign.archive_error, "en")
    assert "completed" not in wording.shown(campaign.archive_error, "zh-hans")


def test_messages_in_flight_or_awaiting_reports_are_refused(finished_campaign):
    campaign = finished_campaign(days_ago=1)
    first = campaign.messages.order_by("pk").first()
    Message.objects.filter(pk=first.pk).update(status=Status.SUBMITTED)
    refresh_counters([campaign.pk])
    campaign.refresh_from_db()
    # Reports may come for 72 hours after the campaign finished (the account's window).
    assert "Delivery reports may still come" in archive.refusal(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(finished_at=timezone.now() - timedelta(days=4))
    campaign.refresh_from_db()
    assert archive.refusal(campaign) == ""
    Message.objects.filter(pk=first.pk).update(status=Status.SUBMITTING)
    refresh_counters([campaign.pk])
    campaign.refresh_from_db()
    assert "on their way" in archive.refusal(campaign)


def test_an_interrupted_removal_continues(finished_campaign, monkeypatch, media):
    campaign = finished_campaign()
    batches = []
    real_f = archive.F

    def dying_f(name):
        batches.append(name)
        if len(batches) == 2:
            raise RuntimeError("worker killed")
        return real_f(name)

    monkeypatch.setattr(archive, "F", dying_f)
    with pytest.raises(RuntimeError):
        archive.archive_campaign(campaign.pk, batch=3)
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.REMOVING
    assert campaign.archive_removed_count == 3
    assert campaign.messages.count() == 4  # the first batch went, the second rolled back
    name = campaign.archive_file.name
    assert (media / name).exists()
    # The export already serves the file, whole.
    assert archive.is_archived(campaign)
    assert archive.archive_row_count(name) == 7

    monkeypatch.setattr(archive, "F", real_f)
    # While its run looks alive, a second run (a task handed out again) leaves it alone.
    assert "another worker" in archive.archive_campaign(campaign.pk, batch=3)
    assert campaign.messages.count() == 4
    # The worker was lost: a run after that continues.
    Campaign.objects.filter(pk=campaign.pk).update(
        archive_progress_at=timezone.now() - archive.STALE_AFTER - timedelta(seconds=1)
    )
    archive.archive_campaign(campaign.pk, batch=3)
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.ARCHIVED
    assert campaign.archive_removed_count == 7
    assert campaign.archive_file.name == name  # not written again
    assert campaign.messages.count() == 0


def test_an_interrupted_write_removes_nothing_and_is_written_again(
    finished_campaign, monkeypatch, media
):
    campaign = finished_campaign()

    def broken(name):
        raise OSError("disk full")

    monkeypatch.setattr(archive, "archive_row_count", broken)
    with pytest.raises(OSError):
        archive.archive_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.FAILED
    assert "disk full" in campaign.archive_error
    assert not campaign.archive_file
    assert campaign.messages.count() == 7
    monkeypatch.undo()
    archive.archive_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.ARCHIVED
    assert campaign.archived_message_count == 7


def test_a_stale_removal_is_asked_for_again_without_rewriting(finished_campaign, monkeypatch):
    campaign = finished_campaign()
    monkeypatch.setattr(archive, "remove_messages", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        archive.archive_campaign(campaign.pk)
    monkeypatch.undo()
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.REMOVING
    with pytest.raises(archive.ArchiveError, match="being archived"):
        archive.request_archive(campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(
        archive_progress_at=timezone.now() - timedelta(hours=1)
    )
    assert archive.due_for_archive(timezone.now()) == [campaign.pk]
    archive.request_archive(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.REMOVING


def test_the_portal_button_archives_through_the_task(
    finished_campaign, marketer_client, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = finished_campaign()
    page = marketer_client.get(reverse("portal:campaign", args=[campaign.pk]))
    assert 'id="archive-form"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(reverse("portal:archive", args=[campaign.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.ARCHIVED
    assert campaign.messages.count() == 0


def test_the_button_says_why_it_cannot_archive_yet(finished_campaign, marketer_client):
    campaign = finished_campaign(state=Campaign.State.SENDING)
    html = marketer_client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert 'id="archive-form"' not in html and 'id="archive-refused"' not in html
    response = marketer_client.post(reverse("portal:archive", args=[campaign.pk]), follow=True)
    assert campaign.messages.count() == 7
    assert any("completed or cancelled" in str(m) for m in response.context["messages"])


def test_archiving_needs_the_delete_permission(finished_campaign, marketer, client):
    from django.contrib.auth.models import Permission

    campaign = finished_campaign()
    group = marketer.groups.get()
    group.permissions.remove(Permission.objects.get(codename="delete_campaign"))
    client.force_login(marketer)
    html = client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert 'id="archive-form"' not in html
    assert client.post(reverse("portal:archive", args=[campaign.pk])).status_code == 403
    assert campaign.messages.count() == 7


def test_admin_action_confirms_then_archives(
    finished_campaign, admin_client, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = finished_campaign()
    sending = finished_campaign(name="sending", state=Campaign.State.SENDING)
    url = reverse("admin:messaging_campaign_changelist")
    data = {"action": "archive_campaigns", "_selected_action": [campaign.pk, sending.pk]}
    page = admin_client.post(url, data)
    assert page.status_code == 200
    assert "completed or cancelled" in page.content.decode()
    assert campaign.messages.count() == 7
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(url, {**data, "confirm": "yes"})
    assert done.status_code == 302
    campaign.refresh_from_db()
    sending.refresh_from_db()
    assert campaign.archive_state == ArchiveState.ARCHIVED
    assert sending.archive_state == ArchiveState.NONE
    assert sending.messages.count() == 7


def test_an_archived_campaign_is_not_sent_again(finished_campaign):
    from messaging.services import campaign_commands

    campaign = finished_campaign()
    archive.archive_campaign(campaign.pk)
    with pytest.raises(campaign_commands.CampaignError, match="archived"):
        campaign_commands.resend_unresolved(campaign.pk)


def test_a_long_removal_goes_on_in_a_new_task(
    finished_campaign, monkeypatch, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = finished_campaign()
    monkeypatch.setattr(archive, "REMOVAL_BUDGET_S", 0.0)  # one batch per task
    results = []
    real = archive.archive_campaign

    def recorded(campaign_id, language=None, batch=3):
        results.append(real(campaign_id, language, batch=3))
        return results[-1]

    monkeypatch.setattr(archive, "archive_campaign", recorded)
    with django_capture_on_commit_callbacks(execute=True):
        archive.archive_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.archive_state == ArchiveState.ARCHIVED
    assert campaign.messages.count() == 0
    assert campaign.archive_removed_count == 7
    assert ["continues" in r for r in results] == [True, True, True, False]
