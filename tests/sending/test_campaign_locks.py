"""What waits for what while a campaign is written and sent (``messaging.services.sql.locks``),
with two real connections on PostgreSQL: one holds a lock in an open transaction, the other
tries its statement with a short ``lock_timeout``."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from messaging.models import Campaign, RecipientList, Template
from messaging.services import campaign_commands
from messaging.services.campaigns import record_transitions
from messaging.services.sql import locks
from messaging.statuses import Status

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row and advisory locks"),
]


@pytest.fixture
def sending(vendor_account, administrator):
    return Campaign.objects.create(
        name="locks",
        template=Template.objects.create(name="t", body="x", created_by=administrator),
        vendor_account=vendor_account,
        recipient_list=RecipientList.objects.create(name="l"),
        status=Campaign.State.SENDING,
        total_count=2,
        pending_count=2,
    )


class Holding:
    """``hold()`` run in another thread's transaction, kept open until the block ends."""

    def __init__(self, hold):
        self.hold, self.held, self.done = hold, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with transaction.atomic():
                self.hold()
                self.held.set()
                self.done.wait(10)
        finally:
            self.held.set()
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        assert self.held.wait(10)
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(10)


def waits(statement) -> bool:
    """Whether ``statement`` had to wait for a lock (it gives up after 300 ms)."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            statement()
    except OperationalError as exc:
        assert getattr(exc.__cause__, "sqlstate", "") == "55P03", exc
        return True
    return False


def test_take_offs_do_not_wait_for_a_chunk_being_written(sending):
    with Holding(lambda: locks.hold_start(sending.pk)):
        assert not waits(lambda: locks.look_at_campaign(sending.pk))
        # Nor do the counters a batch's answer moves.
        assert not waits(
            lambda: record_transitions([(sending.pk, Status.SUBMITTING, Status.SUBMITTED, 1)])
        )


def test_one_start_at_a_time_and_a_cancel_waits_for_the_chunk(sending):
    with Holding(lambda: locks.hold_start(sending.pk)):
        with transaction.atomic():
            assert locks.hold_start(sending.pk, wait=False) is False
        assert waits(lambda: campaign_commands.cancel(sending.pk))
    with transaction.atomic():
        assert locks.hold_start(sending.pk, wait=False) is True


def test_a_pause_waits_for_a_take_off_looking_and_counters_do_not(sending):
    with Holding(lambda: locks.look_at_campaign(sending.pk)):
        assert not waits(lambda: locks.look_at_campaign(sending.pk))  # another take-off
        assert not waits(
            lambda: record_transitions([(sending.pk, Status.SUBMITTING, Status.SUBMITTED, 1)])
        )
        assert waits(lambda: campaign_commands.pause(sending.pk))
        assert waits(lambda: campaign_commands.cancel(sending.pk))
    assert campaign_commands.pause(sending.pk)
    sending.refresh_from_db()
    assert sending.status == Campaign.State.PAUSED
