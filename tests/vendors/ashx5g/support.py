"""What the ashx5g tests share: accounts, messages, replayed answers."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import requests

from messaging.vendors.ashx5g.client import (
    Ashx5gClient,
)
from messaging.vendors.base import (
    AccountConfig,
    OutgoingMessage,
    PushRequest,
    TemplateFrame,
)
from tests.harness.push import push_request
from tests.harness.replay import ReplayTransport
from tests.harness.replay import replay as replay_answer
from tests.harness.samples import sample

KEY = "ashx5g"


ACCOUNT, SECRET = "800001", "pw-800001"


def replay(body: bytes, **config) -> tuple[Ashx5gClient, ReplayTransport]:
    settings = {
        "base_url": "http://vendor.test/ashx5g",
        "account_id": "123456",
        "secret": "secret",
        **config,
    }
    return replay_answer(Ashx5gClient, AccountConfig(**settings), body)


def messages(*phones: str) -> list[OutgoingMessage]:
    return [OutgoingMessage(f"m{i}", phone, f"内容 {i}") for i, phone in enumerate(phones, 1)]


def reply_body(name: str) -> bytes:
    """The JSON body at the end of one of the document's raw HTTP exchanges (section 7)."""
    return sample(KEY, name).splitlines()[-1]


def sim_client(sim, **config) -> Ashx5gClient:
    settings = {"account_id": ACCOUNT, "secret": SECRET, **config}
    return Ashx5gClient(AccountConfig(base_url=sim.url(KEY), **settings))


def documented_field_names(name: str) -> set[str]:
    names = set()
    for line in sample(KEY, name).decode().splitlines():
        query = line.split("?", 1)[1] if "?" in line else line.partition("[POST Body]")[2]
        names |= {key for key, _ in parse_qsl(query.strip())}
    return names


def push(body: bytes = b"", method: str = "POST", query: dict | None = None) -> PushRequest:
    return push_request(body, method=method, query=query, content_type="application/json")


def http_exchange_request(name: str) -> tuple[str, str, bytes, str]:
    """(method, path with query, body, content type) of one of section 7's requests."""
    text = sample(KEY, name).decode()
    if name.endswith(".json"):
        return "POST", "/mt.ashx", text.encode(), "application/json;charset=UTF-8"
    request_line, *rest = text.splitlines()
    method, target = request_line.split(" ", 1)
    target = target.rsplit(" HTTP/1.1", 1)[0]
    body = next((line for line in rest if line.startswith("account=")), "")
    return method, target, body.encode(), "application/x-www-form-urlencoded"


TEXT_FRAME = [TemplateFrame(1, 1, "text/plain", b"hi")]


def mms_create(sim, **fields) -> dict:
    body = {
        "account": ACCOUNT,
        "pswd": SECRET,
        "title": "t",
        "files": [{"index": "1", "id": "1", "content_type": "text/plain", "content": "6869"}],
        **fields,
    }
    return requests.post(sim.url(KEY) + "/mms_create.ashx", json=body, timeout=5).json()


def report_reply(*stats: str) -> bytes:
    items = [
        {"uid": "2", "seq": f"50{i}", "pn": "13900030003", "sc": sc, "st": "20200508214200"}
        for i, sc in enumerate(stats)
    ]
    return json.dumps({"ct": "20200508233417", "result": "0", "rpts": items}).encode()


# Not in the document: the older gateway family answers a call that comes too soon with this
# plain text and HTTP 200 (instead of result=920).
FREQUENCY_DENY = b"frequency deny.please query slowly.f:5sec."


MANUAL_CALLS = {
    "rpt": Ashx5gClient.poll_reports,
    "mo": Ashx5gClient.poll_mo,
    "balance": Ashx5gClient.balance,
    "bi": Ashx5gClient.account_info,
}


def age_poll_clock(sim, seconds: float, account_id: str = ACCOUNT) -> None:
    """As if ``seconds`` had passed since the account's last manual call."""
    sim.state.last_poll[(KEY, account_id, "manual")] -= seconds


def sent_vars(transport: ReplayTransport) -> list[dict]:
    (call,) = transport.calls
    return json.loads(json.loads(call["data"].decode("utf-8"))["vars"])


def raw_call(sim, path: str, method: str = "POST", **fields) -> dict:
    fields = {"account": ACCOUNT, "pswd": SECRET, **fields}
    fields = {name: value for name, value in fields.items() if value is not None}
    if method == "GET":
        return requests.get(sim.url(KEY) + path, params=fields, timeout=5).json()
    return requests.post(sim.url(KEY) + path, data=fields, timeout=5).json()
