"""Fixtures of the montnets tests."""

import pytest

from messaging.vendors.base import (
    AccountConfig,
)
from messaging.vendors.montnets import client as montnets_client
from messaging.vendors.montnets.client import (
    MontnetsClient,
)
from tests.harness.push import PushReceiver

from .support import (
    DOC_PASSWORD,
    DOC_TIMESTAMP,
    DOC_USERID,
    KEY,
)


@pytest.fixture
def account(sim):
    sim.add_account(vendor="montnets", account_id=DOC_USERID, secret=DOC_PASSWORD, extension="0006")
    return AccountConfig(
        base_url=sim.url("montnets"),
        account_id=DOC_USERID,
        secret=DOC_PASSWORD,
        extension="0006",
        auth_mode="md5",
    )


@pytest.fixture
def client(account):
    return MontnetsClient(account)


@pytest.fixture
def doc_clock(monkeypatch):
    """Sign requests at the document's timestamp, so they can be compared with its samples."""
    monkeypatch.setattr(montnets_client, "signing_timestamp", lambda: DOC_TIMESTAMP)


@pytest.fixture
def receiver():
    """The push receiver; each test sets its ``config`` before the simulator pushes."""
    config = AccountConfig(base_url="", account_id="P20001", secret="s3cret")
    with PushReceiver(KEY, config) as receiver:
        yield receiver


@pytest.fixture
def client_django():
    """Django's test client (``client`` is this module's Montnets client)."""
    from django.test import Client

    return Client()
