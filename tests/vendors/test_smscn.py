"""sms.cn adapter: the document's samples as test vectors, every operation against the simulator
over real HTTP, and every typed error from a real error reply."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from messaging.services.outcomes import Disposition, decide
from messaging.vendors.base import (
    AccountConfig,
    AmbiguousOutcome,
    Balance,
    ContentRejected,
    InboundReply,
    InsufficientBalance,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    PushRejected,
    PushRequest,
    RateLimited,
    StatusEvent,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
    VendorError,
)
from messaging.vendors.http import HttpReply
from messaging.vendors.registry import VENDOR_KEYS
from messaging.vendors.simulator import SimAccount, SimReply, SimulatorServer
from messaging.vendors.smscn import VENDOR
from messaging.vendors.smscn.client import (
    SendRecords,
    SentCount,
    SmscnClient,
    sign,
    urlencode_value,
)
from messaging.vendors.smscn.codes import REPORT_CODES, STAT_CODES, error_for
from messaging.vendors.smscn.push import parse_push
from messaging.vendors.smscn.simulator import ACCESS_NUMBER, SmscnSimulator, mo_push

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "vendors" / "smscn"
CHINA = dt.timezone(dt.timedelta(hours=8))
UID, PASSWORD = "test", "123123"  # the document's example account


def sample(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode("utf-8")


def sample_url_fields(name: str) -> tuple[str, dict[str, str]]:
    """The path and fields of a request URL sample (the last line of the fixture)."""
    url = sample(name).strip().splitlines()[-1]
    split = urlsplit(url)
    return split.path, dict(parse_qsl(split.query, keep_blank_values=True))


class ReplayTransport:
    """Stands in for HttpTransport: answers every request with one recorded vendor body."""

    def __init__(self, body: str | bytes, status: int = 200):
        # The document is UTF-8 text; the gateway sends these bytes as GBK.
        self.body = body.encode("gbk") if isinstance(body, str) else body
        self.status = status
        self.calls: list[dict] = []

    def request(self, method, url, **kwargs) -> HttpReply:
        self.calls.append({"method": method, "url": url, **kwargs})
        text = self.body.decode("gbk", errors="replace")
        return HttpReply(self.status, self.body, text, {}, url)

    def get(self, url, params=None, **kwargs) -> HttpReply:
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url, **kwargs) -> HttpReply:
        return self.request("POST", url, **kwargs)

    def sent_fields(self, encoding: str = "gbk") -> tuple[str, dict[str, str]]:
        call = self.calls[-1]
        split = urlsplit(call["url"])
        query = call["data"].decode("ascii") if call.get("data") else split.query
        return split.path, dict(parse_qsl(query, keep_blank_values=True, encoding=encoding))


def replay_client(body: str | bytes, **options) -> tuple[SmscnClient, ReplayTransport]:
    transport = ReplayTransport(body)
    config = AccountConfig(
        base_url="http://gateway.test", account_id=UID, secret=PASSWORD, options=options
    )
    return SmscnClient(config, transport=transport), transport


def messages(*phones: str, start: int = 1) -> list[OutgoingMessage]:
    return [OutgoingMessage(custom_id=str(start + i), phone=p) for i, p in enumerate(phones)]


# --------------------------------------------------------------------------- simulator setup


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


def make_client(sim, **overrides) -> SmscnClient:
    config = {
        "base_url": sim.url("smscn"),
        "account_id": UID,
        "secret": PASSWORD,
        "extension": "88",
        **overrides,
    }
    return SmscnClient(AccountConfig(**config))


def sim_account(sim):
    return sim.state.account("smscn", UID)


# --------------------------------------------------------------------------- document samples


def test_vendor_is_registered():
    assert VENDOR.key == "smscn"
    assert VENDOR.capabilities.max_numbers_per_request == 2000
    assert VENDOR.capabilities.request_encoding == VENDOR.capabilities.reply_encoding == "gbk"
    # What registry.all_vendors() imports (not called here: it needs every other vendor package).
    assert "smscn" in VENDOR_KEYS
    assert import_module("messaging.vendors.smscn").VENDOR is VENDOR


def test_reports_are_polled_never_pushed():
    """The document's only push (6.2) is for replies: reports must be polled (/st/)."""
    assert VENDOR.capabilities.pushes == frozenset({"mo"})
    assert VENDOR.capabilities.poll_reports and VENDOR.capabilities.poll_mo
    assert SmscnSimulator(state=None).report_push(None, []) is None


