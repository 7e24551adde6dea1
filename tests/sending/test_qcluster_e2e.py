"""End to end through a real task cluster: ``manage.py qcluster`` (django-q2, ORM broker) in
its own process starts one campaign per vendor and sends every batch to the simulator over
HTTP; the simulator's own record shows each recipient accepted exactly once."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django_q.tasks import async_task

from messaging.models import Campaign, Message
from messaging.statuses import Status
from messaging.vendors.registry import VENDOR_KEYS

from .test_kill import ROOT, database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

RECIPIENTS = 30


@pytest.fixture
def task_cluster(tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url(), "Q_POLL": "0.1", "Q_WORKERS": "2"}
    log = tmp_path / "qcluster.log"
    with log.open("w") as output:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cluster.log = log
    yield cluster
    os.killpg(cluster.pid, signal.SIGTERM)
    try:
        cluster.wait(timeout=3)  # a graceful stop takes ~10 s; nothing here needs one
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)


def test_every_vendor_sends_through_the_task_cluster(sim, make_campaign, task_cluster):
    # smscn and montnets have no personalised send (single requests in parallel), ashx5g,
    # actiongw and smsadmin send personalised batches: every request shape goes through.
    campaigns = {vendor: make_campaign(vendor, n=RECIPIENTS) for vendor in VENDOR_KEYS}
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
