"""The sending pipeline against the vendor simulators over real HTTP."""

from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone, translation

from messaging.models import Campaign, Message, SendBatch, Suppression
from messaging.services import campaign_commands, sending
from messaging.services.campaigns import refresh_counters
from messaging.statuses import Status
from messaging.vendors.registry import VENDOR_KEYS, vendor

pytestmark = pytest.mark.django_db


def send_all(campaign):
    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)
    campaign.refresh_from_db()


def accepted_phones(sim, key):
    return Counter(row["phone"] for row in sim.accepted(vendor=key))


@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_personalised_campaign_is_sent_once_per_recipient(key, sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account(key), n=7)
    result = sending.start_campaign(campaign.pk)
    assert result.messages == 7
    send_all(campaign)
    assert campaign.status == Campaign.State.COMPLETED
    assert campaign.submitted_count == 7 and campaign.pending_count == 0
    counts = accepted_phones(sim, key)
    assert set(counts.values()) == {1} and len(counts) == 7
    messages = Message.objects.filter(campaign=campaign)
    assert all(m.status == Status.SUBMITTED and m.vendor_message_id for m in messages)
    first = messages.get(phone="13800000001")
    assert first.content == "【测试商城】用户1您好，积分10回T退订"


@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_same_content_uses_vendor_sized_group_sends(
    key, sim, make_campaign, sim_account, monkeypatch
):
    # (A start's first chunk is smaller, for a fast first request: not what is tested here.)
    monkeypatch.setattr(sending, "FIRST_CHUNK", sending.CHUNK)
    capabilities = vendor(key).capabilities
    n = min(capabilities.max_numbers_per_request + 1, 1001)
    campaign = make_campaign(sim_account(key), n=n, body="周末大促，全场五折")
    result = sending.start_campaign(campaign.pk)
    expected = -(-n // capabilities.max_numbers_per_request)
    assert len(result.batches) == expected
    assert set(
        SendBatch.objects.filter(campaign=campaign).values_list("request_shape", flat=True)
    ) == {"same"}
    sim.state.enforce_poll_interval = False
    send_all(campaign)
    assert campaign.submitted_count == n
    assert sum(accepted_phones(sim, key).values()) == n


def test_duplicates_suppression_and_missing_variables(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=4)
    recipients = campaign.recipient_list.recipients.order_by("pk")
    Suppression.objects.create(phone=recipients[0].phone, reason="manual")
    last = recipients[3]
    last.variables = {"name": "无积分"}
    last.save()
    with translation.override("en"), pytest.raises(sending.CampaignError, match="lack a value"):
        sending.start_campaign(campaign.pk, exclude_missing=False)
    result = sending.start_campaign(campaign.pk, exclude_missing=True)
    assert (result.messages, result.skipped) == (2, 2)
    skipped = dict(Message.objects.filter(status=Status.SKIPPED).values_list("phone", "error"))
    assert "Suppressed" in skipped[recipients[0].phone] or "退订" in skipped[recipients[0].phone]
    assert "points" in skipped[last.phone]


def test_refuses_marketing_without_signature_or_opt_out(make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    account = campaign.vendor_account
    account.opt_out_suffix = ""
    account.save()
    with pytest.raises(sending.CampaignError):
        sending.start_campaign(campaign.pk)
    account.opt_out_suffix, account.signature = "回T退订", ""
    account.save()
    with pytest.raises(sending.CampaignError):
        sending.start_campaign(campaign.pk)


def test_worker_dead_after_claim_gives_the_batch_back_untouched(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert sending.claim_batch(batch_id) is not None  # ... and the worker dies here
    assert sending.send_batch(batch_id).state == "not_claimed"
    assert sending.pending_batches() == []
    # Nothing left: the batch goes back to the queue, its messages still queued.
    recovery = sending.recover(timezone.now() + sending.LEASE * 2, full=False)
    assert recovery.returned == 1 and recovery.enqueue == [batch_id]
    assert set(Message.objects.values_list("status", flat=True)) == {Status.QUEUED}
    assert sim.accepted(vendor="ashx5g") == []
    assert sending.send_batch(batch_id).submitted == 3
    assert len(sim.accepted(vendor="ashx5g")) == 3


def test_worker_dead_with_the_request_out_leaves_messages_unknown(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    (batch_id,) = sending.start_campaign(campaign.pk).batches

    class Killed(BaseException):
        pass

    with mock.patch.object(sending, "_ask_vendor", side_effect=Killed), pytest.raises(Killed):
        sending.send_batch(batch_id)
    sending.recover(timezone.now() + sending.LEASE * 2, full=False)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.UNKNOWN}
    assert sending.pending_batches() == []  # never re-sent


def test_worker_killed_after_the_answer_is_stored_applies_it_on_recovery(
    sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    (batch_id,) = sending.start_campaign(campaign.pk).batches

    class Killed(BaseException):
        pass

    with mock.patch.object(sending, "apply_answer", side_effect=Killed), pytest.raises(Killed):
        sending.send_batch(batch_id)
    assert len(sim.accepted(vendor="ashx5g")) == 3  # the vendor has them
    assert SendBatch.objects.get(pk=batch_id).state == SendBatch.State.ANSWERED
    assert sending.recover(timezone.now() + sending.LEASE * 2, full=False).applied == 1
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUBMITTED}
    assert all(Message.objects.values_list("vendor_message_id", flat=True))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED and campaign.submitted_count == 3
    assert len(sim.accepted(vendor="ashx5g")) == 3


def test_a_slow_workers_answer_outranks_recovery_that_took_it_for_dead(
    sim, make_campaign, sim_account
):
    """The lease ran out while the request was out (the worker was slow, not dead): recovery
    made the messages unknown; the answer that then comes is still applied."""
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    real_ask = sending._ask_vendor

    def slow_ask(*args):
        decisions = real_ask(*args)
        sending.recover(timezone.now() + sending.LEASE * 2, full=False)
        assert set(Message.objects.values_list("status", flat=True)) == {Status.UNKNOWN}
        return decisions

    with mock.patch.object(sending, "_ask_vendor", side_effect=slow_ask):
        sending.send_batch(batch_id)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUBMITTED}
    assert all(Message.objects.values_list("vendor_message_id", flat=True))
    campaign.refresh_from_db()
    assert (campaign.submitted_count, campaign.unknown_count) == (3, 0)
    assert campaign.status == Campaign.State.COMPLETED
    assert len(sim.accepted(vendor="ashx5g")) == 3


def test_an_answer_spooled_while_another_host_took_the_batch_is_still_applied(
    sim, make_campaign, sim_account, settings, tmp_path
):
    settings.SPOOL_DIR = tmp_path
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    pks = list(Message.objects.values_list("pk", flat=True))
    SendBatch.objects.filter(pk=batch_id).update(state=SendBatch.State.DONE)
    Message.objects.filter(pk__in=pks).update(status=Status.UNKNOWN, submitted_at=timezone.now())
    refresh_counters([campaign.pk])
    decisions = {
        pk: sending.Decision(sending.Disposition.SUBMITTED, vendor_message_id=f"v{pk}")
        for pk in pks
    }
    (tmp_path / f"answer-{batch_id}.json").write_text(
        __import__("json").dumps(sending._encode(decisions))
    )
    sending.recover(full=False)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUBMITTED}
    assert not list(tmp_path.iterdir())


def test_lost_answer_makes_messages_unknown(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    sim.misbehave("ashx5g", "accept_then_drop", remaining=1)
    outcome = sending.send_batch(batch_id)
    assert outcome.unknown == 2
    assert len(sim.accepted(vendor="ashx5g")) == 2
    assert sending.pending_batches() == []


@pytest.mark.parametrize("mode", ["unavailable", "rate_limit"])
def test_refusals_that_accepted_nothing_are_retried_with_backoff(
    mode, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    sim.misbehave("ashx5g", mode, remaining=1)
    outcome = sending.send_batch(batch_id)
    assert outcome.requeued == 2
    batch = SendBatch.objects.get(pk=batch_id)
    assert batch.state == SendBatch.State.PENDING and batch.not_before > timezone.now()
    assert sending.pending_batches() == []  # waiting out the back-off
    SendBatch.objects.filter(pk=batch_id).update(not_before=timezone.now())
    assert sending.send_batch(batch_id).submitted == 2
    assert sum(accepted_phones(sim, "ashx5g").values()) == 2


def test_connection_refused_is_retried(make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    campaign.vendor_account.base_url = "http://127.0.0.1:9/ashx5g"
    campaign.vendor_account.save()
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert sending.send_batch(batch_id).requeued == 1
    assert Message.objects.get().status == Status.QUEUED


@pytest.mark.parametrize("mode", ["auth_error", "no_balance"])
def test_auth_or_balance_refusal_pauses_with_the_vendors_reason(
    mode, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    sim.misbehave("ashx5g", mode, remaining=1)
    sending.send_batch(batch_id)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.PAUSED
    assert campaign.status_reason
    assert set(Message.objects.values_list("status", flat=True)) == {Status.QUEUED}
    with mock.patch.object(campaign_commands, "enqueue_batches"):
        assert campaign_commands.resume(campaign.pk) == [batch_id]
    assert sending.send_batch(batch_id).submitted == 2


def test_pause_and_cancel_take_effect_within_one_batch(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("smsadmin"), n=3, body="同样的内容")
    result = sending.start_campaign(campaign.pk)
    campaign_commands.pause(campaign.pk, "by marketer")
    assert sending.send_batch(result.batches[0]).state == "not_claimed"
    with mock.patch.object(campaign_commands, "enqueue_batches"):
        campaign_commands.resume(campaign.pk)
    campaign_commands.cancel(campaign.pk)
    assert sending.send_batch(result.batches[0]).state == "not_claimed"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.CANCELLED
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SKIPPED}
    assert sim.accepted(vendor="smsadmin") == []


def test_scheduled_campaign_starts_when_due(sim, make_campaign, sim_account):
    from messaging import tasks

    campaign = make_campaign(sim_account("ashx5g"), n=2)
    campaign.status = Campaign.State.SCHEDULED
    campaign.scheduled_at = timezone.now() + timedelta(hours=1)
    campaign.save()
    assert campaign_commands.due_scheduled() == []
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    with mock.patch.object(tasks, "enqueue_batches") as enqueue:
        tasks.dispatch()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SENDING
    assert Message.objects.filter(campaign=campaign).count() == 2
    assert enqueue.called


def test_invalid_number_fails_only_that_message(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    campaign.recipient_list.recipients.filter(phone="13800000002").update(phone="123")
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    sending.send_batch(batch_id)
    statuses = dict(Message.objects.values_list("phone", "status"))
    assert statuses["123"] == Status.FAILED
    assert statuses["13800000001"] == statuses["13800000003"] == Status.SUBMITTED


def test_test_send_to_one_phone(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    message = sending.send_test_message(campaign, "13911112222")
    assert message.status == Status.SUBMITTED and message.campaign is None
    assert message.content.startswith("【测试商城】用户1您好")
    assert accepted_phones(sim, "ashx5g") == Counter({"13911112222": 1})


def test_duplicate_start_task_leaves_a_paused_campaign_alone(sim, make_campaign, sim_account):
    from messaging import tasks

    campaign = make_campaign(sim_account("ashx5g"), n=1)
    with mock.patch.object(tasks, "enqueue_batches"):
        tasks.start_campaign(campaign.pk)
    campaign_commands.pause(campaign.pk, "by marketer")
    assert tasks.start_campaign(campaign.pk).startswith("not started")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.PAUSED
    assert campaign.status_reason == "by marketer"


def test_refused_start_marks_a_draft_failed_with_the_reason(make_campaign, sim_account):
    from messaging import tasks

    campaign = make_campaign(sim_account("ashx5g"), n=1)
    campaign.vendor_account.signature = ""
    campaign.vendor_account.save()
    tasks.start_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.FAILED and campaign.status_reason
