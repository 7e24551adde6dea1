"""Montnets: the document's samples as test vectors, every operation against the simulator over
real HTTP, and every typed error from one of this vendor's real error replies."""

import json
import re
import socket
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

import pytest
import requests

from messaging.services.outcomes import DISPOSITION_BY_KIND, Disposition, decide
from messaging.statuses import Status
from messaging.vendors.base import (
    ERROR_KINDS,
    AccountConfig,
    AccountProblem,
    AmbiguousOutcome,
    ContentRejected,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    PushRejected,
    PushRequest,
    RateLimited,
    Refused,
    SubmitResult,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
)
from messaging.vendors.http import HttpReply
from messaging.vendors.montnets import VENDOR
from messaging.vendors.montnets import client as montnets_client
from messaging.vendors.montnets.client import (
    CHINA,
    FIXED_STRING,
    GET_RPT_PATH,
    SEND_BATCH_PATH,
    SEND_SINGLE_PATH,
    MontnetsClient,
    decode_text,
    encode_content,
    loads_lenient,
    parse_report,
    password_digest,
    vendor_id,
)
from messaging.vendors.montnets.codes import ERROR_CODES, REPORT_CODES, error_for
from messaging.vendors.montnets.push import parse_push
from messaging.vendors.montnets.simulator import MontnetsSimulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "vendors" / "montnets"
DOC_USERID, DOC_PASSWORD, DOC_TIMESTAMP = "J10003", "111111", "0803192020"
DOC_ACCOUNT = AccountConfig(
    base_url="http://gateway.test", account_id=DOC_USERID, secret=DOC_PASSWORD, extension="0006"
)
DOC_CONTENT = "验证码：6666，打死都不要告诉别人哦！"  # what the request samples' content decodes to


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


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


class ReplayTransport:
    """Answers every request with one stored body and records what was sent."""

    def __init__(self, body: bytes):
        self.body = body
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method, url, **kwargs):
        self.sent.append((method, url, kwargs))
        return HttpReply(200, self.body, self.body.decode("utf-8", "replace"), {}, url)

    def get(self, url, params=None, **kwargs):
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)


def replay(name: str) -> tuple[MontnetsClient, ReplayTransport]:
    transport = ReplayTransport(sample(name))
    return MontnetsClient(DOC_ACCOUNT, transport=transport), transport


def sent_json(transport: ReplayTransport) -> dict:
    method, _, kwargs = transport.sent[-1]
    assert method == "POST"
    return dict(kwargs["json"])


def documented_request(name: str, *unused: str) -> dict:
    """A JSON request sample without the optional fields the adapter does not send."""
    fields = json.loads(sample(name))
    for key in unused:
        fields.pop(key)
    return fields