@pytest.mark.parametrize("name", ["signing_example.txt", "signing_example_mt_table.txt"])
def test_signing_examples(name):
    text = sample(name)
    assert "123123" in text and "test" in text
    expected = re.search(r"pwd=([0-9a-f]{32})", text)[1]
    assert sign("123123", "test") == expected == "b9887c5ebb23ebb294acab183ecf0769"


def test_stat_code_table_is_complete():
    # The table puts some descriptions on the line after their code ("112\n号码错误").
    table = re.findall(r"^(1\d\d)\s+(\S+)$", sample("stat_codes_table.txt"), re.MULTILINE)
    assert len(table) == 17
    assert {code: zh for code, zh in table} == {code: row.zh for code, row in STAT_CODES.items()}
    assert all(row.en for row in STAT_CODES.values())


def test_send_request_matches_the_sample():
    _, documented = sample_url_fields("mt_request_get.txt")
    assert sample("mt_request_get.txt").splitlines()[1].endswith("发送测试")
    client, transport = replay_client(sample("mt_response_success.txt"))
    # The sample's middle number/id "1390000test12869461937" is not digits, which the document
    # requires of mobileids: only the two valid ones can be sent.
    sent = [
        OutgoingMessage("1390000888812869461937", "13900008888"),
        OutgoingMessage("1310000666612869461937", "13100006666"),
    ]
    results = client.send_same(sent, "发送测试")
    path, fields = transport.sent_fields()
    assert path == "/mt/"
    assert transport.calls[-1]["method"] == "POST"
    assert fields["uid"] == documented["uid"] and fields["pwd"] == documented["pwd"]
    assert fields["mobile"] == "13900008888,13100006666"
    assert fields["mobileids"] == "1390000888812869461937,1310000666612869461937"
    assert fields["content"] == "发送测试"
    # The sample's content has a stray space on each side; its GBK bytes are ours exactly.
    raw_content = re.search(r"content=([^&]*)", sample("mt_request_get.txt"))[1]
    assert raw_content.strip() in transport.calls[-1]["data"].decode("ascii")
    assert raw_content.strip() == "%B7%A2%CB%CD%B2%E2%CA%D4"
    assert [r.vendor_message_id for r in results] == [m.custom_id for m in sent]
    assert all(r.accepted and r.raw.strip() == "sms&stat=100&message=发送成功" for r in results)


def test_content_is_url_encoded_as_documented():
    # "除了-_.之外的所有非字母数字字符都将被替换成百分号（%）后跟两位十六进制数，空格则编码为加号"
    assert urlencode_value("aZ9 -_.~,发", "gbk") == "aZ9+-_.%7E%2C%B7%A2"
    assert urlencode_value("发", "utf-8") == "%E5%8F%91"


def test_sample_send_with_a_non_digit_mobileid_is_refused_before_sending():
    client, transport = replay_client(sample("mt_response_success.txt"))
    with pytest.raises(InvalidRequest):
        client.send_same([OutgoingMessage("1390000test12869461937", "1390000test")], "x")
    assert transport.calls == []


def test_sample_send_request_against_the_simulator(sim, client):
    # The sample URL as written (GET): its "1390000test" is refused with 112 号码错误.
    _, fields = sample_url_fields("mt_request_get.txt")
    query = sample("mt_request_get.txt").strip().splitlines()[-1].split("?", 1)[1]
    response = requests.get(f"{sim.url('smscn')}/mt/?{query}", timeout=5)
    assert response.content.decode("gbk") == "sms&stat=112&message=号码错误"
    assert fields["mobile"].count(",") == 2
    assert sim.accepted(vendor="smscn") == []


