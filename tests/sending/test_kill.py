"""Kill tests: a real worker process is SIGKILLed at several points of sending a batch; the
simulator's own record of accepted messages shows nothing was sent twice and nothing lost."""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from messaging.models import Message
from messaging.services import sending
from messaging.services.reports import apply_status_events
from messaging.statuses import FINAL_STATUSES, Status

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user, host, port = settings["USER"], settings["HOST"], settings["PORT"]
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def worker_sends(batch_id: int, crash_at: str = "") -> int:
    """Run one worker process that sends the batch; returns its exit code."""
    env = {**os.environ, "DATABASE_URL": database_url(), sending.CRASH_AT_ENV: crash_at}
    code = f"from messaging.services.sending import send_batch; send_batch({batch_id})"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode


@pytest.mark.parametrize("crash_at", ["after_claim", "after_answer", "before_commit"])
def test_killed_worker_sends_nothing_twice_and_loses_nothing(crash_at, sim, make_campaign):
    campaign = make_campaign("ashx5g", n=4)
    batches = sending.start_campaign(campaign.pk).batches
    assert worker_sends(batches[0], crash_at) == -signal.SIGKILL

    # Recovery, as the minutely dispatcher does it: sweep, then send whatever is pending.
    sending.sweep_stalled_batches(older_than=timedelta(0))
    for batch_id in sending.pending_batches():
        assert worker_sends(batch_id) == 0

    accepted = Counter(row["phone"] for row in sim.accepted(vendor="ashx5g"))
    assert all(count == 1 for count in accepted.values()), "a message was sent twice"

    # Reports reconcile whatever the vendor took.
    sim.state.tick()
    events = campaign.vendor_account.client().poll_reports().items
    apply_status_events(campaign.vendor_account, events, source="poll")
    messages = {m.phone: m for m in Message.objects.filter(campaign=campaign)}
    assert len(messages) == 4
    for phone, message in messages.items():
        if phone in accepted:
            assert message.status in FINAL_STATUSES, (phone, message.status)
            assert message.vendor_message_id
        else:
            # Never silently dropped: visible as unknown, with the reason.
            assert message.status == Status.UNKNOWN and message.error
    if crash_at == "after_claim":
        assert not accepted
    else:
        assert len(accepted) == 4


def test_worker_without_a_crash_completes(sim, make_campaign):
    campaign = make_campaign("smscn", n=3)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    assert worker_sends(batch_id) == 0
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUBMITTED}
