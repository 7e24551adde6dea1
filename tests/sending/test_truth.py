"""What the portal shows is what the vendor did: faults, refusals and reports against the
simulators over real HTTP.

Each test plays one of the cases an independent check found wrong: a vendor HTTP 500 that
left a campaign's messages open and let another campaign's reports land on them, refusals
that concern the account, content one request shape cannot carry, a balance that runs out
inside a request, a pause that did not stop a claimed batch."""

import threading
import time
from collections import Counter
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from messaging import tasks
from messaging.models import Campaign, DeliveryReport, Message, SendBatch
from messaging.services import campaign_commands, sending
from messaging.services.campaigns import COUNTER_FIELDS, refresh_counters
from messaging.services.reports import apply_status_events
from messaging.statuses import FINAL_STATUSES, Status
from messaging.vendors.registry import VENDOR_KEYS

pytestmark = [pytest.mark.django_db, pytest.mark.e2e]

COUNTERS = ("total_count", *COUNTER_FIELDS, "segment_count")


def send_all(campaign) -> None:
    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)
    campaign.refresh_from_db()


def statuses(campaign) -> Counter:
    return Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))


def counters_equal_a_recount(campaign) -> None:
    campaign.refresh_from_db()
    kept = {name: getattr(campaign, name) for name in COUNTERS}
    refresh_counters([campaign.pk])
    campaign.refresh_from_db()
    assert kept == {name: getattr(campaign, name) for name in COUNTERS}


def poll_and_apply(account) -> None:
    """Every report the vendor has for the account, as the poller would apply it."""
    client = account.client()
    for _ in range(10):
        result = client.poll_reports()
        apply_status_events(account, result.items, source="poll")
        if not result.more_waiting and not result.items:
            return


@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_a_campaign_left_unknown_never_takes_another_campaigns_reports(
    key, sim, make_campaign, sim_account
):
    sim.configure(enforce_poll_interval=False, outcome_weights={"delivered": 1.0})
    first = make_campaign(sim_account(key), n=3)
    second = make_campaign.again(first, name="B")
    sending.start_campaign(first.pk)
    sim.misbehave(key, "error")  # HTTP 500 to every request: the vendor may have taken them
    send_all(first)
    sim.misbehave(key, "normal")
    assert statuses(first) == {Status.UNKNOWN: 3}
    assert first.status == Campaign.State.COMPLETED and first.unknown_count == 3
    assert first.segment_count == 0  # never billed as if sent
    assert all(Message.objects.filter(campaign=first).values_list("error", flat=True))

    sending.start_campaign(second.pk)
    send_all(second)
    sim.state.tick()
    poll_and_apply(second.vendor_account)

    assert statuses(second) == {Status.DELIVERED: 3}, "B must show its own reports"
    assert statuses(first) == {Status.UNKNOWN: 3}, "A must not show B's reports"
    counters_equal_a_recount(first)
    counters_equal_a_recount(second)


@pytest.mark.parametrize("key", ["actiongw", "smsadmin", "smscn"])
def test_reports_without_ids_match_by_phone_only_when_one_message_could_be_theirs(
    key, sim, make_campaign, sim_account
):
    sim.configure(
        enforce_poll_interval=False, outcome_weights={"delivered": 1.0}, reports_without_ids=True
    )
    first = make_campaign(sim_account(key), n=2)
    second = make_campaign.again(first, name="B")
    sending.start_campaign(first.pk)
    sim.misbehave(key, "error")
    send_all(first)
    sim.misbehave(key, "normal")
    sending.start_campaign(second.pk)
    send_all(second)
    sim.state.tick()
    poll_and_apply(second.vendor_account)
    # Two messages could have produced each report (A's unknown one and B's): no guess.
    assert statuses(first) == {Status.UNKNOWN: 2}
    assert statuses(second) == {Status.SUBMITTED: 2}
    assert DeliveryReport.objects.filter(message__isnull=True).count() == 2

    # A phone only one message was sent to: its report can only be that message's.
    third = make_campaign.again(first, name="C", phones=["13900000099"])
    sending.start_campaign(third.pk)
    send_all(third)
    sim.state.tick()
    poll_and_apply(third.vendor_account)
    assert statuses(third) == {Status.DELIVERED: 1}


