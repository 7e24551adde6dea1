"""Pushes applied at the same time, on PostgreSQL, where several server processes do it.

Vendors re-send a push they think was lost while the first copy is still being applied, so
concurrent pushes name the same messages.  Whichever commits first moves a message; the others
change nothing, nothing deadlocks, and the campaign counters still equal a recount.
"""

import random
import threading

import pytest
from django.db import connection, connections

from messaging.models import Campaign, DeliveryReport, Message
from messaging.services.campaigns import refresh_counters
from messaging.services.reports import apply_status_events
from messaging.statuses import FINAL_STATUSES, Status
from messaging.vendors.base import StatusEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks of PostgreSQL"),
]

MESSAGES = 300
PUSHERS = 6


def report(i: int, rng: random.Random) -> StatusEvent:
    if rng.random() < 0.7:
        return StatusEvent(f"c{i}", Status.DELIVERED, "DELIVRD", "成功", raw=f"c{i}")
    return StatusEvent(f"c{i}", Status.UNDELIVERED, "UNDELIV", "失败", raw=f"c{i}")


def test_overlapping_pushes_at_once_count_each_message_once(vendor_account, submitted_campaign):
    campaign = submitted_campaign(vendor_account, MESSAGES, "c")
    # Every message is named by three pushers, each in its own order, in pushes of 50.
    pushes_by_pusher = []
    for pusher in range(PUSHERS):
        rng = random.Random(pusher)
        mine = [i for i in range(MESSAGES) if (i + pusher) % PUSHERS < 3]
        rng.shuffle(mine)
        events = [report(i, rng) for i in mine]
        pushes_by_pusher.append([events[k : k + 50] for k in range(0, len(events), 50)])
    start = threading.Barrier(PUSHERS)
    errors = []

    def push_all(pushes):
        try:
            start.wait()
            for push in pushes:
                apply_status_events(vendor_account, push, source="push")
        except Exception as exc:  # a deadlock or a lost update shows here
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=push_all, args=(p,)) for p in pushes_by_pusher]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert DeliveryReport.objects.count() == 3 * MESSAGES
    assert DeliveryReport.objects.filter(message__isnull=True).count() == 0
    assert set(Message.objects.values_list("status", flat=True)) <= FINAL_STATUSES
    fields = [f.name for f in Campaign._meta.fields if f.name.endswith("_count")]
    counters = Campaign.objects.values(*fields).get(pk=campaign.pk)
    refresh_counters([campaign.pk])
    assert counters == Campaign.objects.values(*fields).get(pk=campaign.pk)
    assert counters["delivered_count"] + counters["failed_count"] == MESSAGES
    # Each message took the status of one of its reports.
    for message in Message.objects.all():
        assert message.vendor_status_code in {r.vendor_code for r in message.reports.all()}, message
