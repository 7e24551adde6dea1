"""Fixtures of the ashx5g tests."""

from __future__ import annotations

import pytest

from messaging.vendors.ashx5g.client import (
    Ashx5gClient,
)
from messaging.vendors.base import (
    AccountConfig,
)
from tests.harness.push import PushReceiver

from .support import (
    ACCOUNT,
    KEY,
    SECRET,
    sim_client,
)


@pytest.fixture
def client(sim) -> Ashx5gClient:
    sim.add_account(vendor=KEY, account_id=ACCOUNT, secret=SECRET, balance=1000)
    return sim_client(sim)


@pytest.fixture
def receiver():
    config = AccountConfig(base_url="", account_id=ACCOUNT, secret=SECRET)
    with PushReceiver(KEY, config) as receiver:
        yield receiver