def test_a_refused_message_is_never_delivered_by_a_report(sim, make_campaign, sim_account):
    sim.configure(enforce_poll_interval=False, outcome_weights={"delivered": 1.0})
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    campaign.recipient_list.recipients.filter(phone="13800000002").update(phone="123")
    sending.start_campaign(campaign.pk)
    send_all(campaign)
    refused = Message.objects.get(campaign=campaign, phone="123")
    assert refused.status == Status.FAILED
    # A report naming the refused number's phone (another sender's) changes nothing.
    from messaging.vendors.base import StatusEvent

    apply_status_events(
        campaign.vendor_account,
        [StatusEvent("", Status.DELIVERED, "DELIVRD", phone="123", raw="stray")],
        source="push",
    )
    refused.refresh_from_db()
    assert refused.status == Status.FAILED


def test_account_refusal_pauses_with_the_vendors_words_and_loses_nothing(
    sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("actiongw"), n=3, body="同样的内容")
    sim.configure(phone_refusals={f"138{i:08d}": "bad_sender" for i in range(1, 4)})
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    sending.send_batch(batch_id)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.PAUSED
    assert "extno" in campaign.status_reason or "原发号码" in campaign.status_reason
    assert statuses(campaign) == {Status.QUEUED: 3}  # nothing failed for good
    assert sim.accepted(vendor="actiongw") == []

    # An administrator fixes the account; the marketer resumes; everything goes, once.
    sim.configure(phone_refusals={})
    with mock.patch.object(campaign_commands, "enqueue_batches"):
        campaign_commands.resume(campaign.pk)
    sending.send_batch(batch_id)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED
    assert statuses(campaign) == {Status.SUBMITTED: 3}
    assert sorted(Counter(r["phone"] for r in sim.accepted(vendor="actiongw")).values()) == [
        1,
        1,
        1,
    ]
    counters_equal_a_recount(campaign)


def test_balance_running_out_inside_a_request_pauses_the_rest(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("actiongw"), n=5, body="同样的内容")
    sim.state.accounts[("actiongw", campaign.vendor_account.account_id)].balance = 2
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    sending.send_batch(batch_id)
    campaign.refresh_from_db()
    assert statuses(campaign) == {Status.SUBMITTED: 2, Status.QUEUED: 3}
    assert campaign.status == Campaign.State.PAUSED and campaign.status_reason
    assert campaign.submitted_count == 2 and campaign.pending_count == 3
    counters_equal_a_recount(campaign)

    sim.state.accounts[("actiongw", campaign.vendor_account.account_id)].balance = 100
    with mock.patch.object(campaign_commands, "enqueue_batches"):
        campaign_commands.resume(campaign.pk)
    sending.send_batch(batch_id)
    assert statuses(campaign) == {Status.SUBMITTED: 5}
    assert len(sim.accepted(vendor="actiongw")) == 5


@pytest.mark.parametrize(
    ("key", "body"),
    [
        # smsadmin's personalised list separates values with , and ;
        ("smsadmin", "<name>, 您好; 积分<points>"),
        # actiongw's p2p list is one Mobile#Content per line
        ("actiongw", "<name>您好\n积分<points>"),
    ],
)
def test_content_the_request_shape_cannot_carry_goes_singly(
    key, body, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account(key), n=4, body=body)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert SendBatch.objects.get(pk=batch_id).request_shape == "personalised"
    sending.send_batch(batch_id)
    assert statuses(campaign) == {Status.SUBMITTED: 4}
    accepted = sim.accepted(vendor=key)
    assert sorted(Counter(r["phone"] for r in accepted).values()) == [1, 1, 1, 1]
    sent = {r["phone"]: r["content"] for r in accepted}
    assert "用户1" in sent["13800000001"]