def test_sample_numbers_and_id_are_accepted(sim, client):
    phones = re.search(r"如:([\d,]+)", sample("mt_mobile_param_example.txt"))[1].split(",")
    sample_id = re.search(r"如: (\d+);", sample("mt_mobileids_param_example.txt"))[1]
    sent = [OutgoingMessage(sample_id, phones[0]), *messages(*phones[1:])]
    results = client.send_same(sent, "hello")
    assert [r.vendor_message_id for r in results] == [sample_id, "1", "2"]
    assert [m["phone"] for m in sim.accepted(vendor="smscn")] == phones  # PHS 021... included


@pytest.mark.parametrize(
    ("request_sample", "method"),
    [
        ("st_request.txt", "poll_reports"),
        ("rx_request.txt", "poll_mo"),
        ("rd_request.txt", "send_records"),
        ("mm_balance_request.txt", "balance"),
        ("mm_sent_request.txt", "sent_count"),
    ],
)
def test_poll_and_account_requests_match_the_samples(request_sample, method):
    client, transport = replay_client("")
    # An empty body is no counter reply: only the request matters here.
    with contextlib.suppress(UnexpectedReply):
        getattr(client, method)()
    path, fields = transport.sent_fields()
    documented_path, documented = sample_url_fields(request_sample)
    assert path == documented_path
    if request_sample.startswith("mm_"):
        # Quirk: the /mm/ samples' pwd fa246d... is not md5("123123test") like the others.
        assert documented.pop("pwd") != fields.pop("pwd")
    assert documented.items() <= fields.items()


def test_mm_sample_pwd_is_refused_by_the_simulator(sim, client):
    url = sample("mm_balance_request.txt").strip().replace("http://api.sms.cn", sim.url("smscn"))
    assert requests.get(url, timeout=5).content.decode("gbk") == "sms&stat=101&message=验证失败"


def test_report_sample_parses():
    client, _ = replay_client(sample("st_response.txt"))
    result = client.poll_reports()
    assert result.items == [
        StatusEvent(
            vendor_message_id="188176600011234556789",
            status="delivered",
            vendor_code="100",
            description_zh="成功",
            description_en="Delivered",
            phone="18817660001",
            custom_id="188176600011234556789",
            done_at=dt.datetime(2011, 3, 11, 11, 22, 11, tzinfo=CHINA),
            raw="18817660001,100,188176600011234556789, 2011-03-11 11:22:11",
        ),
        StatusEvent(
            vendor_message_id="188176600021234556311",
            status="delivered",
            vendor_code="100",
            description_zh="成功",
            description_en="Delivered",
            phone="18817660002",
            custom_id="188176600021234556311",
            done_at=dt.datetime(2011, 3, 11, 11, 28, 22, tzinfo=CHINA),
            raw="18817660002,100,188176600021234556311, 2011-03-11 11:28:22",
        ),
    ]
    assert result.raw == sample("st_response.txt")


def test_reply_sample_parses():
    client, _ = replay_client(sample("rx_response.txt"))
    result = client.poll_mo()
    assert result.items == [
        InboundReply(
            phone="13912341234",
            content="短信测试回复",
            received_at=dt.datetime(2008, 5, 27, 12, 10, 11, tzinfo=CHINA),
            extension="1068112227282",
            raw="13912341234||短信测试回复||2008-05-27 12:10:11||1068112227282",
        ),
        InboundReply(
            phone="15912343333",
            content="短信测试回复2",
            received_at=dt.datetime(2009, 5, 27, 13, 11, 11, tzinfo=CHINA),
            extension="106811222728200",
            raw="15912343333||短信测试回复2||2009-05-27 13:11:11||106811222728200",
        ),
    ]


def test_counter_samples_parse():
    client, _ = replay_client(sample("mm_balance_response.txt"))
    assert client.balance() == Balance(
        amount=Decimal(100), unit="messages", raw=sample("mm_balance_response.txt")
    )
    client, _ = replay_client(sample("mm_sent_response.txt"))
    assert client.sent_count() == SentCount(count=100, raw=sample("mm_sent_response.txt"))