def fake_response(body: bytes, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


# ============================================================== 1. the document's samples


def test_vendor_is_registered_with_documented_capabilities():
    caps = VENDOR.capabilities
    assert VENDOR.key == "montnets" and VENDOR.parse_push is parse_push
    assert (caps.max_numbers_per_request, caps.max_personalised_per_request) == (1000, 0)
    assert (caps.max_reports_per_poll, caps.min_poll_interval_s) == (500, 5.0)
    assert caps.pushes == {"report"} and caps.international and not caps.poll_mo
    assert caps.auth_modes == ("md5",)


def test_signing_example_gives_the_documented_digest():
    text = sample("pwd_signing_example.txt").decode()
    userid = re.search(r"Account(\w+)", text)[1]
    password = re.search(r"Password(\w+)", text)[1]
    fixed = re.search(r"Fixed string(\w+)", text)[1]
    timestamp = re.search(r"Timestamp(\d+)", text)[1]
    pre_image = re.search(r"before MD5 encryption:\s+(\w+)", text)[1]
    digest = re.search(r"after MD5 encryption: (\w{32})", text)[1]
    assert fixed == FIXED_STRING
    assert userid + fixed + password + timestamp == pre_image
    assert password_digest(userid, password, timestamp) == digest
    # 3.1: the userid is upper-cased before hashing.
    assert password_digest(userid.lower(), password, timestamp) == digest


def test_content_example_is_url_encoded_utf8():
    encoded = sample("content_urlencode_example.txt").decode().split()[-1]
    assert unquote(encoded) == "“您本次登录的验证码是1234”"
    assert encode_content(unquote(encoded)) == encoded


@pytest.mark.parametrize(
    "name", ["desc_urlencode_example_send_single.txt", "desc_urlencode_example_get_rpt.txt"]
)
def test_desc_examples_decode(name):
    # Both tables show the same UTF-8 bytes, although get_rpt's claims GB2312.
    assert decode_text(sample(name).decode().split()[-1]) == "鉴权失败"
    assert decode_text(quote("鉴权失败", encoding="gb2312")) == "鉴权失败"
    assert decode_text("success") == "success"


def test_send_single_sample_request_and_success_reply(doc_clock):
    client, transport = replay("send_single_reply_success_json.txt")
    result = client.send_single(OutgoingMessage("b3d0a2783d31b21b8573", "85292041234", DOC_CONTENT))
    assert transport.sent[-1][1] == "http://gateway.test" + SEND_SINGLE_PATH
    sent = sent_json(transport)
    documented = documented_request("send_single_request_post_json.txt", "svrtype", "exdata")
    # The samples write the escapes in lower case, the parameter table in upper case.
    assert sent.pop("content").lower() == documented.pop("content")
    assert sent == documented
    assert result == SubmitResult(
        custom_id="b3d0a2783d31b21b8573",
        phone="85292041234",
        accepted=True,
        vendor_message_id="9223372036854775808",
        raw=sample("send_single_reply_success_json.txt").decode(),
    )


def test_send_single_sample_failure_reply():
    client, _ = replay("send_single_reply_failure_json.txt")
    with pytest.raises(TransientError) as caught:
        client.send_single(OutgoingMessage("c1", "85292041234", "hello"))
    assert caught.value.code == "-100999"
    assert str(caught.value).startswith("系统内部错误")
    assert caught.value.raw == sample("send_single_reply_failure_json.txt").decode()


@pytest.mark.parametrize(
    "name",
    [
        "send_single_reply_success_xml.txt",
        "send_single_reply_failure_xml.txt",
        "get_rpt_reply_success_xml.txt",
        "get_rpt_reply_failure_xml.txt",
    ],
)
def test_xml_samples_are_unexpected_for_json_requests(name):
    # We send JSON, and the document says JSON requests get JSON back.
    client, _ = replay(name)
    operation = (
        client.poll_reports
        if name.startswith("get_rpt")
        else (lambda: client.send_single(OutgoingMessage("c1", "85292041234", "hello")))
    )
    with pytest.raises(UnexpectedReply) as caught:
        operation()
    assert caught.value.raw == sample(name).decode()


def test_send_batch_sample_request_and_success_reply(doc_clock):
    client, transport = replay("send_batch_reply_success_json.txt")
    messages = [OutgoingMessage(f"c{i}", f"8529204123{i}", "") for i in (4, 5, 6)]
    results = client.send_same(messages, DOC_CONTENT)
    assert transport.sent[-1][1].endswith(SEND_BATCH_PATH)
    sent = sent_json(transport)
    documented = documented_request("send_batch_request_post_json.txt", "svrtype", "exdata")
    assert sent.pop("content").lower() == documented.pop("content")
    # Our custid for the batch is marked as a batch's (every report of the batch carries it).
    assert (sent.pop("custid"), documented.pop("custid")) == ("batch-c4", "b3d0a2783d31b21b8573")
    assert sent == documented
    assert {r.batch_id for r in results} == {"batch-c4"}
    assert [(r.custom_id, r.accepted, r.vendor_message_id) for r in results] == [
        ("c4", True, "9223372036854775808"),
        ("c5", True, "9675808854733720223"),  # above the signed 64-bit range
        ("c6", False, ""),  # the sample answers only two of the three numbers
    ]
    assert results[2].error_kind == "ambiguous"
    assert json.loads(results[0].raw) == {"mobile": "85292041234", "msgid": 9223372036854775808}


def test_send_batch_messages_field_example():
    fragment = sample("send_batch_messages_field_example.txt")
    transport = ReplayTransport(b'{"result":0,"desc":"","messages":' + fragment + b"}")
    client = MontnetsClient(DOC_ACCOUNT, transport=transport)
    results = client.send_same(
        [OutgoingMessage("a", "+85292041235", ""), OutgoingMessage("b", "0085292041234", "")], "x"
    )
    assert [r.vendor_message_id for r in results] == ["9675808854733720223", "9223372036854775808"]


def test_send_batch_sample_failure_reply():
    client, _ = replay("send_batch_reply_failure_json.txt")
    with pytest.raises(TransientError) as caught:
        client.send_same(
            [OutgoingMessage("a", "85292041234"), OutgoingMessage("b", "85292041235")], "hello"
        )
    assert caught.value.code == "-100999"


def test_get_rpt_sample_request_and_success_reply(doc_clock):
    client, transport = replay("get_rpt_reply_success_json.txt")
    result = client.poll_reports()
    sent = sent_json(transport)
    documented = documented_request("get_rpt_request_post_json.txt")
    assert (sent.pop("retsize"), documented.pop("retsize")) == (500, 300)  # we take the maximum
    assert sent == documented
    assert result.more_waiting  # 5.2: reports came back, so fetch again at once
    first, second = result.items
    # The second report is part 2 of 2: its message is the id part 1 would carry, msgid -
    # 2**34 (the sample's parts, with two custids, do not follow that rule: two messages).
    assert (first.vendor_message_id, second.vendor_message_id) == (
        "9223372045854775808",
        str(9223372045854875809 - 2**34),
    )
    assert first.status == second.status == Status.DELIVERED
    assert (first.vendor_code, first.custom_id, first.phone) == (
        "DELIVRD",
        "b3d0a2783d31b21b8573",
        "138xxxxxxxx",
    )
    assert first.done_at == datetime(2016, 8, 4, 17, 38, 59, tzinfo=CHINA)
    assert first.done_at.utcoffset() == timedelta(hours=8)
    assert [(e.part_index, e.part_count) for e in result.items] == [(1, 2), (2, 2)]
    assert json.loads(first.raw)["exdata"] == "exdata0002"
    assert result.raw == sample("get_rpt_reply_success_json.txt").decode()


def test_unreadable_reports_are_skipped_but_still_mean_fetch_again():
    transport = ReplayTransport(
        b'{"result":0,"desc":"","rpts":[{"msgid":"x"},{"msgid":1,"status":0}]}'
    )
    result = MontnetsClient(DOC_ACCOUNT, transport=transport).poll_reports()
    assert [e.vendor_message_id for e in result.items] == ["1"] and result.more_waiting
    transport.body = b'{"result":0,"desc":"","rpts":[{"msgid":"x"}]}'
    result = MontnetsClient(DOC_ACCOUNT, transport=transport).poll_reports()
    assert result.items == [] and result.more_waiting
    transport.body = b'{"result":0,"desc":"","rpts":{"msgid":1}}'
    with pytest.raises(UnexpectedReply):
        MontnetsClient(DOC_ACCOUNT, transport=transport).poll_reports()


def test_get_rpt_sample_failure_reply():
    client, _ = replay("get_rpt_reply_failure_json.txt")
    with pytest.raises(TransientError) as caught:
        client.poll_reports()
    assert caught.value.code == "-100999"


def test_push_sample_parses_and_is_answered_like_the_sample():
    request = PushRequest("POST", {}, sample("rpt_push_request_json.txt"), "application/json")
    outcome = parse_push(request, DOC_ACCOUNT)
    assert outcome.errors == []
    assert [r.vendor_message_id for r in outcome.reports] == [
        "9223372045854775808",
        "9223372045854875808",
    ]
    assert all(r.status == Status.DELIVERED for r in outcome.reports)
    assert outcome.reports[0].done_at == datetime(2016, 8, 4, 17, 38, 59, tzinfo=CHINA)
    assert json.loads(outcome.reply_body) == json.loads(sample("rpt_push_reply_success_json.txt"))
    assert outcome.reply_content_type == "application/json"


def test_push_reply_samples_are_judged_like_the_gateway():
    simulator = MontnetsSimulator(state=None)
    call = type("Call", (), {"body": sample("rpt_push_request_json.txt")})()
    assert simulator.push_acknowledged(
        call, fake_response(sample("rpt_push_reply_success_json.txt"))
    )
    assert not simulator.push_acknowledged(
        call, fake_response(sample("rpt_push_reply_failure_json.txt"))
    )
    assert not simulator.push_acknowledged(call, fake_response(b"OK"))
    other_seqid = b'{"cmd":"RPT_RESP","seqid":1005,"result":0}'
    assert not simulator.push_acknowledged(call, fake_response(other_seqid))


@pytest.mark.parametrize(
    "name",
    [
        "send_single_request_post_urlencode.txt",
        "send_single_request_get_urlencode.txt",
        "get_rpt_request_post_urlencode.txt",
        "get_rpt_request_get_urlencode.txt",
    ],
)
def test_form_samples_lost_their_timestamp_to_an_html_entity(name):
    # "&timestamp" was rendered as "×tamp" (the HTML entity &times;) in every form sample.
    text = sample(name).decode().strip()  # the leading space is the document's indentation
    assert "×tamp" in text and "timestamp" not in dict(parse_qsl(text))
    repaired = dict(parse_qsl(text.replace("×tamp", "&timestamp")))
    json_sample = name.split("_request_")[0] + "_request_post_json.txt"
    assert repaired == {
        k: unquote(str(v)) if k == "content" else str(v)
        for k, v in json.loads(sample(json_sample)).items()
    }


def test_simulator_accepts_the_documented_requests(sim):
    sim.add_account(vendor="montnets", account_id=DOC_USERID, secret=DOC_PASSWORD)
    sim.vendor_action("montnets", "freeze_clock", now="2024-08-03 19:20:20")
    base = sim.url("montnets")

    def post(path, body, content_type):
        return requests.post(
            base + path, data=body, headers={"Content-Type": content_type}, timeout=5
        ).json()

    form = "application/x-www-form-urlencoded"
    single_form = sample("send_single_request_post_urlencode.txt").strip()
    assert post(SEND_SINGLE_PATH, single_form, form)["result"] == -100001  # no timestamp
    repaired = single_form.replace("×tamp".encode(), b"&timestamp")
    assert post(SEND_SINGLE_PATH, repaired, form)["result"] == 0
    query = sample("send_single_request_get_urlencode.txt").decode().strip()
    query = query.replace("×tamp", "&timestamp")
    get = requests.get(base + SEND_SINGLE_PATH, params=parse_qsl(query), timeout=5)
    assert get.json()["result"] == 0
    answer = post(SEND_SINGLE_PATH, sample("send_single_request_post_json.txt"), "application/json")
    assert answer["result"] == 0 and answer["custid"] == "b3d0a2783d31b21b8573"
    batch = post(SEND_BATCH_PATH, sample("send_batch_request_post_json.txt"), "application/json")
    assert [m["mobile"] for m in batch["messages"]] == ["85292041234", "85292041235", "85292041236"]
    # The XML samples lost their element names: the gateway cannot read them.
    xml = sample("send_single_request_post_xml.txt")
    assert post(SEND_SINGLE_PATH, xml, "application/xml")["result"] == -100100
    get_rpt = sample("get_rpt_request_post_json.txt")
    assert post(GET_RPT_PATH, get_rpt, "application/json")["result"] == 0

    accepted = sim.accepted(vendor="montnets")
    assert len(accepted) == 6
    assert {m["content"] for m in accepted} == {DOC_CONTENT}
    assert accepted[0]["custom_id"] == "b3d0a2783d31b21b8573"
    assert accepted[0]["extension"] == "0006"
    assert accepted[0]["extra"] == {"exdata": "exdata000002"}


def test_header_sample_path_is_not_an_operation(sim, client):
    request_line = sample("http_request_header_example.txt").decode().split()
    assert request_line[:2] == ["POST", "/sms/v2/std/single_send"]
    response = requests.post(sim.url("montnets") + request_line[1], data=b"", timeout=5)
    assert response.status_code == 404
    # 2.1.1 names the path send_single, which is what the adapter calls.
    assert client.send_single(OutgoingMessage("c1", "85292041234", "hi")).accepted


def test_number_formats_of_section_3_2(sim, client):
    # The section is typeset with no-break spaces, hence \s rather than " ".
    numbers = re.findall(r"such\s+as\s+(\S+)", sample("mobile_number_formats.txt").decode())
    assert numbers == ["85292041234", "0085292041234", "+85292041234"]
    results = [client.send_single(OutgoingMessage(f"c{i}", n, "hi")) for i, n in enumerate(numbers)]
    assert all(r.accepted for r in results)
    results = client.send_same([OutgoingMessage(f"b{i}", n) for i, n in enumerate(numbers)], "hi")
    # Numbers in a form of 3.2 go as they are, but the "+" of E.164 goes as "00".
    sent = ["85292041234", "0085292041234", "0085292041234"]
    assert [m["phone"] for m in sim.accepted(vendor="montnets")] == sent * 2
    assert [r.phone for r in results] == numbers  # our form, kept
    assert [r.vendor_message_id for r in results] == [
        m["vendor_message_id"] for m in sim.accepted(vendor="montnets")[3:]
    ]


# ============================================================== code tables and report parsing


def test_error_table_maps_every_code_to_its_typed_error():
    # Section 4 rows as -100000 - n, the last row being the range -100100 ~ -100090.
    rows = (1, 2, 4, 11, 12, 14, 56, 57, 999, 807, 268, 269, 270, 271, 272, 273, 274)
    assert set(ERROR_CODES) == {str(-100000 - n) for n in (*rows, *range(90, 101))}
    for code, entry in ERROR_CODES.items():
        error = error_for(code, raw="{}")
        assert type(error) is ERROR_KINDS[entry.meaning]
        assert error.code == code and error.raw == "{}"
        assert (error.description_zh, error.description_en) == (entry.zh, entry.en)
    assert isinstance(error_for("-100056", ""), RateLimited)
    # 2.1.6 / 2.2.6 / 2.4.5: "non 0: failure" and msgid 0 — an unlisted code is a refusal.
    assert type(error_for("-123", "")) is Refused


def test_report_status_follows_the_status_flag():
    base = {"msgid": -42, "mobile": "85292041234", "rtime": "bad time"}
    assert parse_report({**base, "status": 0, "errcode": "DELIVRD"}).status == Status.DELIVERED
    # A failure flag wins over a contradicting DELIVRD.
    assert parse_report({**base, "status": 1, "errcode": "DELIVRD"}).status == Status.UNDELIVERED
    assert parse_report({**base, "status": 1, "errcode": "EXPIRED"}).status == Status.EXPIRED
    assert parse_report({**base, "errcode": "REJECTD"}).status == Status.REJECTED
    odd = parse_report(
        {**base, "status": "2", "errcode": "MK:0001", "errdesc": "%e6%ac%a0%e8%b4%b9"}
    )
    assert (odd.status, odd.vendor_code, odd.description_zh) == (
        Status.UNDELIVERED,
        "MK:0001",
        "欠费",
    )
    assert odd.vendor_message_id == str(2**64 - 42) and odd.done_at is None
    assert set(REPORT_CODES) >= {"DELIVRD"}
    for bad in ([], {"status": 0}, {"msgid": 0, "status": 0}, {"msgid": 1, "errcode": "MK:1"}):
        with pytest.raises(ValueError):
            parse_report(bad)


# ============================================================== 2. operations over HTTP


def test_send_single_round_trip(sim, client):
    result = client.send_single(OutgoingMessage("order-42_a", "85292041234", "验证码 1234 ok"))
    (accepted,) = sim.accepted(vendor="montnets")
    assert result.accepted and result.custom_id == "order-42_a"
    assert result.vendor_message_id == accepted["vendor_message_id"]
    assert int(result.vendor_message_id) > 2**63 - 1  # kept exactly as text
    assert (accepted["content"], accepted["custom_id"], accepted["extension"]) == (
        "验证码 1234 ok",
        "order-42_a",
        "0006",
    )


def test_send_same_batch_matches_numbers_in_order(sim, client):
    messages = [
        OutgoingMessage("a", "85292041234"),
        OutgoingMessage("b", "+85292041235"),
        OutgoingMessage("c", "85292041234"),
    ]
    results = client.send_same(messages, "Same text for everyone")
    accepted = sim.accepted(vendor="montnets")
    assert [r.custom_id for r in results] == ["a", "b", "c"]
    assert [r.vendor_message_id for r in results] == [m["vendor_message_id"] for m in accepted]
    assert {m["content"] for m in accepted} == {"Same text for everyone"}
    assert len({r.vendor_message_id for r in results}) == 3


def test_send_same_with_one_message_keeps_our_custid(sim, client):
    (result,) = client.send_same([OutgoingMessage("only-1", "85292041234", "ignored")], "real")
    (accepted,) = sim.accepted(vendor="montnets")
    assert (accepted["custom_id"], accepted["content"]) == ("only-1", "real")
    assert result.accepted


def test_poll_reports_after_tick(sim, client):
    outcomes = {
        "85200000001": "delivered",
        "85200000002": "undelivered",
        "85200000003": "expired",
        "85200000004": "rejected",
    }
    sim.state.phone_outcomes.update(outcomes)
    sent = {
        client.send_single(OutgoingMessage(f"c{p}", p, "hi")).vendor_message_id: p for p in outcomes
    }
    sim.state.tick()
    result = client.poll_reports()
    assert result.more_waiting
    assert {e.vendor_message_id: e.status for e in result.items} == {
        msgid: outcomes[phone] for msgid, phone in sent.items()
    }
    event = result.items[0]
    # The gateway writes the number as 852…; ours is E.164 for an international number.
    assert event.phone == "+" + event.custom_id[1:] and event.done_at.tzinfo == CHINA
    assert client.poll_reports().items == []  # right after a non-empty poll: allowed


def test_get_rpt_serves_at_most_500_per_call(sim, client):
    sim.state.enforce_poll_interval = False
    phones = [f"8529{i:07d}" for i in range(501)]
    client.send_same([OutgoingMessage(f"c{i}", p) for i, p in enumerate(phones)], "bulk")
    sim.state.tick()
    first, second, third = client.poll_reports(), client.poll_reports(), client.poll_reports()
    assert (len(first.items), first.more_waiting) == (500, True)
    assert (len(second.items), second.more_waiting) == (1, True)
    assert (len(third.items), third.more_waiting) == (0, False)


def test_polling_again_within_5s_of_an_empty_answer_is_refused(sim, client):
    assert client.poll_reports().more_waiting is False
    with pytest.raises(RateLimited) as caught:
        client.poll_reports()
    assert caught.value.code == "-100056" and caught.value.retry_after == 5.0
    assert "连接数超限" in str(caught.value)  # the GB2312 desc of get_rpt was decoded


def test_no_mo_and_no_balance_operations(client):
    with pytest.raises(NotImplementedError):
        client.poll_mo()
    with pytest.raises(NotImplementedError):
        client.balance()
    with pytest.raises(NotImplementedError):
        client.send_personalised([OutgoingMessage("a", "85292041234", "x")])


@pytest.fixture
def receiver():
    """A tiny push receiver that answers through parse_push, like the portal's view."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = PushRequest(
                "POST", {}, body, self.headers.get("Content-Type", ""), dict(self.headers)
            )
            try:
                outcome = parse_push(request, self.server.config)
                self.server.outcomes.append(outcome)
                status, reply = outcome.reply_status, outcome.reply_body
                content_type = outcome.reply_content_type
            except PushRejected as exc:
                status, reply, content_type = exc.status, str(exc), "text/plain"
            payload = reply.encode() if isinstance(reply, str) else reply
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.outcomes = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/montnets/push"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_report_push_to_a_receiver(sim, receiver):
    sim.add_account(vendor="montnets", account_id="P20001", secret="s3cret", push_url=receiver.url)
    receiver.config = AccountConfig(
        base_url=sim.url("montnets"), account_id="P20001", secret="s3cret"
    )
    client = MontnetsClient(receiver.config)
    sim.state.phone_outcomes["85292041234"] = "expired"
    result = client.send_single(OutgoingMessage("c1", "85292041234", "hi"))
    sim.server.push_once()
    wait_for(lambda: receiver.outcomes)
    (report,) = receiver.outcomes[0].reports
    assert (report.vendor_message_id, report.status, report.custom_id) == (
        result.vendor_message_id,
        Status.EXPIRED,
        "c1",
    )
    wait_for(lambda: sim.state.pushed_reports)
    assert sim.state.pushed_reports[0]["acknowledged"] is True
    assert client.poll_reports().items == []  # 5.3: pushed reports are not served by get_rpt


def test_push_with_the_wrong_signature_is_refused_and_kept(sim, receiver):
    sim.add_account(vendor="montnets", account_id="P20001", secret="s3cret", push_url=receiver.url)
    receiver.config = AccountConfig(
        base_url=sim.url("montnets"), account_id="P20001", secret="not-the-secret"
    )
    MontnetsClient(
        AccountConfig(base_url=sim.url("montnets"), account_id="P20001", secret="s3cret")
    ).send_single(OutgoingMessage("c1", "85292041234", "x"))
    sim.server.push_once()
    wait_for(lambda: sim.state.pushed_reports)
    first = sim.state.pushed_reports[0]
    assert (first["status"], first["acknowledged"]) == (403, False)
    assert receiver.outcomes == []
    sim.state.account("montnets", "P20001").push_url = ""  # stop the retries
    # The refused report went back to the queue for a retry.
    wait_for(lambda: len(sim.state.ready_reports[("montnets", "P20001")]) == 1)


def test_parse_push_checks_and_isolates_items(sim, account):
    simulator = sim.server.simulators["montnets"]
    good = sim.state.accept(
        sim.state.account("montnets", DOC_USERID),
        phone="85292041234",
        content="hi",
        vendor_message_id="18446744073709551615",
    )
    call = simulator.report_push(sim.state.account("montnets", DOC_USERID), [good])
    payload = json.loads(call.body)
    payload["rpts"].insert(0, {"msgid": "not-a-number", "status": 0})
    body = json.dumps(payload).encode()
    outcome = parse_push(PushRequest("POST", {}, body, "application/json"), account)
    assert [r.vendor_message_id for r in outcome.reports] == ["18446744073709551615"]
    assert len(outcome.errors) == 1 and "not-a-number" in outcome.errors[0]
    assert json.loads(outcome.reply_body) == {
        "cmd": "RPT_RESP",
        "seqid": payload["seqid"],
        "result": 0,
    }
    assert simulator.push_acknowledged(call, fake_response(outcome.reply_body.encode()))

    def rejected(body_bytes, config=account):
        with pytest.raises(PushRejected) as caught:
            parse_push(PushRequest("POST", {}, body_bytes, "application/json"), config)
        return caught.value.status

    assert rejected(json.dumps({**payload, "pwd": ""}).encode()) == 401
    assert rejected(json.dumps({**payload, "pwd": "0" * 32}).encode()) == 403
    assert rejected(json.dumps({**payload, "userid": "OTHER1"}).encode()) == 403
    other_secret = AccountConfig(base_url="", account_id=DOC_USERID, secret="wrong")
    assert rejected(body, other_secret) == 403
    assert rejected(b"<xml/>") == 400
    assert rejected(json.dumps({**payload, "seqid": None}).encode()) == 400
    assert rejected(json.dumps({**payload, "cmd": "MO_REQ"}).encode()) == 400
    assert rejected(json.dumps({**payload, "rpts": {"msgid": 1}}).encode()) == 400


# ============================================================== 3. typed errors


def send_one(client, phone="85292041234", content="hi", custom_id="c1"):
    return client.send_single(OutgoingMessage(custom_id, phone, content))


def test_wrong_password_is_an_auth_error(sim, account):
    client = MontnetsClient(
        AccountConfig(base_url=account.base_url, account_id=DOC_USERID, secret="wrong")
    )
    with pytest.raises(VendorAuthError) as caught:
        send_one(client)
    assert caught.value.code == "-100001" and caught.value.retry_safe
    assert "鉴权不通过" in str(caught.value)
    assert sim.accepted(vendor="montnets") == []


def test_misbehaving_auth_answers_the_vendor_code(sim, client):
    sim.misbehave("montnets", "auth_error")
    with pytest.raises(VendorAuthError) as caught:
        client.poll_reports()
    assert caught.value.code == "-100001"


def test_stale_timestamp_is_refused(sim, client, monkeypatch):
    an_hour_ago = (datetime.now(CHINA) - timedelta(hours=1)).strftime("%m%d%H%M%S")
    monkeypatch.setattr(montnets_client, "signing_timestamp", lambda: an_hour_ago)
    with pytest.raises(VendorAuthError) as caught:
        send_one(client)
    assert caught.value.code == "-100268"


def test_rate_limit_is_the_connection_limit_code(sim, client):
    sim.misbehave("montnets", "rate_limit", remaining=1)
    with pytest.raises(RateLimited) as caught:
        send_one(client)
    assert caught.value.code == "-100056"
    assert send_one(client).accepted  # only one request misbehaved


def test_no_credit_fails_in_the_report(sim, client):
    # The document has no balance error code: its only word on credit is the report errdesc
    # example "outstanding bill".
    sim.misbehave("montnets", "no_balance")
    result = send_one(client)
    sim.state.tick()
    (report,) = client.poll_reports().items
    assert report.vendor_message_id == result.vendor_message_id
    assert report.status == Status.REJECTED
    assert json.loads(report.raw)["errdesc"] == "outstanding%20bill"


def test_empty_account_is_not_charged(sim, client):
    sim.state.account("montnets", DOC_USERID).balance = 0
    send_one(client)
    sim.state.tick()
    assert client.poll_reports().items[0].status == Status.REJECTED
    assert sim.state.account("montnets", DOC_USERID).balance == 0


@pytest.mark.parametrize(
    ("phone", "code"), [("12ab", "-100274"), ("", "-100012"), ("+0123456789", "-100274")]
)
def test_invalid_number(sim, client, phone, code):
    with pytest.raises(InvalidNumber) as caught:
        send_one(client, phone=phone)
    assert caught.value.code == code


def test_one_invalid_number_fails_the_whole_batch_so_each_goes_alone(sim, client):
    # 3.2: one illegal number fails the whole send_batch; nothing was taken, and every number
    # is sent again on its own so that only the bad one fails.
    messages = [OutgoingMessage("a", "85292041234", "hi"), OutgoingMessage("b", "x1", "hi")]
    results = client.send_same(messages, "hi")
    assert sim.accepted(vendor="montnets") == []
    assert [(r.custom_id, r.accepted, r.error_kind, r.error_code) for r in results] == [
        ("a", False, "needs_single", "-100274"),
        ("b", False, "needs_single", "-100274"),
    ]
    assert decide(results[0]).disposition == Disposition.RESEND_SINGLE
    assert client.send_single(messages[0]).accepted
    with pytest.raises(InvalidNumber):
        client.send_single(messages[1])


def test_content_too_long_is_rejected(sim, client):
    assert send_one(client, content="长" * 1000).accepted
    with pytest.raises(ContentRejected) as caught:
        send_one(client, content="长" * 1001)
    assert caught.value.code == "-100011"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"content": ""}, "-100271"),
        ({"custom_id": "has.dot"}, "-100004"),
        ({"phone": "85292041234,85292041235"}, "-100807"),
    ],
)
def test_invalid_requests(sim, client, kwargs, code):
    with pytest.raises(InvalidRequest) as caught:
        send_one(client, **kwargs)
    assert caught.value.code == code


def test_more_than_1000_numbers_is_refused(sim, client):
    messages = [OutgoingMessage(f"c{i}", f"8529{i:07d}") for i in range(1001)]
    with pytest.raises(InvalidRequest) as caught:
        client.send_same(messages, "hi")
    assert caught.value.code == "-100014"


def test_garbage_reply_is_unexpected(sim, client):
    sim.misbehave("montnets", "garbage")
    with pytest.raises(UnexpectedReply) as caught:
        send_one(client)
    assert "not what the document shows" in caught.value.raw


def test_html_500_is_ambiguous_and_503_transient(sim, client):
    sim.misbehave("montnets", "error", remaining=1)
    with pytest.raises(AmbiguousOutcome) as caught:
        send_one(client)
    assert caught.value.code == "500" and not caught.value.retry_safe
    sim.misbehave("montnets", "unavailable", remaining=1)
    with pytest.raises(TransientError):
        send_one(client)


def test_connection_refused_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = MontnetsClient(
        AccountConfig(
            base_url=f"http://127.0.0.1:{port}/montnets", account_id=DOC_USERID, secret=DOC_PASSWORD
        )
    )
    with pytest.raises(TransientError):
        send_one(client)


def test_accept_then_drop_is_ambiguous(sim, client):
    sim.misbehave("montnets", "accept_then_drop", remaining=1)
    with pytest.raises(AmbiguousOutcome):
        send_one(client)
    assert len(sim.accepted(vendor="montnets")) == 1  # it was accepted all the same


# ============================================================== 4. what the real gateway sends


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


# -------------------------------------------------------------- 1. country codes (3.2)


def test_numbers_travel_with_their_country_code(sim, client):
    # Mainland mobiles are stored as 11 digits, others in E.164 (messaging.importing.phones).
    (single,) = client.send_same([OutgoingMessage("s1", "13800000001", "hi")], "hi")
    batch = client.send_same(
        [
            OutgoingMessage("b1", "13800000002"),
            OutgoingMessage("b2", "+447700900123"),
            OutgoingMessage("b3", "+85292041234"),
        ],
        "hi",
    )
    accepted = sim.accepted(vendor="montnets")
    assert [m["phone"] for m in accepted] == [
        "8613800000001",
        "8613800000002",
        "00447700900123",
        "0085292041234",
    ]
    assert [r.phone for r in [single, *batch]] == [
        "13800000001",
        "13800000002",
        "+447700900123",
        "+85292041234",
    ]
    assert [r.vendor_message_id for r in [single, *batch]] == [
        m["vendor_message_id"] for m in accepted
    ]


@pytest.mark.parametrize(
    ("path", "mobile"),
    [
        (SEND_SINGLE_PATH, "15805005050"),
        (SEND_BATCH_PATH, "8613800000001,15805005050"),
    ],
)
def test_simulator_refuses_a_number_without_its_country_code(sim, account, path, mobile):
    answer = signed_post(sim, path, mobile=mobile, content="hi")
    assert answer["result"] == -100274  # "Mobile number does not meet the rules" (of 3.2)
    assert sim.accepted(vendor="montnets") == []
    for number in ("8615805005050", "008615805005050", "+8615805005050"):
        assert signed_post(sim, SEND_SINGLE_PATH, mobile=number, content="hi")["result"] == 0


@pytest.mark.parametrize(
    ("mobile", "countrycode", "ours"),
    [
        ("8613800000001", 86, "13800000001"),
        ("008613800000001", 86, "13800000001"),
        ("+8613800000001", 86, "13800000001"),
        ("8613800000001", None, "13800000001"),
        ("13800000001", 86, "13800000001"),  # national, as in the samples' "138xxxxxxxx"
        ("13800000001", "", "13800000001"),
        ("138xxxxxxxx", 86, "138xxxxxxxx"),  # the samples' masked number, kept as it came
        ("85292041234", 852, "+85292041234"),
        ("0085292041234", 852, "+85292041234"),
        ("+85292041234", None, "+85292041234"),
        ("92041234", 852, "+85292041234"),  # national beside its countrycode
        ("447700900123", -1, "+447700900123"),  # -1: "invalid number"
        ("+13125550123", 1, "+13125550123"),
        ("13125550123", 1, "+13125550123"),
    ],
)
def test_report_numbers_come_back_in_our_stored_form(mobile, countrycode, ours):
    item = {"msgid": 1, "status": 0, "errcode": "DELIVRD", "mobile": mobile}
    if countrycode is not None:
        item["countrycode"] = countrycode
    assert parse_report(item).phone == ours


def test_batch_answers_match_whichever_form_the_number_comes_back_in():
    body = (
        b'{"result":0,"desc":"","messages":['
        b'{"mobile":"+8613800000002","msgid":12},'
        b'{"mobile":"0085292041234","msgid":13},'
        b'{"mobile":"13800000001","msgid":11}]}'
    )
    results = reply_with(body).send_same(
        [
            OutgoingMessage("a", "13800000001"),
            OutgoingMessage("b", "13800000002"),
            OutgoingMessage("c", "+85292041234"),
        ],
        "hi",
    )
    assert [(r.custom_id, r.vendor_message_id) for r in results] == [
        ("a", "11"),
        ("b", "12"),
        ("c", "13"),
    ]


def test_reports_over_http_name_our_numbers(sim, client):
    sent = {
        client.send_single(OutgoingMessage(f"c{i}", phone, "hi")).vendor_message_id: phone
        for i, phone in enumerate(["13800000001", "+447700900123"])
    }
    sim.state.tick()
    reports = client.poll_reports().items
    assert {r.vendor_message_id: r.phone for r in reports} == sent
    raw = {json.loads(r.raw)["mobile"] for r in reports}
    assert raw == {"8613800000001", "447700900123"}  # as the gateway writes them


# -------------------------------------------------------------- 2. signed message ids


@pytest.mark.parametrize(
    ("rendered", "ours"),
    [
        ("9323372036875616879", "9323372036875616879"),
        ("-9123372036833934737", "9323372036875616879"),  # the same 64 bits, signed
        (-9123372036833934737, "9323372036875616879"),
        (9223372036854775808, "9223372036854775808"),
        (-1, str(2**64 - 1)),
        (-(2**63), str(2**63)),
        (42, "42"),
        (0, ""),
        (2**64, ""),
        (-(2**63) - 1, ""),
        (9.223372036854776e18, ""),  # a float lost the digits
        (True, ""),
        (None, ""),
        ("12a", ""),
    ],
)
def test_msgids_are_normalized_to_unsigned_decimal(rendered, ours):
    assert vendor_id(rendered) == ours


def test_signed_ids_in_answers_polls_and_pushes_are_the_unsigned_ones():
    unsigned, signed = "9323372036875616879", "-9123372036833934737"
    single = reply_with(f'{{"result":0,"desc":"","msgid":{signed},"custid":"c1"}}'.encode())
    assert single.send_single(OutgoingMessage("c1", "13800000001", "x")).vendor_message_id == (
        unsigned
    )
    batch = reply_with(
        f'{{"result":0,"desc":"","messages":[{{"mobile":"8613800000001","msgid":{signed}}},'
        f'{{"mobile":"8613800000002","msgid":"{signed}"}}]}}'.encode()
    )
    results = batch.send_same(
        [OutgoingMessage("a", "13800000001"), OutgoingMessage("b", "13800000002")], "x"
    )
    assert [r.vendor_message_id for r in results] == [unsigned, unsigned]
    report = {"msgid": int(signed), "status": 0, "errcode": "DELIVRD", "mobile": "8613800000001"}
    polled = reply_with(json.dumps({"result": 0, "desc": "", "rpts": [report]}).encode())
    assert [e.vendor_message_id for e in polled.poll_reports().items] == [unsigned]
    timestamp = "0803192020"
    push = {
        "userid": DOC_USERID,
        "pwd": password_digest(DOC_USERID, DOC_PASSWORD, timestamp),
        "timestamp": timestamp,
        "cmd": "RPT_REQ",
        "seqid": 7,
        "rpts": [report],
    }
    outcome = parse_push(
        PushRequest("POST", {}, json.dumps(push).encode(), "application/json"), DOC_ACCOUNT
    )
    assert [r.vendor_message_id for r in outcome.reports] == [unsigned]


def test_simulator_renders_ids_signed_on_request(sim, client):
    sim.vendor_action("montnets", "quirks", signed_ids=True)
    answer = signed_post(sim, SEND_SINGLE_PATH, mobile="8613800000001", content="hi")
    (accepted,) = sim.accepted(vendor="montnets")
    assert answer["msgid"] == int(accepted["vendor_message_id"]) - 2**64 < 0
    result = send_one(client, phone="13800000002")
    assert result.vendor_message_id == sim.accepted(vendor="montnets")[1]["vendor_message_id"]
    sim.state.tick()
    reports = client.poll_reports().items
    assert {json.loads(r.raw)["msgid"] < 0 for r in reports} == {True}
    assert {r.vendor_message_id for r in reports} == {
        m["vendor_message_id"] for m in sim.accepted(vendor="montnets")
    }


# -------------------------------------------------------------- 3. long messages


def test_part_reports_name_the_message_of_the_send_answer():
    base = 9223372036854775809
    for part, rendered in [(1, base), (2, base + 2**34), (3, base + 2 * 2**34 - 2**64)]:
        event = parse_report(
            {"msgid": rendered, "pknum": part, "pktotal": 3, "status": 0, "errcode": "DELIVRD"}
        )
        assert (event.vendor_message_id, event.part_index, event.part_count) == (
            str(base),
            part,
            3,
        )
    # The SDK's sum wraps round 2**64 like Java's long.
    high = 2**64 - 5
    event = parse_report({"msgid": (high + 2**34) % 2**64, "pknum": 2, "pktotal": 2, "status": 0})
    assert event.vendor_message_id == str(high)


@pytest.mark.parametrize(
    ("content", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("长" * 70, 1), ("长" * 71, 2), ("长" * 150, 3)],
)
def test_simulator_reports_each_part_of_a_long_message(sim, client, content, parts):
    sim.vendor_action("montnets", "quirks", signed_ids=True)
    result = send_one(client, content=content)
    sim.state.tick()
    reports = client.poll_reports().items
    assert [(r.vendor_message_id, r.part_index, r.part_count) for r in reports] == [
        (result.vendor_message_id, n, parts) for n in range(1, parts + 1)
    ]
    base = int(result.vendor_message_id)
    assert [json.loads(r.raw)["msgid"] % 2**64 for r in reports] == [
        (base + (n - 1) * 2**34) % 2**64 for n in range(1, parts + 1)
    ]


def test_parts_beyond_retsize_wait_for_the_next_get_rpt(sim, client):
    sim.state.enforce_poll_interval = False
    first = send_one(client, content="长" * 150, custom_id="long")
    second = send_one(client, content="short", custom_id="short")
    sim.state.tick()
    polls = [client._call(GET_RPT_PATH, {"retsize": 2})[1]["rpts"] for _ in range(3)]
    assert [[(r["custid"], r["pknum"]) for r in rpts] for rpts in polls] == [
        [("long", 1), ("long", 2)],
        [("long", 3), ("short", 1)],
        [],
    ]
    assert {int(r["msgid"]) for r in polls[1]} == {
        int(first.vendor_message_id) + 2 * 2**34,
        int(second.vendor_message_id),
    }


def test_pushes_carry_every_part_and_at_most_500_reports(sim, receiver):
    sim.add_account(vendor="montnets", account_id="P20001", secret="s3cret", push_url=receiver.url)
    receiver.config = AccountConfig(
        base_url=sim.url("montnets"), account_id="P20001", secret="s3cret"
    )
    client = MontnetsClient(receiver.config)
    result = client.send_single(OutgoingMessage("c1", "13800000001", "长" * 150))
    sim.server.push_once()
    wait_for(lambda: receiver.outcomes)
    assert [(r.vendor_message_id, r.part_index) for r in receiver.outcomes[0].reports] == [
        (result.vendor_message_id, n) for n in (1, 2, 3)
    ]
    # 40 messages of 15 parts: 33 fit in one push (495 reports), the rest wait.
    simulator = sim.server.simulators["montnets"]
    account = sim.state.account("montnets", "P20001")
    # Built by hand from here: the background push loop must not take the reports put back.
    account.push_url = ""
    messages = [
        sim.state.accept(
            account, phone="8613800000001", content="长" * 1000, vendor_message_id=str(i), parts=15
        )
        for i in range(1, 41)
    ]
    sim.state.take_reports("montnets", "P20001", 500)
    batch = list(messages)
    call = simulator.report_push(account, batch)
    assert len(json.loads(call.body)["rpts"]) == 495 and batch == messages[:33]
    assert list(sim.state.ready_reports[("montnets", "P20001")]) == messages[33:]


# -------------------------------------------------------------- 4. replies as the gateway writes

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


@pytest.mark.parametrize("name", ODD_SUCCESS_REPLIES)
def test_a_successful_send_in_the_gateways_own_json_is_accepted(name):
    body = ODD_SUCCESS_REPLIES[name]
    result = reply_with(body).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert (result.accepted, result.vendor_message_id) == (True, "9223372036854775808")
    assert result.raw == body.decode()


def test_a_batch_answer_with_balance_and_trailing_commas_is_accepted():
    body = (
        b'{\n"result":0,\n"desc":%e6%88%90%e5%8a%9f,\n"messages":[\n'
        b'{"mobile":"8613800000001","msgid":11,},\n{"mobile":"8613800000002",\n"msgid":12}\n],\n'
        b'"balance":99885514,\n}'
    )
    results = reply_with(body).send_same(
        [OutgoingMessage("a", "13800000001"), OutgoingMessage("b", "13800000002")], "x"
    )
    assert [(r.accepted, r.vendor_message_id) for r in results] == [(True, "11"), (True, "12")]


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":0,"desc":%e6%88%90%e5%8a%9f,"rpts":""}',
        b'{\n"result":0,\n"desc":%e6%88%90%e5%8a%9f,\n"rpts":"",\n}',
        b'{"result":0,"desc":"","rpts":[]}',
        b'{"result":0,"desc":"","rpts":"[]"}',
    ],
)
def test_an_empty_get_rpt_in_any_rendering(body):
    result = reply_with(body).poll_reports()
    assert (result.items, result.more_waiting) == ([], False)


@pytest.mark.parametrize(
    ("result", "error", "code"),
    [
        ("-100001", VendorAuthError, "-100001"),
        ("100001", VendorAuthError, "-100001"),
        ("100999", TransientError, "-100999"),
        ("-100999", TransientError, "-100999"),
        ("100057", AccountProblem, "-100057"),
        ("100095", InvalidRequest, "-100095"),
        ('"-100012"', InvalidNumber, "-100012"),
        ("100123", Refused, "100123"),  # not in the table, with or without its sign
        ("-100123", Refused, "-100123"),
    ],
)
def test_error_codes_with_or_without_the_minus_sign(result, error, code):
    body = f'{{\n"result":{result},\n"desc":%e9%89%b4%e6%9d%83%e5%a4%b1%e8%b4%a5,\n"msgid":0,\n}}'
    with pytest.raises(error) as caught:
        reply_with(body.encode()).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert type(caught.value) is error and caught.value.code == code
    assert caught.value.raw == body


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":0,"desc":%e6 %88,"msgid":1}',  # a bare desc of two words
        b'{"result":0 "msgid":1}',  # a missing comma on one line
        b'{"result":0,"msgid":92233',  # cut short
        b'{"result":0,"msgid":"1}',  # an unterminated string
        b'{"result":0,,"msgid":1}',
        b'{"result":0,"custid":abc,"msgid":1}',  # a bare value other than desc
        b'{"result":ok,"msgid":1}',
        b'{"result":true,"msgid":1}',
        b'{"result":1.5,"msgid":1}',
        b'{"msgid":1}',
        b"[0]",
        b"",
        '{"result":0,"desc":"\u6210\u529f","msgid":1}'.encode("gbk"),
    ],
)
def test_replies_still_unreadable_are_unexpected_with_the_raw_body(body):
    with pytest.raises(UnexpectedReply) as caught:
        reply_with(body).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert caught.value.raw == body.decode("utf-8", "replace")
    assert decide(caught.value).disposition == Disposition.UNKNOWN


def test_lenient_reading_never_touches_strings():
    text = '{"desc":"a,}\\" \\n\\"b",\n"list":["x,]",],\n"n":-1.5e3,\n}'
    assert loads_lenient(text) == {"desc": 'a,}" \n"b', "list": ["x,]"], "n": -1500.0}
    assert loads_lenient('{"desc":%41\n"errdesc":"%42"}') == {"desc": "%41", "errdesc": "%42"}


def test_simulator_answers_like_the_gateway_on_request(sim, client, account):
    quirks = ("bare_desc", "trailing_comma", "positive_codes", "empty_rpts_string")
    sim.vendor_action("montnets", "quirks", **dict.fromkeys(quirks, True))
    raw = requests.post(sim.url("montnets") + GET_RPT_PATH, json={"userid": "X"}, timeout=5).text
    assert raw.startswith('{\n"result":100001,\n"desc":%') and raw.endswith('"rpts":"",\n}')
    assert client.poll_reports().items == []  # "rpts":""
    result = send_one(client)
    assert result.accepted
    with pytest.raises(RateLimited) as caught:  # within 5 s of the empty answer
        client.poll_reports()
    assert caught.value.code == "-100056"
    sim.state.enforce_poll_interval = False
    assert [r.vendor_message_id for r in client.poll_reports().items] == [result.vendor_message_id]
    wrong = MontnetsClient(
        AccountConfig(base_url=account.base_url, account_id=DOC_USERID, secret="wrong")
    )
    with pytest.raises(VendorAuthError) as caught:
        send_one(wrong)
    assert caught.value.code == "-100001" and "鉴权不通过" in str(caught.value)


# -------------------------------------------------------------- 5. form-encoded pushes


def form_push_body(*, encode_rpts: bool = True) -> bytes:
    """The document's push sample as the gateway sends it when set up for forms."""
    payload = json.loads(sample("rpt_push_request_json.txt"))
    rpts = json.dumps(payload.pop("rpts"), separators=(",", ":"))
    fields = "&".join(f"{k}={quote(str(v))}" for k, v in payload.items())
    return f"{fields}&rpts={quote(rpts) if encode_rpts else rpts}".encode()


@pytest.mark.parametrize("encode_rpts", [True, False])
def test_form_encoded_push_is_read_and_answered_with_its_seqid(encode_rpts):
    body = form_push_body(encode_rpts=encode_rpts)
    assert b"cmd=RPT_REQ&seqid=1004&rpts=" in body
    request = PushRequest("POST", {}, body, "application/x-www-form-urlencoded")
    outcome = parse_push(request, DOC_ACCOUNT)
    assert outcome.errors == []
    assert [r.vendor_message_id for r in outcome.reports] == [
        "9223372045854775808",
        "9223372045854875808",
    ]
    assert json.loads(outcome.reply_body) == json.loads(sample("rpt_push_reply_success_json.txt"))
    other = AccountConfig(base_url="", account_id=DOC_USERID, secret="wrong")
    with pytest.raises(PushRejected) as caught:
        parse_push(request, other)
    assert caught.value.status == 403


def test_form_push_errdesc_is_url_encoded_utf8():
    item = {"msgid": 5, "status": 1, "errcode": "MK:0001", "errdesc": quote("欠费")}
    timestamp = "0803192020"
    fields = {
        "userid": DOC_USERID,
        "pwd": password_digest(DOC_USERID, DOC_PASSWORD, timestamp),
        "timestamp": timestamp,
        "cmd": "RPT_REQ",
        "seqid": "17",
        "rpts": json.dumps([item]),
    }
    body = "&".join(f"{k}={quote(v)}" for k, v in fields.items()).encode()
    outcome = parse_push(PushRequest("POST", {}, body, "text/plain"), DOC_ACCOUNT)
    (report,) = outcome.reports
    assert (report.status, report.description_zh) == (Status.UNDELIVERED, "欠费")
    assert json.loads(outcome.reply_body) == {"cmd": "RPT_RESP", "seqid": 17, "result": 0}


def test_push_in_the_gateways_own_json_is_read():
    body = sample("rpt_push_request_json.txt").replace(b"}\n]}", b"},\n],\n}")
    outcome = parse_push(PushRequest("POST", {}, body, "application/json"), DOC_ACCOUNT)
    assert len(outcome.reports) == 2


def test_simulator_pushes_forms_on_request(sim, receiver):
    sim.add_account(vendor="montnets", account_id="P20001", secret="s3cret", push_url=receiver.url)
    sim.vendor_action("montnets", "quirks", form_push=True)
    receiver.config = AccountConfig(
        base_url=sim.url("montnets"), account_id="P20001", secret="s3cret"
    )
    sim.state.phone_outcomes["13800000001"] = "undelivered"  # our form of the number
    result = MontnetsClient(receiver.config).send_single(OutgoingMessage("c1", "13800000001", "hi"))
    sim.server.push_once()
    wait_for(lambda: receiver.outcomes)
    (report,) = receiver.outcomes[0].reports
    assert (report.vendor_message_id, report.status, report.phone) == (
        result.vendor_message_id,
        Status.UNDELIVERED,
        "13800000001",
    )
    assert report.description_en == "Undeliverable"
    wait_for(lambda: sim.state.pushed_reports)
    assert sim.state.pushed_reports[0]["acknowledged"] is True


@pytest.fixture
def client_django():
    """Django's test client (``client`` is this module's Montnets client)."""
    from django.test import Client

    return Client()


@pytest.mark.django_db
def test_form_push_through_the_portal_receiver(client_django):
    from messaging.models import DeliveryReport, VendorAccount

    acct = VendorAccount.objects.create(
        vendor="montnets",
        name="montnets form push",
        base_url="http://127.0.0.1:9/montnets",
        account_id=DOC_USERID,
        secret=DOC_PASSWORD,
    )
    response = client_django.post(
        acct.push_path, data=form_push_body(), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert json.loads(response.content) == {"cmd": "RPT_RESP", "seqid": 1004, "result": 0}
    assert DeliveryReport.objects.filter(vendor_account=acct).count() == 2


# -------------------------------------------------------------- 7. what each answer means


@pytest.mark.parametrize(
    ("code", "disposition"),
    [
        ("-100001", Disposition.PAUSE),  # auth
        ("-100002", Disposition.PAUSE),  # auth
        ("-100268", Disposition.PAUSE),  # our clock: the signature fails until it is fixed
        ("-100057", Disposition.PAUSE),  # account: the IP list at Montnets
        ("-100056", Disposition.REQUEUE),  # rate_limited
        ("-100999", Disposition.REQUEUE),  # transient: failure, msgid 0
        ("-100012", Disposition.FAILED),
        ("-100274", Disposition.FAILED),
        ("-100011", Disposition.FAILED),
        ("-100004", Disposition.FAILED),
        ("-100100", Disposition.FAILED),
        ("-100123", Disposition.FAILED),  # unlisted: "non 0: failure" (2.1.6)
    ],
)
def test_every_answer_means_what_the_document_says(code, disposition):
    assert decide(error_for(code, raw="")).disposition == disposition


def test_every_code_has_a_kind_of_the_outcome_table():
    assert {entry.meaning for entry in ERROR_CODES.values()} <= set(DISPOSITION_BY_KIND)
    assert ERROR_CODES["-100057"].meaning == "account"


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":0,"desc":"","msgid":0,"custid":"c1"}',
        b'{"result":0,"desc":"","custid":"c1"}',
        b'{"result":0,"desc":"","msgid":"","custid":"c1"}',
    ],
)
def test_result_0_without_a_msgid_is_maybe_taken(body):
    result = reply_with(body).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert (result.accepted, result.error_kind) == (False, "ambiguous")
    assert decide(result).disposition == Disposition.UNKNOWN
    assert result.raw == body.decode()


@pytest.mark.parametrize("flag", [0, 1, "1", None, ""])
def test_expired_reports_mean_expired(flag):
    item = {"msgid": 1, "errcode": "EXPIRED", "errdesc": "expired"}
    if flag is not None:
        item["status"] = flag
    assert parse_report(item).status == Status.EXPIRED


def test_batch_reports_carry_our_batch_custid_not_a_message_id(sim, client):
    results = client.send_same(
        [OutgoingMessage("m1", "13800000001"), OutgoingMessage("m2", "13800000002")], "hi"
    )
    sim.state.tick()
    reports = client.poll_reports().items
    assert {(r.custom_id, r.batch_id) for r in reports} == {("", "batch-m1")}
    assert {r.batch_id for r in results} == {"batch-m1"}