def test_http_500_is_unknown_visible_and_ends_as_no_report(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    sending.start_campaign(campaign.pk)
    sim.misbehave("ashx5g", "error")
    send_all(campaign)
    assert campaign.unknown_count == 2 and campaign.status == Campaign.State.COMPLETED
    assert "500" in Message.objects.filter(campaign=campaign).first().error
    later = timezone.now() + timezone.timedelta(hours=campaign.vendor_account.report_window_hours)
    assert campaign_commands.end_report_waits(later + timezone.timedelta(minutes=1)) == 2
    campaign.refresh_from_db()
    assert (campaign.unknown_count, campaign.no_report_count, campaign.segment_count) == (0, 2, 0)
    # A report that comes after all still tells the truth.
    sim.misbehave("ashx5g", "normal")
    counters_equal_a_recount(campaign)

    # Sending them again is the marketer's explicit choice.
    with mock.patch.object(campaign_commands, "enqueue_batches"):
        assert campaign_commands.resend_unresolved(campaign.pk, by="mike") == 2
    send_all(campaign)
    assert statuses(campaign) == {Status.SUBMITTED: 2}
    assert campaign.status == Campaign.State.COMPLETED
    counters_equal_a_recount(campaign)


def test_a_retry_the_vendor_asks_for_is_waited_out_to_the_second(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    # HTTP 429 with Retry-After: 1
    sim.misbehave("ashx5g", "rate_limit", remaining=1)
    with mock.patch.object(tasks, "_recover_now_and_then"):
        started = time.monotonic()
        result = tasks.send_batch(batch_id)
        took = time.monotonic() - started
    assert result.startswith("done: 2 submitted"), result
    assert took < sending.INLINE_RETRY_S
    batch = SendBatch.objects.get(pk=batch_id)
    assert batch.attempts == 2 and batch.state == SendBatch.State.DONE


def test_batches_are_enqueued_once_and_again_only_when_their_task_was_lost(
    sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    SendBatch.objects.filter(pk=batch_id).update(enqueued_at=timezone.now())
    # In the broker's queue: the dispatcher leaves it alone.
    with mock.patch.object(sending, "_broker_is_empty", return_value=False):
        assert sending.due_batches() == []
    # Enqueued long ago and the broker holds nothing: its task was lost.
    later = timezone.now() + sending.ENQUEUED_STALE * 2
    with mock.patch.object(sending, "_broker_is_empty", return_value=True):
        assert sending.due_batches(later) == [batch_id]
        assert sending.due_batches(later) == []  # marked enqueued again


@pytest.mark.django_db(transaction=True)
def test_pause_and_cancel_are_honoured_at_the_last_moment(sim, make_campaign, sim_account):
    """A rate-limited account (2 messages a second, single sends): after the marketer's
    pause is acknowledged, no request leaves; the claimed batch goes back untouched."""
    campaign = make_campaign(sim_account("montnets", rate_limit_per_s=2), n=10)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert SendBatch.objects.get(pk=batch_id).request_shape == "single"

    def work():
        try:
            sending.send_batch(batch_id)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 10
    while len(sim.accepted(vendor="montnets")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert campaign_commands.pause(campaign.pk, "by marketer")
    acknowledged = len(sim.accepted(vendor="montnets"))
    in_flight = campaign_commands.in_flight_count(campaign.pk)
    worker.join(30)
    assert not worker.is_alive()
    after = len(sim.accepted(vendor="montnets"))
    assert after <= acknowledged + in_flight, "a request left after the pause"
    assert after < 10
    batch = SendBatch.objects.get(pk=batch_id)
    assert batch.state == SendBatch.State.PENDING
    assert statuses(campaign)[Status.QUEUED] == 10 - after

    # Cancel: the rest is withdrawn; nothing more leaves.
    withdrawn = campaign_commands.cancel(campaign.pk, "by marketer")
    assert withdrawn == 10 - after
    assert sending.send_batch(batch_id).state == "not_claimed"
    assert len(sim.accepted(vendor="montnets")) == after
    counts = Counter(r["phone"] for r in sim.accepted(vendor="montnets"))
    assert set(counts.values()) == {1}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.CANCELLED
    assert set(statuses(campaign)) <= {Status.SUBMITTED, Status.SKIPPED}


def test_long_message_is_delivered_only_when_every_part_is(sim, make_campaign, sim_account):
    from messaging.vendors.base import StatusEvent

    campaign = make_campaign(sim_account("montnets"), n=2, body="<name>" + "长" * 80)
    sending.start_campaign(campaign.pk)
    send_all(campaign)
    account = campaign.vendor_account
    first, second = Message.objects.filter(campaign=campaign).order_by("pk")
    assert first.segments == 2

    def part(message, index, status, code):
        return StatusEvent(
            message.vendor_message_id,
            status,
            code,
            part_index=index,
            part_count=2,
            raw=f"{index}",
        )

    apply_status_events(account, [part(first, 1, Status.DELIVERED, "DELIVRD")], "push")
    first.refresh_from_db()
    assert first.status == Status.SUBMITTED  # one part of two
    apply_status_events(account, [part(first, 2, Status.DELIVERED, "DELIVRD")], "push")
    first.refresh_from_db()
    assert first.status == Status.DELIVERED

    apply_status_events(
        account,
        [
            part(second, 1, Status.DELIVERED, "DELIVRD"),
            part(second, 2, Status.UNDELIVERED, "MK:0001"),
        ],
        "push",
    )
    second.refresh_from_db()
    assert (second.status, second.vendor_status_code) == (Status.UNDELIVERED, "MK:0001")
    counters_equal_a_recount(campaign)
    assert set(Message.objects.values_list("status", flat=True)) <= FINAL_STATUSES