def test_records_format_sample_is_a_template_not_a_reply():
    client, _ = replay_client(sample("rd_response_format.txt"))
    with pytest.raises(UnexpectedReply) as caught:
        client.send_records()
    assert "总记录数" in caught.value.raw


def test_records_in_the_documented_format_parse():
    body = (
        "3||2||2|#|2012-12-12 10:00:01||13900008888||你好||100"
        "|#|2012-12-12 10:00:02||13100006666||a||b||UNDELIV"
    )
    client, _ = replay_client(body)
    records = client.send_records(2)
    assert (records.total, records.count, records.pages) == (3, 2, 2)
    assert [(r.phone, r.content, r.status) for r in records.records] == [
        ("13900008888", "你好", "100"),
        ("13100006666", "a||b", "UNDELIV"),
    ]
    assert records.records[0].sent_at == dt.datetime(2012, 12, 12, 10, 0, 1, tzinfo=CHINA)


def test_push_sample_is_a_template_with_placeholders():
    # The document's push URL carries placeholders, not values: read through the receiver's
    # GBK-decoded query, it authenticates by uid but its "接收号码" is no phone number.
    split = urlsplit(sample("mo_push_request.txt").strip())
    query = dict(parse_qsl(split.query))
    request = PushRequest(method="GET", query=query, body=b"")
    config = AccountConfig(base_url="", account_id="用户账号", secret="")
    outcome = parse_push(request, config)
    assert outcome.reply_status == 200 and outcome.reply_body == "OK"
    assert outcome.replies == [] and outcome.reports == []
    assert len(outcome.errors) == 1
    with pytest.raises(PushRejected) as caught:
        parse_push(request, AccountConfig(base_url="", account_id=UID, secret=""))
    assert caught.value.status == 403


def test_report_shaped_push_like_the_sample_url_parses():
    query = {
        "cmd": "res",
        "uid": UID,
        "mobileids": "1390000888812869461937",
        "mobile": "13900008888",
        "status": "100",
    }
    outcome = parse_push(
        PushRequest(method="GET", query=query, body=b""),
        AccountConfig(base_url="", account_id=UID, secret=""),
    )
    assert [(e.custom_id, e.status, e.phone) for e in outcome.reports] == [
        ("1390000888812869461937", "delivered", "13900008888")
    ]
    assert outcome.errors == [] and outcome.replies == []


# --------------------------------------------------------------------------- operations


def test_send_same_over_http(sim, client):
    before = sim_account(sim).balance
    sent = messages("13900008888", "13100006666", "02185418874", start=700)
    results = client.send_same(sent, "您好，测试 ~ & = + 发送")
    assert [(r.custom_id, r.phone, r.accepted, r.vendor_message_id) for r in results] == [
        ("700", "13900008888", True, "700"),
        ("701", "13100006666", True, "701"),
        ("702", "02185418874", True, "702"),
    ]
    accepted = sim.accepted(vendor="smscn")
    assert [(m["custom_id"], m["phone"]) for m in accepted] == [
        ("700", "13900008888"),
        ("701", "13100006666"),
        ("702", "02185418874"),
    ]
    assert {m["content"] for m in accepted} == {"您好，测试 ~ & = + 发送"}
    assert {m["extension"] for m in accepted} == {"88"}
    assert {m["extra"]["method"] for m in accepted} == {"POST"}
    assert sim_account(sim).balance == before - 3


def test_send_single_and_utf8_option(sim, client):
    client = make_client(sim, options={"encode": "utf8"})
    result = client.send_single(OutgoingMessage("9", "13900008888", "表情😀"))
    assert result.accepted and result.vendor_message_id == "9"
    [accepted] = sim.accepted(vendor="smscn")
    assert accepted["content"] == "表情😀"
    assert accepted["extra"]["encode"] == "utf8"


def test_gbk_cannot_carry_emoji(sim, client):
    with pytest.raises(ContentRejected):
        client.send_single(OutgoingMessage("9", "13900008888", "表情😀"))
    assert sim.accepted(vendor="smscn") == []


