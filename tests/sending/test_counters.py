"""Campaign counters are kept incrementally by the services; they must always equal a full
recount of the campaign's messages."""

import pytest

from messaging.models import Campaign, Message, Recipient
from messaging.services import sending
from messaging.services.campaigns import refresh_counters
from messaging.services.reports import apply_status_events

pytestmark = pytest.mark.django_db

COUNTERS = [
    "total_count",
    "pending_count",
    "skipped_count",
    "submitted_count",
    "delivered_count",
    "failed_count",
    "unknown_count",
    "segment_count",
]


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {name: getattr(campaign, name) for name in COUNTERS}


def recounted(campaign: Campaign) -> dict[str, int]:
    refresh_counters([campaign.pk])
    return counters(campaign)


def test_counters_follow_every_step_exactly(sim, make_campaign, sim_account):
    campaign = make_campaign(
        sim_account("ashx5g"), n=12, body="<name>您好，积分<points>" + "长" * 70
    )
    # One recipient lacks a variable (skipped), one number the vendor refuses (failed).
    Recipient.objects.filter(phone="13800000003").update(variables={"name": "x"})
    Recipient.objects.filter(phone="13800000004").update(phone="1380000000")
    sim.state.outcome_weights = {"delivered": 1.0}
    sim.state.phone_outcomes.update({"13800000005": "undelivered", "13800000006": "expired"})

    sending.start_campaign(campaign.pk)
    after_start = counters(campaign)
    assert after_start == recounted(campaign)
    assert after_start["pending_count"] == 11 and after_start["skipped_count"] == 1

    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)
    after_send = counters(campaign)
    assert after_send == recounted(campaign)
    assert after_send["failed_count"] == 1 and after_send["submitted_count"] == 10
    assert after_send["segment_count"] == 10 * 2  # two parts each, billed when accepted

    sim.state.tick()
    events = campaign.vendor_account.client().poll_reports().items
    apply_status_events(campaign.vendor_account, events, source="poll")
    apply_status_events(campaign.vendor_account, events, source="poll")  # duplicates
    after_reports = counters(campaign)
    assert after_reports == recounted(campaign)
    assert after_reports["delivered_count"] == 8 and after_reports["failed_count"] == 3
    assert Message.objects.filter(campaign=campaign).count() == after_reports["total_count"]
