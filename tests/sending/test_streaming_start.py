"""A start writes its messages chunk by chunk, each committed with its batches: the first
batches are sent while the rest is still being written, and the campaign neither completes
nor loses count before the last chunk."""

from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from messaging.models import Campaign, Message, SendBatch, Suppression
from messaging.services import campaign_commands, sending
from messaging.services.campaigns import COUNTER_FIELDS, refresh_counters

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 recipients, then 4 (a vendor batch is larger: one batch per chunk)."""
    monkeypatch.setattr(sending, "FIRST_CHUNK", 3)
    monkeypatch.setattr(sending, "CHUNK", 4)


def accepted(sim) -> Counter:
    return Counter(row["phone"] for row in sim.accepted(vendor="ashx5g"))


def counters(campaign) -> tuple:
    return Campaign.objects.filter(pk=campaign.pk).values_list("total_count", *COUNTER_FIELDS).get()


def recounted(campaign) -> tuple:
    before = counters(campaign)
    refresh_counters([campaign.pk])
    return before, counters(campaign)


def send_pending(campaign):
    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)


def test_the_first_batch_is_sent_before_the_last_chunk_is_written(
    small_chunks, sim, make_campaign, sim_account, django_capture_on_commit_callbacks
):
    campaign = make_campaign(sim_account("ashx5g"), n=10)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    enqueued = []

    with django_capture_on_commit_callbacks(execute=True):
        first = sending.start_chunk(campaign.pk, on_chunk=enqueued.append)
    assert (first.messages, first.done) == (3, False)
    assert enqueued == [first.batches]  # on its way as soon as the chunk committed
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SENDING and campaign.start_cursor
    assert campaign.total_count == campaign.pending_count == 3

    (batch_id,) = first.batches
    assert sending.send_batch(batch_id).submitted == 3
    campaign.refresh_from_db()
    # Every batch written so far is done, but chunks are left: not completed.
    assert campaign.status == Campaign.State.SENDING
    assert (campaign.submitted_count, campaign.total_count) == (3, 3)

    with django_capture_on_commit_callbacks(execute=True):
        rest = sending.start_campaign(campaign.pk, on_chunk=enqueued.append)
    assert (rest.messages, rest.done) == (7, True)
    assert [len(b) for b in enqueued] == [1, 1, 1]  # chunks of 3, 4 and 3
    campaign.refresh_from_db()
    assert campaign.start_cursor is None and campaign.status == Campaign.State.SENDING
    assert campaign.total_count == 10 and campaign.pending_count == 7
    send_pending(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED and campaign.submitted_count == 10
    assert sorted(accepted(sim).values()) == [1] * 10
    custom_ids = sorted(
        Message.objects.filter(campaign=campaign).values_list("custom_id", flat=True)
    )
    assert custom_ids == [f"{campaign.pk}{n:09d}" for n in range(1, 11)]
    assert list(
        SendBatch.objects.filter(campaign=campaign).order_by("number").values_list("number", "size")
    ) == [(1, 3), (2, 4), (3, 3)]
    before, after = recounted(campaign)
    assert before == after


def test_a_start_ending_on_a_whole_chunk_completes_once_the_list_is_known_done(
    small_chunks, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=7)  # chunks of 3 and 4, then none
    result = sending.start_campaign(campaign.pk)
    assert (result.messages, len(result.batches), result.done) == (7, 2, True)
    send_pending(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED and campaign.start_cursor is None


def test_skips_and_suppressions_count_right_across_chunks(
    small_chunks, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=10)
    Suppression.objects.create(phone="13800000005")  # in the second chunk
    Suppression.objects.create(phone="13800000009")  # in the last
    campaign.recipient_list.recipients.filter(phone="13800000002").update(variables={})
    result = sending.start_campaign(campaign.pk, exclude_missing=True)
    assert (result.messages, result.skipped) == (7, 3)
    campaign.refresh_from_db()
    assert (campaign.total_count, campaign.pending_count, campaign.skipped_count) == (10, 7, 3)
    send_pending(campaign)
    assert set(accepted(sim)) & {"13800000005", "13800000009", "13800000002"} == set()
    before, after = recounted(campaign)
    assert before == after


def test_a_list_with_nobody_to_send_to_fails_having_written_nothing(
    small_chunks, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=8)
    Suppression.objects.bulk_create(
        Suppression(phone=phone)
        for phone in campaign.recipient_list.recipients.values_list("phone", flat=True)
    )
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    with pytest.raises(sending.CampaignError):
        sending.start_campaign(campaign.pk)  # three chunks of skipped messages, then none
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.FAILED and campaign.start_cursor is None
    assert not Message.objects.filter(campaign=campaign).exists()
    assert campaign.total_count == 0


def test_stopping_on_missing_values_checks_the_whole_list_first(
    small_chunks, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=10)
    campaign.recipient_list.recipients.filter(phone="13800000009").update(variables={})
    with pytest.raises(sending.CampaignError, match="13800000009"):
        sending.start_campaign(campaign.pk, exclude_missing=False)
    assert not Message.objects.filter(campaign=campaign).exists()


def test_pause_during_the_start_keeps_writing_but_sends_nothing_until_resumed(
    small_chunks, sim, make_campaign, sim_account, django_capture_on_commit_callbacks
):
    campaign = make_campaign(sim_account("ashx5g"), n=10)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    first = sending.start_chunk(campaign.pk)
    assert campaign_commands.pause(campaign.pk, "wait")

    rest = sending.start_campaign(campaign.pk)  # chunks are still written while paused
    assert rest.messages == 7 and rest.done
    for batch_id in first.batches + rest.batches:
        assert sending.send_batch(batch_id).state == "not_claimed"
    assert accepted(sim) == Counter()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.PAUSED and campaign.total_count == 10

    with (
        mock.patch.object(campaign_commands, "enqueue_batches") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sorted(campaign_commands.resume(campaign.pk)) == sorted(first.batches + rest.batches)
    assert enqueue.called
    send_pending(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED
    assert sorted(accepted(sim).values()) == [1] * 10
    before, after = recounted(campaign)
    assert before == after


def test_cancel_during_the_start_stops_further_chunks(
    small_chunks, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=10)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    first = sending.start_chunk(campaign.pk)
    assert campaign_commands.cancel(campaign.pk, "stop") == 3

    # The start under way writes no further chunk; a duplicate start task is refused.
    assert sending.start_chunk(campaign.pk, continuing=True) is None
    with pytest.raises(sending.CampaignError):
        sending.start_campaign(campaign.pk)
    assert sending.send_batch(first.batches[0]).state == "not_claimed"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.CANCELLED and campaign.start_cursor is None
    assert Message.objects.filter(campaign=campaign).count() == 3
    assert campaign.total_count == 3 and campaign.skipped_count == 3
    assert accepted(sim) == Counter()
    assert campaign_commands.lost_starts(timezone.now() + timedelta(hours=1)) == []
    before, after = recounted(campaign)
    assert before == after


def test_a_start_silent_between_chunks_is_run_on_by_recovery(
    small_chunks, sim, make_campaign, sim_account, django_capture_on_commit_callbacks
):
    campaign = make_campaign(sim_account("ashx5g"), n=10)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    first = sending.start_chunk(campaign.pk)  # ... and its worker dies
    sending.send_batch(first.batches[0])

    # Not while it may still be running: it wrote a chunk within the grace.
    assert campaign_commands.lost_starts(timezone.now() - sending.START_GRACE) == []
    later = timezone.now() + sending.START_GRACE * 2
    with (
        mock.patch.object(campaign_commands, "enqueue_batches") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        recovery = sending.recover(later)
    assert recovery.restarted == [campaign.pk]
    assert [len(call.args[0]) for call in enqueue.call_args_list] == [1, 1]
    campaign.refresh_from_db()
    assert campaign.start_cursor is None and campaign.total_count == 10
    send_pending(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED
    assert sorted(accepted(sim).values()) == [1] * 10
    before, after = recounted(campaign)
    assert before == after
