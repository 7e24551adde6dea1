"""What the smscn tests share: accounts, messages, replayed answers."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

from messaging.vendors.base import (
    AccountConfig,
    OutgoingMessage,
)
from messaging.vendors.smscn.client import (
    SmscnClient,
)
from tests.harness.replay import ReplayTransport, replay
from tests.harness.samples import sample_text

KEY = "smscn"


CHINA = dt.timezone(dt.timedelta(hours=8))


UID, PASSWORD = "test", "123123"  # the document's example account


def sample_url_fields(name: str) -> tuple[str, dict[str, str]]:
    """The path and fields of a request URL sample (the last line of the fixture)."""
    url = sample_text(KEY, name).strip().splitlines()[-1]
    split = urlsplit(url)
    return split.path, dict(parse_qsl(split.query, keep_blank_values=True))


def replay_client(body: str | bytes, **options) -> tuple[SmscnClient, ReplayTransport]:
    """A client whose every request is answered with ``body``: the document is UTF-8 text, the
    gateway sends these bytes as GBK."""
    config = AccountConfig(
        base_url="http://gateway.test", account_id=UID, secret=PASSWORD, options=options
    )
    body = body.encode("gbk") if isinstance(body, str) else body
    return replay(SmscnClient, config, body)


def messages(*phones: str, start: int = 1) -> list[OutgoingMessage]:
    return [OutgoingMessage(custom_id=str(start + i), phone=p) for i, p in enumerate(phones)]


def make_client(sim, **overrides) -> SmscnClient:
    config = {
        "base_url": sim.url("smscn"),
        "account_id": UID,
        "secret": PASSWORD,
        "extension": "88",
        **overrides,
    }
    return SmscnClient(AccountConfig(**config))


def gateway_account(sim):
    return sim.state.account("smscn", UID)