def test_send_limits(sim, client):
    phones = [f"139{i:08d}" for i in range(2001)]
    results = client.send_same(messages(*phones[:2000]), "hi")
    assert len(results) == len(sim.accepted(vendor="smscn")) == 2000
    with pytest.raises(InvalidRequest):
        client.send_same(messages(*phones), "hi")
    # The gateway itself: 2001 by POST or 51 by GET is 106 号码过多.
    fields = {"uid": UID, "pwd": sign(PASSWORD, UID), "content": "hi"}
    too_many = requests.post(
        f"{sim.url('smscn')}/mt/", data={**fields, "mobile": ",".join(phones)}, timeout=10
    )
    assert too_many.content.decode("gbk") == "sms&stat=106&message=号码过多"
    by_get = requests.get(
        f"{sim.url('smscn')}/mt/", params={**fields, "mobile": ",".join(phones[:51])}, timeout=10
    )
    assert by_get.content.decode("gbk") == "sms&stat=106&message=号码过多"
    ok_by_get = requests.get(
        f"{sim.url('smscn')}/mt/", params={**fields, "mobile": ",".join(phones[:50])}, timeout=10
    )
    assert ok_by_get.content.decode("gbk") == "sms&stat=100&message=发送成功"


def test_poll_reports(sim, client):
    sim.state.phone_outcomes.update({"13900000001": "delivered", "13900000002": "expired"})
    client.send_same(messages("13900000001", "13900000002", start=41), "hi")
    sim.state.tick()
    events = client.poll_reports().items
    assert [
        (e.custom_id, e.vendor_message_id, e.phone, e.status, e.vendor_code) for e in events
    ] == [
        ("41", "41", "13900000001", "delivered", "100"),
        ("42", "42", "13900000002", "expired", "EXPIRED"),
    ]
    assert all(e.done_at.utcoffset() == dt.timedelta(hours=8) for e in events)
    assert client.poll_reports().items == []


def test_poll_reports_without_ids(sim, client):
    """The engine's reports_without_ids: the /st/ lines leave the id empty."""
    sim.configure(reports_without_ids=True, phone_outcomes={"13900000002": "expired"})
    client.send_same(messages("13900000001", "13900000002", start=41), "hi")
    sim.state.tick()
    events = client.poll_reports().items
    assert [(e.custom_id, e.vendor_message_id, e.phone, e.status) for e in events] == [
        ("", "", "13900000001", "delivered"),
        ("", "", "13900000002", "expired"),
    ]
    assert events[0].raw.split(",")[2] == ""


def test_poll_interval_is_answered_with_107(sim, client):
    sim.state.enforce_poll_interval = True
    client.poll_reports()
    with pytest.raises(RateLimited) as caught:
        client.poll_reports()
    assert caught.value.code == "107" and caught.value.description_zh == "频率过快"
    client.poll_mo()  # replies are paced separately
    with pytest.raises(RateLimited):
        client.poll_mo()


def test_poll_mo(sim, client):
    sim.inject_reply(
        vendor="smscn",
        account_id=UID,
        phone="13912341234",
        content="退订||T {&} 好",
        extension="88",
    )
    sim.inject_reply(vendor="smscn", account_id=UID, phone="15912343333", content="2")
    replies = client.poll_mo().items
    assert [(r.phone, r.content, r.extension) for r in replies] == [
        ("13912341234", "退订｜｜T {&} 好", f"{ACCESS_NUMBER}88"),
        ("15912343333", "2", ACCESS_NUMBER),
    ]
    assert all(r.received_at.tzinfo is not None for r in replies)
    assert client.poll_mo().items == []


def test_balance_and_sent_count(sim, client):
    sim_account(sim).balance = 500
    client.send_same(messages("13900008888", "13100006666"), "x" * 200)  # 2 numbers x 2 parts
    assert client.balance().amount == Decimal(496)
    assert client.sent_count().count == 4


