"""Polling of an account happens in one place at a time, however many clusters run: workers
of several clusters asking at the same instant are settled by the claim in the database, and
the vendor sees one call."""

import threading

import pytest
from django.db import connection

from messaging.models import VendorAccount
from messaging.services import polling

pytestmark = pytest.mark.django_db(transaction=True)


def test_workers_asking_at_once_make_one_call(sim, sim_account):
    if connection.vendor != "postgresql":
        pytest.skip("several writers at once: row locks of PostgreSQL")
    account = sim_account("actiongw", polling_enabled=True, poll_interval_s=10)
    workers = 6
    ready = threading.Barrier(workers)
    claimed: list[bool] = []

    def worker() -> None:
        try:
            mine = VendorAccount.objects.get(pk=account.pk)
            ready.wait()
            claimed.append(polling.poll_once(mine, polling.REPORTS).claimed)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(claimed) == [False] * (workers - 1) + [True]
