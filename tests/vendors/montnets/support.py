"""What the montnets tests share: accounts, messages, replayed answers."""

import json
from datetime import datetime
from urllib.parse import quote

import requests

from messaging.vendors.base import (
    AccountConfig,
    OutgoingMessage,
)
from messaging.vendors.montnets.client import (
    CHINA,
    MontnetsClient,
    password_digest,
)
from tests.harness.replay import ReplayTransport
from tests.harness.replay import replay as replay_answer
from tests.harness.samples import sample

KEY = "montnets"


DOC_USERID, DOC_PASSWORD, DOC_TIMESTAMP = "J10003", "111111", "0803192020"


DOC_ACCOUNT = AccountConfig(
    base_url="http://gateway.test", account_id=DOC_USERID, secret=DOC_PASSWORD, extension="0006"
)


DOC_CONTENT = "验证码：6666，打死都不要告诉别人哦！"  # what the request samples' content decodes to


def replay(name: str) -> tuple[MontnetsClient, ReplayTransport]:
    return replay_answer(MontnetsClient, DOC_ACCOUNT, sample(KEY, name))


def sent_json(transport: ReplayTransport) -> dict:
    call = transport.calls[-1]
    assert call["method"] == "POST"
    return dict(call["json"])


def documented_request(name: str, *unused: str) -> dict:
    """A JSON request sample without the optional fields the adapter does not send."""
    fields = json.loads(sample(KEY, name))
    for key in unused:
        fields.pop(key)
    return fields


def fake_response(body: bytes, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


def send_one(client, phone="85292041234", content="hi", custom_id="c1"):
    return client.send_single(OutgoingMessage(custom_id, phone, content))


def reply_with(body: bytes) -> MontnetsClient:
    return MontnetsClient(DOC_ACCOUNT, transport=ReplayTransport(body))


def signed_post(sim, path: str, **fields) -> dict:
    """A request signed by hand, for what the adapter itself would never send."""
    timestamp = datetime.now(CHINA).strftime("%m%d%H%M%S")
    body = {
        "userid": DOC_USERID,
        "pwd": password_digest(DOC_USERID, DOC_PASSWORD, timestamp),
        "timestamp": timestamp,
        **fields,
    }
    return requests.post(sim.url("montnets") + path, json=body, timeout=5).json()


ODD_SUCCESS_REPLIES = {
    "trailing comma": b'{\n"result":0,\n"desc":%e6%88%90%e5%8a%9f,\n"msgid":9223372036854775808,'
    b'\n"custid":"c1",\n}',
    "trailing comma, valid otherwise": b'{"result":0,"desc":"","msgid":9223372036854775808,}',
    "result as text": b'{"result":"0","desc":"ok","msgid":"9223372036854775808","custid":"c1"}',
    "bare desc last": b'{"result":0,"msgid":9223372036854775808,"custid":"c1",'
    b'"desc":%e6%88%90%e5%8a%9f}',
    "bare desc, newline, no comma": b'{\n"result":0,\n"desc":%e6%88%90%e5%8a%9f\n'
    b'"msgid":9223372036854775808\n}',
}


def form_push_body(*, encode_rpts: bool = True) -> bytes:
    """The document's push sample as the gateway sends it when set up for forms."""
    payload = json.loads(sample(KEY, "rpt_push_request_json.txt"))
    rpts = json.dumps(payload.pop("rpts"), separators=(",", ":"))
    fields = "&".join(f"{k}={quote(str(v))}" for k, v in payload.items())
    return f"{fields}&rpts={quote(rpts) if encode_rpts else rpts}".encode()