def test_send_records(sim, client):
    client.send_same(messages(*(f"139{i:08d}" for i in range(51))), "a||b")
    first, second = client.send_records(1), client.send_records(2)
    assert (first.total, first.count, first.pages, len(first.records)) == (51, 50, 2, 50)
    assert (second.count, second.records[0].phone) == (1, "13900000050")
    assert first.records[0].content == "a||b"
    assert first.records[0].sent_at.date() == dt.datetime.now(CHINA).date()
    one = client.send_records(phone="13900000007", date=dt.datetime.now(CHINA).date())
    assert [r.phone for r in one.records] == ["13900000007"]
    assert client.send_records(date=dt.date(2012, 12, 12)) == SendRecords(0, 0, 0, raw="")


class _Receiver(BaseHTTPRequestHandler):
    """A portal push endpoint: decodes the query as GBK, calls parse_push, answers."""

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        split = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = PushRequest(
            self.command,
            dict(parse_qsl(split.query, encoding="gbk")),
            body,
            self.headers.get("Content-Type", ""),
            dict(self.headers),
        )
        try:
            outcome = parse_push(request, self.server.config)
        except PushRejected as exc:
            self.send_response(exc.status)
            self.end_headers()
            return
        self.server.outcomes.append(outcome)
        payload = outcome.reply_body.encode() if isinstance(outcome.reply_body, str) else b""
        self.send_response(self.server.answer_status or outcome.reply_status)
        self.send_header("Content-Type", outcome.reply_content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.config = AccountConfig(base_url="", account_id=UID, secret=PASSWORD)
    server.outcomes, server.answer_status = [], 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/push/smscn"
    yield server
    server.shutdown()
    server.server_close()


def test_mo_push_over_http(sim, receiver):
    sim.add_account(vendor="smscn", account_id=UID, secret=PASSWORD, push_url=receiver.url)
    sim.inject_reply(vendor="smscn", account_id=UID, phone="13912341234", content="回复 T&=")
    sim.server.push_once()
    [outcome] = receiver.outcomes
    [reply] = outcome.replies
    assert (reply.phone, reply.content) == ("13912341234", "回复 T&=")
    assert reply.received_at.utcoffset() == dt.timedelta(hours=8)
    assert sim.state.pushed_reports[-1]["acknowledged"] is True
    assert not sim.state.replies[("smscn", UID)]


def test_unacknowledged_push_is_kept(sim, receiver):
    receiver.answer_status = 500
    sim.add_account(vendor="smscn", account_id=UID, secret=PASSWORD, push_url=receiver.url)
    sim.inject_reply(vendor="smscn", account_id=UID, phone="13912341234", content="x")
    sim.server.push_once()
    assert sim.state.pushed_reports[-1]["acknowledged"] is False
    assert len(sim.state.replies[("smscn", UID)]) == 1


def test_push_checks():
    config = AccountConfig(base_url="", account_id=UID, secret="")
    account = SimAccount(vendor="smscn", account_id=UID, secret="", push_url="http://x/")
    reply = SimReply(
        vendor="smscn",
        account_id=UID,
        phone="13912341234",
        content="好",
        received_at=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=CHINA),
    )
    good = mo_push(account, reply)
    assert good.body.startswith(b"cmd=res&uid=test&time=2024-01-02+03%3A04%3A05")
    assert b"content=%BA%C3" in good.body  # GBK
    outcome = parse_push(PushRequest("POST", {}, good.body), config)
    assert outcome.replies[0].received_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=CHINA)
    for body, status in [
        (good.body.replace(b"uid=test", b"uid=other"), 403),
        (good.body.replace(b"uid=test&", b""), 401),
        (b"\xff\xfe<not what the document shows>\x00{{", 400),
        (b'{"cmd": "res"}', 400),
    ]:
        with pytest.raises(PushRejected) as caught:
            parse_push(PushRequest("POST", {}, body), config)
        assert caught.value.status == status
    for bad in (
        good.body.replace(b"mobile=13912341234", b"mobile="),
        good.body.replace(b"%BA%C3", b"%FF"),
        b"cmd=res&uid=test&mobile=13912341234",
    ):
        outcome = parse_push(PushRequest("POST", {}, bad), config)
        assert outcome.replies == [] and len(outcome.errors) == 1
        assert outcome.reply_body == "OK"


