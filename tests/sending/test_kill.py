"""Kill tests: a real worker process is SIGKILLed (or loses its database connection) at every
point of starting a campaign, sending a batch and applying a poll; then recovery runs as the
dispatcher runs it, and the simulator's own record shows nothing was sent twice, nothing was
lost, and nothing is ``unknown`` that the portal could have known."""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Campaign, DeliveryReport, Message, PollRecord, SendBatch
from messaging.services import campaign_commands, polling, sending
from messaging.services.reports import apply_status_events
from messaging.statuses import FINAL_STATUSES, Status
from tests.harness.processes import ROOT, database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def worker(code: str, *, crash_at: str = "", drop_db_at: str = "") -> int:
    """Run ``code`` in a worker process of its own; returns its exit code."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        sending.CRASH_AT_ENV: crash_at,
        sending.DROP_DB_AT_ENV: drop_db_at,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode not in (0, -signal.SIGKILL):
        print(result.stdout, result.stderr)
    return result.returncode


def worker_sends(batch_id: int, **faults) -> int:
    return worker(
        f"from messaging.services.sending import send_batch; send_batch({batch_id})", **faults
    )


def recover_as_dispatcher() -> sending.Recovery:
    """What the dispatcher does, once the dead worker's lease has run out."""
    later = timezone.now() + sending.LEASE * 2
    recovery = sending.recover(later)
    for batch_id in recovery.enqueue or []:
        assert worker_sends(batch_id) == 0
    return recovery


def accepted(sim) -> Counter:
    return Counter(row["phone"] for row in sim.accepted(vendor="ashx5g"))


def reconcile(campaign):
    sim_events = campaign.vendor_account.client().poll_reports().items
    apply_status_events(campaign.vendor_account, sim_events, source="poll")


@pytest.mark.parametrize(
    ("crash_at", "unknown_expected", "at_vendor"),
    [
        ("rate_wait", False, 4),  # waiting for the account's rate slot: nothing left
        ("after_claim", False, 4),  # claimed, request not built: nothing left
        # Marked in flight, killed before the socket write: nobody can know whether it
        # left, so unknown (visible, resendable by choice), never re-sent blindly.
        ("in_flight", True, 0),
        ("after_answer", True, 4),  # the answer died with the worker: reports reconcile
        ("answer_stored", False, 4),  # the answer was kept: recovery applies it
        ("before_commit", False, 4),  # applying it died: recovery applies it again
    ],
)
def test_killed_worker_sends_nothing_twice_and_loses_nothing(
    crash_at, unknown_expected, at_vendor, sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=4)
    if crash_at == "rate_wait":
        # Another batch holds the account's next two seconds.
        campaign.vendor_account.send_slot_at = timezone.now() + sending.LEASE / 5
        campaign.vendor_account.save(update_fields=["send_slot_at"])
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert worker_sends(batch_id, crash_at=crash_at) == -signal.SIGKILL

    recover_as_dispatcher()

    counts = accepted(sim)
    assert all(count == 1 for count in counts.values()), "a message was sent twice"
    assert len(counts) == at_vendor, "a message was lost"
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    if unknown_expected:
        assert statuses == {Status.UNKNOWN: 4}
        assert all(Message.objects.filter(campaign=campaign).values_list("error", flat=True))
    else:
        assert statuses == {Status.SUBMITTED: 4}, "unknown although the portal could know"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED
    # Reports reconcile whatever is still unknown; what never reached the vendor stays
    # unknown until the account's report window ends the wait.
    sim.state.tick()
    reconcile(campaign)
    statuses = set(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses <= (FINAL_STATUSES if at_vendor else {Status.UNKNOWN})
    if not at_vendor:
        assert campaign_commands.end_report_waits(timezone.now() + timedelta(hours=73)) == 4
        campaign.refresh_from_db()
        assert (campaign.unknown_count, campaign.no_report_count) == (0, 4)


def test_answer_survives_a_dropped_database_connection(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=4)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert worker_sends(batch_id, drop_db_at="after_answer") == 0
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUBMITTED}
    assert all(Message.objects.values_list("vendor_message_id", flat=True))
    assert len(accepted(sim)) == 4


