"""End to end through a real task cluster: ``manage.py qcluster`` (django-q2, ORM broker) in
its own process starts one campaign per vendor and sends every batch to the simulator over
HTTP; the simulator's own record shows each recipient accepted exactly once."""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from messaging import tasks
from messaging.models import Campaign, Message
from messaging.services import campaign_commands, sending
from messaging.statuses import Status
from messaging.vendors.registry import VENDOR_KEYS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

RECIPIENTS = 30


@pytest.fixture
def task_cluster(start_cluster):
    return start_cluster()


def test_every_vendor_sends_through_the_task_cluster(sim, make_campaign, sim_account, task_cluster):
    # smscn and montnets have no personalised send (single requests in parallel), ashx5g,
    # actiongw and smsadmin send personalised batches: every request shape goes through.
    campaigns = {vendor: make_campaign(sim_account(vendor), n=RECIPIENTS) for vendor in VENDOR_KEYS}
    for campaign in campaigns.values():
        async_task("messaging.tasks.start_campaign", campaign.pk)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = set(Campaign.objects.values_list("status", flat=True))
        if states <= {Campaign.State.COMPLETED, Campaign.State.FAILED, Campaign.State.PAUSED}:
            break
        assert task_cluster.poll() is None, task_cluster.log.read_text()
        time.sleep(0.3)

    for vendor, campaign in campaigns.items():
        campaign.refresh_from_db()
        assert campaign.status == Campaign.State.COMPLETED, (vendor, campaign.status_reason)
        assert campaign.submitted_count == RECIPIENTS
        statuses = set(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
        assert statuses == {Status.SUBMITTED}, vendor
        accepted = Counter(row["phone"] for row in sim.accepted(vendor=vendor))
        assert len(accepted) == RECIPIENTS, vendor
        assert set(accepted.values()) == {1}, f"{vendor}: a message was sent twice"
        first = Message.objects.filter(campaign=campaign).order_by("pk").first()
        assert first.content == "【测试商城】用户1您好，积分10回T退订"


@pytest.mark.parametrize(
    "crash_at",
    ["start_before_commit", "rate_wait", "after_claim", "answer_stored", "before_commit"],
)
def test_a_cluster_whose_worker_is_killed_finishes_the_campaign_exactly_once(
    crash_at, sim, make_campaign, sim_account, start_cluster, tmp_path, monkeypatch
):
    """A worker of a real cluster is SIGKILLed once at ``crash_at``; the cluster respawns it
    and the dispatcher (run here every second; its schedule runs it every minute) takes over
    what the dead worker held once its lease ran out: every recipient accepted once, nothing
    unknown that the portal could have known."""
    cluster = start_cluster(
        SMSPORTAL_CRASH_AT=crash_at,
        SMSPORTAL_CRASH_ONCE_FILE=str(tmp_path / "crashed"),
        SENDING_LEASE_S="2",
    )
    monkeypatch.setattr(sending, "START_GRACE", timedelta(seconds=1))
    campaign = make_campaign(sim_account("smsadmin", rate_limit_per_s=6), n=12, body="<name>您好")
    # Another campaign holds the account's next seconds: the batch waits for its slot.
    campaign.vendor_account.send_slot_at = timezone.now() + timedelta(seconds=3)
    campaign.vendor_account.save(update_fields=["send_slot_at"])
    campaign_commands.request_start(campaign.pk, exclude_missing=True)  # enqueues the start

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == Campaign.State.COMPLETED:
            break
        assert cluster.poll() is None, cluster.log.read_text()
        if (tmp_path / "crashed").exists():
            # Only once the worker is dead: before that, a cluster slow to start (a loaded
            # machine) would see this process start the campaign itself after the grace.
            tasks.dispatch()
        time.sleep(1)
    assert (tmp_path / "crashed").exists(), "the worker was never killed"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED, campaign.status_reason
    accepted = Counter(row["phone"] for row in sim.accepted(vendor="smsadmin"))
    assert set(accepted.values()) == {1}, "a message was sent twice"
    assert len(accepted) == 12, "a message was lost"
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {Status.SUBMITTED: 12}
