"""Scale-out on the Redis broker: several task clusters (separate processes, as on separate
hosts) sharing PostgreSQL and Redis, and a cluster SIGKILLed in the middle of a campaign.

django-q2 on Redis delivers a task at most once: a task a killed cluster had taken is gone
with it.  The portal recovers by itself — batches are leased in the database, so an expired
lease or a batch whose task was lost is taken over by a live cluster — and a batch is claimed
by one worker only, so nothing is sent twice.  The simulator's own record is the proof.

These run when ``Q_REDIS_URL`` is set and the database is PostgreSQL (``.ci/run`` runs them
so: ``pytest -m redis``); otherwise they are skipped.
"""

import os
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection

from messaging import tasks
from messaging.models import Campaign, Message
from messaging.services import campaign_commands, sending
from messaging.services.campaigns import refresh_counters
from messaging.statuses import Status

COUNTERS = ("submitted_count", "failed_count", "unknown_count", "skipped_count", "segment_count")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("Q_REDIS_URL"), reason="needs Q_REDIS_URL"),
]


@pytest.fixture(autouse=True)
def empty_queue():
    if connection.vendor != "postgresql":
        pytest.skip("several clusters share PostgreSQL")
    from django_q.brokers import get_broker

    get_broker().purge_queue()  # tasks of an earlier run name batches this database never had
    yield


def wait_until_done(campaign: Campaign, clusters, seconds: float, *, dispatch=False) -> None:
    """Until the campaign completes; with ``dispatch``, run the dispatcher every second as its
    schedule would every minute (a transactional test's flush removed the schedule rows)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == Campaign.State.COMPLETED:
            return
        for cluster in clusters:
            assert cluster.poll() is None, cluster.log.read_text()[-3000:]
        if dispatch:
            tasks.dispatch()
        time.sleep(1 if dispatch else 0.5)
    raise AssertionError(
        f"not completed in {seconds} s: {campaign.status} {campaign.status_reason}"
    )


def assert_counters_true(campaign: Campaign) -> None:
    kept = Campaign.objects.values(*COUNTERS).get(pk=campaign.pk)
    refresh_counters([campaign.pk])
    assert Campaign.objects.values(*COUNTERS).get(pk=campaign.pk) == kept


def assert_exactly_once(sim, campaign: Campaign, n: int) -> None:
    accepted = Counter(row["phone"] for row in sim.accepted(vendor="smsadmin"))
    assert set(accepted.values()) == {1}, "a message was sent twice"
    assert len(accepted) == n, "a message was lost"
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {Status.SUBMITTED: n}
    assert_counters_true(campaign)


def test_a_cluster_killed_mid_campaign_on_redis_loses_and_repeats_nothing(
    sim,
    make_campaign,
    sim_account,
    start_cluster,
    monkeypatch,
):
    n = 3000
    fast = {"SENDING_LEASE_S": "2", "SENDING_START_GRACE_S": "2"}
    # A task the killed cluster had taken from Redis is gone: its batch is found "enqueued
    # long ago, and the queue is empty" after this long (2 minutes in production).
    monkeypatch.setattr(sending, "ENQUEUED_STALE", timedelta(seconds=3))
    first = start_cluster(**fast)
    # 300 messages a second: the campaign takes ~10 s, long enough to be killed in the middle.
    campaign = make_campaign(sim_account("smsadmin", rate_limit_per_s=300), n=n)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    deadline = time.monotonic() + 60
    while len(sim.accepted(vendor="smsadmin")) < n // 5:
        assert time.monotonic() < deadline, first.log.read_text()[-3000:]
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # workers, their prefetched tasks and all
    first.wait()
    assert len(sim.accepted(vendor="smsadmin")) < n, "killed too late to prove anything"
    second = start_cluster(**fast)
    wait_until_done(campaign, [second], 180, dispatch=True)
    # Nothing sent twice; nothing lost: each message is submitted (the simulator has it) or,
    # if its request was at the vendor when the cluster died, "unknown" — the truth.
    accepted = Counter(row["phone"] for row in sim.accepted(vendor="smsadmin"))
    assert set(accepted.values()) == {1}, "a message was sent twice"
    rows = Message.objects.filter(campaign=campaign).values_list("phone", "status")
    statuses = Counter(status for _phone, status in rows)
    assert set(statuses) <= {Status.SUBMITTED, Status.UNKNOWN}, statuses
    submitted = {phone for phone, status in rows if status == Status.SUBMITTED}
    unknown = {phone for phone, status in rows if status == Status.UNKNOWN}
    assert submitted <= set(accepted), "submitted but the vendor never had it"
    assert set(accepted) | unknown == {phone for phone, _status in rows}, "a message was lost"
    assert len(unknown) <= 1000, "more unknown than one request in flight"
    assert_counters_true(campaign)


def test_three_clusters_send_one_campaign_exactly_once(
    sim,
    make_campaign,
    sim_account,
    start_cluster,
):
    n = 100_000
    clusters = [start_cluster(Q_WORKERS="1") for _ in range(3)]
    campaign = make_campaign(sim_account("smsadmin"), n=n)
    campaign_commands.request_start(campaign.pk, exclude_missing=True)
    wait_until_done(campaign, clusters, 600, dispatch=True)
    assert_exactly_once(sim, campaign, n)
    # Every cluster took part (the batches were spread, not sent by one).
    logs = [cluster.log.read_text() for cluster in clusters]
    assert all("send batch" in log or "send_batch" in log for log in logs), [
        log[-500:] for log in logs
    ]