def test_killed_start_is_started_again_without_anyone_acting(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    code = f"from messaging.services.sending import start_campaign; start_campaign({campaign.pk})"
    assert worker(code, crash_at="start_before_commit") == -signal.SIGKILL
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING
    assert not Message.objects.filter(campaign=campaign).exists()

    Campaign.objects.filter(pk=campaign.pk).update(
        start_requested_at=timezone.now() - sending.START_GRACE * 2
    )
    recovery = recover_as_dispatcher()
    assert recovery.restarted == [campaign.pk]
    for batch_id in SendBatch.objects.filter(campaign=campaign).values_list("pk", flat=True):
        worker_sends(batch_id)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED and campaign.submitted_count == 3
    assert sorted(accepted(sim).values()) == [1, 1, 1]


@pytest.mark.parametrize(
    "crash_at",
    [
        "between_chunks",  # the first chunk committed (its batches not yet enqueued)
        "start_before_commit",  # dies writing the second chunk: rolled back
    ],
)
def test_start_killed_between_chunks_runs_on_with_every_recipient_once(
    crash_at, sim, make_campaign, sim_account, monkeypatch
):
    monkeypatch.setattr(sending, "FIRST_CHUNK", 3)
    monkeypatch.setattr(sending, "CHUNK", 4)
    campaign = make_campaign(sim_account("ashx5g"), n=10)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    if crash_at == "start_before_commit":
        sending.start_chunk(campaign.pk)  # the first chunk; the worker dies in the next
    code = (
        "from messaging.services import sending; sending.FIRST_CHUNK, sending.CHUNK = 3, 4; "
        f"sending.start_campaign({campaign.pk})"
    )
    assert worker(code, crash_at=crash_at) == -signal.SIGKILL
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SENDING and campaign.start_cursor
    assert Message.objects.filter(campaign=campaign).count() == campaign.total_count == 3

    # The first batch is sent meanwhile; the campaign does not complete with chunks left.
    (first_batch,) = SendBatch.objects.filter(campaign=campaign).values_list("pk", flat=True)
    assert worker_sends(first_batch) == 0
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SENDING and campaign.submitted_count == 3

    Campaign.objects.filter(pk=campaign.pk).update(
        start_progress_at=timezone.now() - sending.START_GRACE * 2
    )
    recovery = recover_as_dispatcher()
    assert recovery.restarted == [campaign.pk]
    for batch_id in sending.pending_batches(campaign.pk):
        assert worker_sends(batch_id) == 0
    counts = accepted(sim)
    assert all(count == 1 for count in counts.values()), "a message was sent twice"
    assert len(counts) == 10, "a recipient was lost"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED and campaign.start_cursor is None
    counters = (campaign.total_count, campaign.submitted_count, campaign.pending_count)
    assert counters == (10, 10, 0)
    assert Message.objects.filter(campaign=campaign).count() == 10


@pytest.mark.parametrize("crash_at", ["poll_kept", "poll_before_commit"])
def test_killed_poll_loses_no_report(crash_at, sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert worker_sends(batch_id) == 0
    account = campaign.vendor_account
    account.polling_enabled = True
    account.save()
    sim.state.tick()
    code = (
        "from messaging.models import VendorAccount; from messaging.services import polling; "
        f"polling.poll_once(VendorAccount.objects.get(pk={account.pk}), polling.REPORTS)"
    )
    assert worker(code, crash_at=crash_at) == -signal.SIGKILL
    # The vendor handed the reports out once; they were kept before being applied.
    assert PollRecord.objects.filter(applied_at__isnull=True).count() == 1
    assert polling.apply_pending() == 3
    assert DeliveryReport.objects.count() == 3
    assert set(Message.objects.values_list("status", flat=True)) <= FINAL_STATUSES
    assert polling.apply_pending() == 0  # applied once


def test_worker_without_a_crash_completes(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("smscn"), n=3)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert worker_sends(batch_id) == 0
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUBMITTED}


def test_an_unreadable_poll_answer_is_kept(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    account = campaign.vendor_account
    account.polling_enabled = True
    account.save()
    sim.misbehave("ashx5g", "garbage", remaining=1)
    outcome = polling.poll_once(account, polling.REPORTS)
    assert outcome.error
    (record,) = PollRecord.objects.all()
    assert record.error and "not what the document shows" in record.raw
    assert record.applied_at is not None and record.item_count == 0