# --------------------------------------------------------------------------- typed errors


def test_every_stat_code_maps_to_its_typed_error():
    for code, row in STAT_CODES.items():
        if row.meaning != "ok":
            error = error_for(code, "raw")
            assert (error.kind, error.code, error.raw) == (row.meaning, code, "raw")
    assert error_for("114", "").retry_after == 600
    assert REPORT_CODES["100"].meaning == "delivered"


def test_unlisted_stat_says_nothing_either_way():
    """Section 四 lists the codes and says nothing of others: "vendor_error", maybe taken."""
    error = error_for("999", "raw", "新错误")
    assert (type(error), error.kind, error.code, error.description_zh) == (
        VendorError,
        "vendor_error",
        "999",
        "新错误",
    )
    body = "sms&stat=999&message=新错误"
    with pytest.raises(VendorError) as caught:
        replay_client(body)[0].send_same(messages("13900008888"), "x")
    assert (caught.value.kind, caught.value.raw) == ("vendor_error", body)
    assert decide(caught.value).disposition == Disposition.UNKNOWN


def test_report_statuses():
    """Only 100 is in the document; failures come as the operators' CMPP words."""
    assert {code: row.meaning for code, row in REPORT_CODES.items()} == {
        "100": "delivered",
        "DELIVRD": "delivered",
        "EXPIRED": "expired",
        "UNDELIV": "undelivered",
        "REJECTD": "rejected",
        "DELETED": "undelivered",
        "UNKNOWN": "undelivered",
    }
    client, _ = replay_client(
        "13900008888,EXPIRED,41, 2024-01-02 03:04:05\n13900008889,MK:0001,42, 2024-01-02 03:04:06"
    )
    events = client.poll_reports().items
    assert [(e.custom_id, e.status) for e in events] == [("41", "expired"), ("42", "undelivered")]


def test_wrong_password_is_auth_error(sim, client):
    with pytest.raises(VendorAuthError) as caught:
        make_client(sim, secret="wrong").send_single(OutgoingMessage("1", "13900008888", "x"))
    assert caught.value.code == "101" and "验证失败" in caught.value.raw
    sim.misbehave("smscn", "auth_error")
    with pytest.raises(VendorAuthError):
        client.balance()


def test_balance_errors(sim, client):
    sim_account(sim).balance = 1
    with pytest.raises(InsufficientBalance) as caught:
        client.send_same(messages("13900008888", "13100006666"), "x")
    assert caught.value.code == "102"
    assert sim.accepted(vendor="smscn") == []
    sim.misbehave("smscn", "no_balance")
    with pytest.raises(InsufficientBalance):
        client.send_single(OutgoingMessage("1", "13900008888", "x"))


def test_rate_limited(sim, client):
    sim.misbehave("smscn", "rate_limit")
    with pytest.raises(RateLimited) as caught:
        client.send_single(OutgoingMessage("1", "13900008888", "x"))
    assert (caught.value.code, caught.value.retry_after) == ("107", 5.0)


def test_invalid_number(sim, client):
    with pytest.raises(InvalidNumber) as caught:
        client.send_same(messages("13900008888", "1234"), "x")
    assert caught.value.code == "112" and caught.value.description_zh == "号码错误"
    assert sim.accepted(vendor="smscn") == []


@pytest.mark.parametrize(
    ("reason", "code", "error"),
    [
        ("invalid_number", "112", InvalidNumber),
        ("no_balance", "102", InsufficientBalance),
        ("content_rejected", "104", ContentRejected),
        ("999", "999", VendorError),
    ],
)
def test_refused_number_refuses_the_request(sim, client, reason, code, error):
    """One stat per request: a number the gateway refuses refuses the request that holds it."""
    sim.configure(phone_refusals={"13100006666": reason})
    with pytest.raises(error) as caught:
        client.send_same(messages("13900008888", "13100006666"), "x")
    assert caught.value.code == code
    assert (
        caught.value.kind
        == {
            "112": "invalid_number",
            "102": "balance",
            "104": "content_rejected",
            "999": "vendor_error",
        }[code]
    )
    assert sim.accepted(vendor="smscn") == []
    assert client.send_single(OutgoingMessage("3", "13900008888", "x")).accepted


