"""The simulator engine itself: a test's state never receives another test's requests."""

import time

import pytest

from messaging.vendors.ashx5g.client import Ashx5gClient
from messaging.vendors.base import AccountConfig, AmbiguousOutcome, OutgoingMessage


def test_a_slow_request_answered_after_a_reset_lands_nowhere(sim):
    sim.add_account(vendor="ashx5g", account_id="960001", secret="s")
    sim.misbehave("ashx5g", "slow", delay_s=0.5, remaining=1)
    client = Ashx5gClient(
        AccountConfig(sim.url("ashx5g"), "960001", "s", auth_mode="plain", timeout_s=0.1)
    )
    with pytest.raises(AmbiguousOutcome):
        client.send_single(OutgoingMessage("c", "13800000001", "x"))
    sim.state.reset()  # the next test begins while the request still sleeps
    sim.state.add_account(_account())
    time.sleep(0.8)
    assert sim.accepted(vendor="ashx5g") == []


def _account():
    from messaging.vendors.simulator import SimAccount

    return SimAccount(vendor="ashx5g", account_id="960001", secret="s")
