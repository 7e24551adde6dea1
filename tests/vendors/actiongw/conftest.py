"""Fixtures of the actiongw tests."""

import pytest

from messaging.vendors.actiongw.client import ActionGwClient
from messaging.vendors.base import (
    AccountConfig,
)

from .support import (
    ACCOUNT,
    EXTNO,
    SECRET,
)


@pytest.fixture
def gateway(sim):
    """The simulator with one actiongw account, and a client factory for it."""
    sim.add_account(vendor="actiongw", account_id=ACCOUNT, secret=SECRET, extension=EXTNO)

    def client(**config) -> ActionGwClient:
        config = {
            "base_url": sim.url("actiongw"),
            "account_id": ACCOUNT,
            "secret": SECRET,
            "extension": EXTNO,
            "auth_mode": "md5",
            **config,
        }
        return ActionGwClient(AccountConfig(**config))

    sim.client = client
    return sim
