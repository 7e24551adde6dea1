"""Fixtures of the smscn tests."""

from __future__ import annotations

import pytest

from messaging.vendors.base import (
    AccountConfig,
)
from messaging.vendors.simulator import SimulatorServer
from messaging.vendors.smscn.client import (
    SmscnClient,
)
from messaging.vendors.smscn.simulator import SmscnSimulator
from tests.harness.push import PushReceiver

from .support import (
    KEY,
    PASSWORD,
    UID,
    make_client,
)


@pytest.fixture(scope="module")
def simulator_server():
    """Only this vendor's simulator, so these tests do not depend on the other packages; no
    background pushes (tests call ``push_once``)."""
    server = SimulatorServer(port=0, push_interval_s=3600, simulators={"smscn": SmscnSimulator})
    yield server.start()
    server.stop()


@pytest.fixture
def client(sim) -> SmscnClient:
    sim.add_account(vendor="smscn", account_id=UID, secret=PASSWORD, extension="88")
    sim.state.enforce_poll_interval = False
    return make_client(sim)


@pytest.fixture
def receiver():
    """A portal push endpoint: the query decoded as GBK, as the gateway encodes it."""
    config = AccountConfig(base_url="", account_id=UID, secret=PASSWORD)
    with PushReceiver(KEY, config, query_encoding="gbk") as receiver:
        yield receiver