def test_content_rejected(sim, client):
    sim.vendor_action("smscn", "blocked_words", words=["违禁"])
    with pytest.raises(ContentRejected) as caught:
        client.send_single(OutgoingMessage("1", "13900008888", "这是违禁内容"))
    assert caught.value.code == "104"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.send_single(OutgoingMessage("1", "13900008888", "x")),
        lambda c: c.poll_reports(),
        lambda c: c.poll_mo(),
        lambda c: c.balance(),
        lambda c: c.sent_count(),
        lambda c: c.send_records(),
    ],
)
def test_garbage_is_unexpected_reply(sim, client, call):
    sim.misbehave("smscn", "garbage")
    with pytest.raises(UnexpectedReply) as caught:
        call(client)
    assert "not what the document shows" in caught.value.raw


@pytest.mark.parametrize(
    ("body", "operation", "error"),
    [
        ("<html><body>维护中</body></html>", "poll_reports", UnexpectedReply),
        ("sms&stat=abc", "balance", UnexpectedReply),
        ("sms&stat=100&message=发送成功", "balance", UnexpectedReply),  # no remain
        ("sms&stat=100&remain=abc", "sent_count", UnexpectedReply),
        ("18817660001,100", "poll_reports", UnexpectedReply),
        ("101{&}13912341234||x||2008-05-27 12:10:11||1", "poll_mo", VendorAuthError),
        ("100{&}13912341234||no time||1", "poll_mo", UnexpectedReply),
    ],
)
def test_odd_replies(body, operation, error):
    client, _ = replay_client(body)
    with pytest.raises(error) as caught:
        getattr(client, operation)()
    assert caught.value.raw == body


def test_report_line_without_an_id_keeps_its_phone():
    client, _ = replay_client("18817660001,100,, 2011-03-11 11:22:11\n")
    [event] = client.poll_reports().items
    assert (event.vendor_message_id, event.custom_id, event.phone, event.status) == (
        "",
        "",
        "18817660001",
        "delivered",
    )


def test_report_shaped_push_without_mobileids_keeps_its_phone():
    query = {"cmd": "res", "uid": UID, "mobileids": "", "mobile": "13900008888", "status": "100"}
    outcome = parse_push(
        PushRequest(method="GET", query=query, body=b""),
        AccountConfig(base_url="", account_id=UID, secret=""),
    )
    assert [(e.vendor_message_id, e.custom_id, e.phone, e.status) for e in outcome.reports] == [
        ("", "", "13900008888", "delivered")
    ]
    assert outcome.errors == []


def test_one_odd_report_line_does_not_lose_the_others():
    client, _ = replay_client(sample("st_response.txt") + "garbage line\n")
    assert len(client.poll_reports().items) == 2


def test_server_errors(sim, client):
    sim.misbehave("smscn", "error", remaining=1)
    with pytest.raises(AmbiguousOutcome) as caught:
        client.send_single(OutgoingMessage("1", "13900008888", "x"))
    assert caught.value.code == "500"
    sim.misbehave("smscn", "unavailable", remaining=1)
    with pytest.raises(TransientError):
        client.balance()


def test_connection_refused_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SmscnClient(
        AccountConfig(base_url=f"http://127.0.0.1:{port}/smscn", account_id=UID, secret=PASSWORD)
    )
    with pytest.raises(TransientError):
        client.balance()


def test_accept_then_drop_is_ambiguous(sim, client):
    sim.misbehave("smscn", "accept_then_drop", remaining=1)
    with pytest.raises(AmbiguousOutcome) as caught:
        client.send_single(OutgoingMessage("5", "13900008888", "x"))
    assert not isinstance(caught.value, UnexpectedReply)
    assert [m["custom_id"] for m in sim.accepted(vendor="smscn")] == ["5"]
