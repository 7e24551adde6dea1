"""What the actiongw tests share: accounts, messages, replayed answers."""

import datetime as dt
import hashlib
import re
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from messaging.vendors.actiongw.client import ActionGwClient
from messaging.vendors.base import (
    AccountConfig,
    OutgoingMessage,
    PushRequest,
)
from tests.harness.push import push_request
from tests.harness.replay import replay
from tests.harness.samples import sample

KEY = "actiongw"


CHINA = ZoneInfo("Asia/Shanghai")


SAMPLE_TIME = dt.datetime(2017, 4, 12, 1, 38, 21, tzinfo=CHINA)


ACCOUNT, SECRET, EXTNO = "922011", "s3cret", "10690123"


def sample_params(name: str) -> dict[str, str]:
    """The fields of one of the document's example URLs."""
    return dict(parse_qsl(urlsplit(sample(KEY, name).decode()).query, keep_blank_values=True))


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sent_fields(client: ActionGwClient) -> list[dict[str, str]]:
    """The fields of each request the client made (form or query)."""
    return [call.get("data") or call.get("params") for call in client.http.calls]


def replay_client(body: bytes, status: int = 200, **config) -> ActionGwClient:
    config = {
        "base_url": "http://gw.test",
        "account_id": ACCOUNT,
        "secret": SECRET,
        "extension": EXTNO,
        **config,
    }
    client, _ = replay(ActionGwClient, AccountConfig(**config), body, status)
    return client


def messages(*phones: str, content: str = "") -> list[OutgoingMessage]:
    return [OutgoingMessage(f"c{i}", phone, content) for i, phone in enumerate(phones)]


def table_rows(name: str) -> dict[str, str]:
    """code -> words of one of the document's two-column tables (sections 7, 8, 9): each cell
    is a tab-indented line, with Word's bookmarks in front; the first row is the header."""
    cells = [
        re.sub(r"\[bookmark: [^\]]*\]", "", line).strip()
        for line in sample(KEY, name).decode().splitlines()
        if line.startswith("\t")
    ]
    return dict(zip(cells[2::2], cells[3::2], strict=True))


def push(body: bytes) -> PushRequest:
    return push_request(body, content_type="application/json")


def accepted(sim) -> list[tuple[str, str, str]]:
    return [
        (m["phone"], m["content"], m["vendor_message_id"]) for m in sim.accepted(vendor="actiongw")
    ]
