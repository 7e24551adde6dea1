"""Fixtures of the smsadmin tests."""

import pytest

from messaging.vendors.base import (
    AccountConfig,
)
from tests.harness.push import PushReceiver

from .support import (
    ACCOUNT,
    KEY,
    SECRET,
)


@pytest.fixture
def account(sim):
    sim.add_account(
        vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, extension="8801", balance=1000
    )
    return sim.state.account("smsadmin", ACCOUNT)


@pytest.fixture
def receiver():
    config = AccountConfig("http://unused", ACCOUNT, SECRET)
    with PushReceiver(KEY, config, reply_encoding="gb2312") as receiver:
        yield receiver
