"""actiongw: the document's samples as test vectors, every operation against the simulator over
real HTTP, and every typed error from the gateway's own answers."""

import datetime as dt
import hashlib
import json
import re
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from messaging.services.outcomes import Disposition, decide
from messaging.statuses import REPORT_STATUSES
from messaging.vendors.actiongw import VENDOR
from messaging.vendors.actiongw.client import ActionGwClient
from messaging.vendors.actiongw.codes import (
    RESULT_CODES,
    STAT_CODES,
    STATUS_CODES,
    UPSTREAM_CODE,
    error_for,
    report_code,
)
from messaging.vendors.actiongw.push import parse_push
from messaging.vendors.actiongw.simulator import ActionGwSimulator
from messaging.vendors.base import (
    ERROR_KINDS,
    AccountConfig,
    AccountProblem,
    AmbiguousOutcome,
    InboundReply,
    InsufficientBalance,
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
from messaging.vendors.simulator import PushCall

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "actiongw"
CHINA = ZoneInfo("Asia/Shanghai")
SAMPLE_TIME = dt.datetime(2017, 4, 12, 1, 38, 21, tzinfo=CHINA)
ACCOUNT, SECRET, EXTNO = "922011", "s3cret", "10690123"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sample_params(name: str) -> dict[str, str]:
    """The fields of one of the document's example URLs."""
    return dict(parse_qsl(urlsplit(sample(name).decode()).query, keep_blank_values=True))


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class ReplayTransport:
    """Answers every request with fixed bytes and records what the client sent."""

    def __init__(self, body: bytes, status: int = 200):
        self.body, self.status, self.sent = body, status, []

    def request(self, method, url, **kwargs):
        self.sent.append(kwargs.get("data") or kwargs.get("params"))
        text = self.body.decode("utf-8", errors="replace")
        return HttpReply(self.status, self.body, text, {}, url)

    def get(self, url, params=None, **kwargs):
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)


def replay_client(body: bytes, status: int = 200, **config) -> ActionGwClient:
    config = {
        "base_url": "http://gw.test",
        "account_id": ACCOUNT,
        "secret": SECRET,
        "extension": EXTNO,
        **config,
    }
    return ActionGwClient(AccountConfig(**config), ReplayTransport(body, status))


def messages(*phones: str, content: str = "") -> list[OutgoingMessage]:
    return [OutgoingMessage(f"c{i}", phone, content) for i, phone in enumerate(phones)]


# --------------------------------------------------------------------------- document samples


def test_send_request_is_the_documents_example():
    client = replay_client(
        sample("send_response.json"), account_id="账号", secret="密码", extension="1069012345"
    )
    client.send_same(messages("15023239810", "13527576163"), "内容")
    assert client.http.sent == [sample_params("send_request.url.txt")]


def test_send_response_sample_is_matched_back_by_phone():
    client = replay_client(sample("send_response.json"))
    # Given in the reverse order of the reply: matching is by phone, not by position alone.
    results = client.send_same(messages("18983437011", "18983437010"), "hi")
    assert [(r.custom_id, r.phone, r.accepted, r.vendor_message_id) for r in results] == [
        ("c0", "18983437011", True, "4C2CA88382720004"),
        ("c1", "18983437010", True, "4C2CA88382720003"),
    ]
    assert json.loads(results[0].raw) == {
        "mid": "4C2CA88382720004",
        "mobile": "18983437011",
        "result": 0,
    }


def test_p2p_request_is_the_documents_example():
    """The example's list ends every line with %0d (CR), the last one included."""
    client = replay_client(
        sample("p2p_response.json"), account_id="922011", secret="123456", extension="10690231221"
    )
    phones = [f"1380000000{i}" for i in range(1, 5)]
    client.send_personalised(
        [OutgoingMessage(f"c{i}", phone, f"下发内容{i}") for i, phone in enumerate(phones, 1)]
    )
    assert client.http.sent == [sample_params("p2p_request.url.txt")]


def test_p2p_response_sample():
    client = replay_client(sample("p2p_response.json"))
    phones = [f"1380000000{i}" for i in range(1, 5)]
    results = client.send_personalised(
        [OutgoingMessage(f"c{i}", phone, "x") for i, phone in enumerate(phones)]
    )
    assert [r.vendor_message_id for r in results] == [
        "4C372C4382720007",
        "4C372C4382720008",
        "4C372C4382720009",
        "4C372C438272000A",
    ]
    assert all(r.accepted for r in results)


def test_balance_sample():
    client = replay_client(sample("balance_response.json"), account_id="账号", secret="密码")
    balance = client.balance()
    assert client.http.sent == [sample_params("balance_request.url.txt")]
    # -153278040 厘, post-paid: the sample's status is the number 0, not "0".
    assert balance.amount == Decimal("-153278.04")
    assert balance.unit == "yuan"
    assert balance.details["chargeType"] == "POSTCHARGE"
    assert balance.raw == sample("balance_response.json").decode()


@pytest.mark.parametrize(("action", "name"), [("report", "report"), ("mo", "mo")])
def test_poll_requests_follow_the_documents_examples(action, name):
    client = replay_client(sample(f"{name}_response_empty.json"), account_id="账号", secret="密码")
    result = client.poll_reports() if action == "report" else client.poll_mo()
    assert result.items == [] and not result.more_waiting
    # The report example repeats action=report; the MO table misspells size as "szie".
    sent, documented = client.http.sent[0], sample_params(f"{name}_request.url.txt")
    assert sent.keys() == documented.keys()
    assert {k: v for k, v in sent.items() if k != "size"} == {
        k: v for k, v in documented.items() if k != "size"
    }
    assert 10 <= int(sent["size"]) <= 1000


def test_report_sample():
    result = replay_client(sample("report_response.json")).poll_reports()
    assert result.items == [
        StatusEvent(
            "4C36654382720005",
            "rejected",
            "MA:0029",
            "通道黑名单号段",
            "Number range on the channel's blacklist",
            phone="18983437010",
            done_at=SAMPLE_TIME,
            raw=result.items[0].raw,
        ),
        StatusEvent(
            "4C36654382720006",
            "rejected",
            "MA:0029",
            "通道黑名单号段",
            "Number range on the channel's blacklist",
            phone="18983437011",
            done_at=SAMPLE_TIME,
            raw=result.items[1].raw,
        ),
    ]
    assert json.loads(result.items[0].raw)["accessCode"] == "106901234"
    assert result.raw == sample("report_response.json").decode()


def test_mo_sample():
    """The sample's second item has a line without indentation; it is still valid JSON."""
    result = replay_client(sample("mo_response.json")).poll_mo()
    assert [
        (r.phone, r.content, r.extension, r.vendor_message_id, r.received_at) for r in result.items
    ] == [
        ("18983437010", "上行内容1", "10690", "4C36654382720005", SAMPLE_TIME),
        ("18983437011", "上行内容2", "10690", "4C36654382720006", SAMPLE_TIME),
    ]
    assert all(isinstance(r, InboundReply) and r.raw for r in result.items)


def test_push_sample_and_its_answer():
    request = PushRequest("POST", {}, sample("push_request.json"), "application/json")
    outcome = parse_push(request, AccountConfig("http://gw.test", ACCOUNT, SECRET))
    assert outcome.reply_body == sample("push_reply.txt").decode() == "OK"
    assert outcome.reply_content_type.startswith("text/plain")
    assert outcome.errors == []
    [reply] = outcome.replies
    assert (reply.phone, reply.content, reply.extension, reply.received_at) == (
        "18983437010",
        "上行内容",
        "10690",
        SAMPLE_TIME,
    )
    [report] = outcome.reports
    assert (report.vendor_message_id, report.status, report.vendor_code, report.phone) == (
        "4C36654382720006",
        "delivered",
        "DELIVRD",
        "18983437011",
    )


# --------------------------------------------------------------------------- signing


@pytest.mark.parametrize(
    ("operation", "signed"),
    [
        # send: MD5(password+extno+content+mobile)
        (
            lambda c: c.send_same(messages("13800000001", "13800000002"), "您好"),
            SECRET + EXTNO + "您好" + "13800000001,13800000002",
        ),
        # p2p: MD5(password+extno+mobileContentList), line breaks removed
        (
            lambda c: c.send_personalised(
                [
                    OutgoingMessage("a", "13800000001", "一"),
                    OutgoingMessage("b", "13800000002", "二"),
                ]
            ),
            SECRET + EXTNO + "13800000001#一13800000002#二",
        ),
        # balance, report, mo: MD5(password)
        (lambda c: c.balance(), SECRET),
        (lambda c: c.poll_reports(), SECRET),
        (lambda c: c.poll_mo(), SECRET),
    ],
    ids=["send", "p2p", "balance", "report", "mo"],
)
def test_md5_password_per_action(operation, signed):
    """The document gives no digest samples: these are md5 of its concatenation rules."""
    client = replay_client(b'{"status":"0","balance":0,"list":[]}', auth_mode="md5")
    operation(client)
    assert client.http.sent[0]["password"] == md5(signed)


def test_plain_password_is_sent_as_is():
    client = replay_client(sample("balance_response.json"))
    client.balance()
    assert client.http.sent[0]["password"] == SECRET


# --------------------------------------------------------------------------- code tables


def test_code_tables_map_to_known_meanings():
    assert {code.meaning for code in STAT_CODES.values()} <= REPORT_STATUSES
    for table in (STATUS_CODES, RESULT_CODES):
        assert {code.meaning for code in table.values()} - {"ok"} <= ERROR_KINDS.keys()
    assert len(STATUS_CODES) == 11 and len(RESULT_CODES) == 4 and len(STAT_CODES) == 28
    assert all(
        code.zh and code.en for t in (STATUS_CODES, RESULT_CODES, STAT_CODES) for code in t.values()
    )


def table_rows(name: str) -> dict[str, str]:
    """code -> words of one of the document's two-column tables (sections 7, 8, 9): each cell
    is a tab-indented line, with Word's bookmarks in front; the first row is the header."""
    cells = [
        re.sub(r"\[bookmark: [^\]]*\]", "", line).strip()
        for line in sample(name).decode().splitlines()
        if line.startswith("\t")
    ]
    return dict(zip(cells[2::2], cells[3::2], strict=True))


@pytest.mark.parametrize(
    ("name", "table"),
    [("status_codes_table.txt", STATUS_CODES), ("result_codes_table.txt", RESULT_CODES)],
)
def test_error_tables_are_the_documents(name, table):
    assert table_rows(name) == {code: row.zh for code, row in table.items()}


def test_stat_table_is_the_documents():
    rows = table_rows("stat_codes_table.txt")
    assert rows.pop("MO:NNNN") == UPSTREAM_CODE.zh
    assert rows == {code: row.zh for code, row in STAT_CODES.items()}
    assert STAT_CODES["EXPIRED"].meaning == "expired"


def test_common_errors_section_is_what_the_result_codes_mean():
    """Section 10: 10 (接入码) and 17 (签名) are fixed in the account's settings, 15 by a top-up."""
    text = sample("common_errors.txt").decode()
    assert re.findall(r"错误码(\d+)", text) == ["10", "17", "15"]
    assert [RESULT_CODES[code].meaning for code in ("10", "17", "15")] == [
        "account",
        "account",
        "balance",
    ]


@pytest.mark.parametrize("code", [c for c in STATUS_CODES if c != "0"])
def test_every_status_code_raises_its_typed_error(code):
    client = replay_client(json.dumps({"status": code}).encode())
    with pytest.raises(VendorError) as caught:
        client.balance()
    assert type(caught.value) is ERROR_KINDS[STATUS_CODES[code].meaning]
    assert caught.value.code == code and caught.value.description_zh == STATUS_CODES[code].zh


def test_report_codes_outside_the_table():
    assert report_code("MA:0029 ") == ("MA:0029", STAT_CODES["MA:0029"])
    stat, code = report_code("MO:0999")
    assert (stat, code.meaning) == ("MO:0999", "undelivered") and "上级网关" in code.zh
    assert report_code("UNDELIV")[1].meaning == "undelivered"


def test_unlisted_codes_say_nothing_either_way():
    """Sections 7 and 8 do not say what other values mean: "vendor_error", maybe taken."""
    for table in (STATUS_CODES, RESULT_CODES):
        error = error_for("99", "raw", table)
        assert (type(error), error.kind, error.code) == (VendorError, "vendor_error", "99")
    with pytest.raises(VendorError) as caught:
        replay_client(b'{"status":"99"}').balance()
    assert caught.value.kind == "vendor_error" and caught.value.raw == '{"status":"99"}'
    body = b'{"status":"0","list":[{"mid":"","mobile":"13800000001","result":99}]}'
    [result] = replay_client(body).send_same(messages("13800000001"), "x")
    assert (result.accepted, result.error_code, result.error_kind) == (False, "99", "vendor_error")
    assert decide(result).disposition == Disposition.UNKNOWN


# --------------------------------------------------------------------------- odd replies


@pytest.mark.parametrize(
    ("body", "operation"),
    [
        (b"<html><body>Bad Gateway config</body></html>", "balance"),
        (b"OK", "balance"),
        (b'["status", 0]', "balance"),
        (b'{"status":0,"balance":"lots"}', "balance"),
        (b'{"status":"0","balance":0}', "send"),
        (b'{"status":"0","balance":0,"list":["4C2C"]}', "send"),
        (b'{"status":"0","list":{"mid":"1"}}', "report"),
        ('{"status":"0","list":[]}'.encode("utf-16"), "mo"),
    ],
)
def test_unexpected_replies_keep_the_raw_body(body, operation):
    client = replay_client(body)
    call = {
        "balance": client.balance,
        "send": lambda: client.send_same(messages("13800000001"), "x"),
        "report": client.poll_reports,
        "mo": client.poll_mo,
    }[operation]
    with pytest.raises(UnexpectedReply) as caught:
        call()
    assert caught.value.raw == body.decode("utf-8", errors="replace")


def test_http_error_status_is_an_unexpected_reply():
    with pytest.raises(UnexpectedReply) as caught:
        replay_client(b"<html>Not Found</html>", status=404).balance()
    assert caught.value.code == "404" and "Not Found" in caught.value.raw


def test_number_missing_from_the_reply_is_ambiguous():
    results = replay_client(sample("send_response.json")).send_same(
        messages("18983437010", "13900000000", "18983437011"), "x"
    )
    assert [(r.accepted, r.error_kind) for r in results] == [
        (True, ""),
        (False, "ambiguous"),
        (True, ""),
    ]


def test_poll_item_that_cannot_be_read_is_skipped_not_fatal():
    body = json.dumps(
        {
            "status": "0",
            "list": [
                {"flag": 1, "mid": "1", "mobile": "13800000001", "stat": "DELIVRD", "time": "soon"},
                {"flag": 1, "mid": "2"},
                "junk",
            ],
        }
    ).encode()
    result = replay_client(body).poll_reports()
    assert [(r.vendor_message_id, r.done_at) for r in result.items] == [("1", None)]


def test_p2p_number_missing_from_the_reply_is_ambiguous():
    batch = [OutgoingMessage(f"c{i}", f"1380000000{i}", "x") for i in range(1, 6)]
    results = replay_client(sample("p2p_response.json")).send_personalised(batch)
    assert [(r.accepted, r.error_kind) for r in results] == [(True, "")] * 4 + [
        (False, "ambiguous")
    ]
    assert decide(results[4]).disposition == Disposition.UNKNOWN


def test_p2p_content_with_a_line_break_needs_a_single_send():
    """Only the recipients whose content has a line break stay out of the p2p list."""
    client = replay_client(sample("p2p_response.json"))
    batch = [
        OutgoingMessage("a", "13800000001", "x"),
        OutgoingMessage("b", "13900000001", "one\ntwo"),
        OutgoingMessage("c", "13800000002", "x"),
        OutgoingMessage("d", "13900000002", "one\r\ntwo"),
        OutgoingMessage("e", "13800000003", "x"),
        OutgoingMessage("f", "13800000004", "x"),
    ]
    results = client.send_personalised(batch)
    assert [(r.custom_id, r.accepted, r.error_kind) for r in results] == [
        ("a", True, ""),
        ("b", False, "needs_single"),
        ("c", True, ""),
        ("d", False, "needs_single"),
        ("e", True, ""),
        ("f", True, ""),
    ]
    assert results[1].vendor_message_id == "" and "line break" in results[1].error_description
    assert decide(results[1]).disposition == Disposition.RESEND_SINGLE
    [sent] = client.http.sent
    assert sent["mobileContentList"] == "".join(f"1380000000{i}#x\r" for i in range(1, 5))


def test_p2p_with_only_line_breaks_sends_nothing():
    client = replay_client(b"")
    results = client.send_personalised([OutgoingMessage("a", "13800000001", "one\ntwo")])
    assert [(r.custom_id, r.error_kind) for r in results] == [("a", "needs_single")]
    assert client.http.sent == []


# --------------------------------------------------------------------------- pushes


def push(body: bytes) -> PushRequest:
    return PushRequest("POST", {}, body, "application/json")


def test_push_bad_items_do_not_lose_good_ones():
    body = json.dumps(
        [
            {
                "flag": 1,
                "mid": "-9223372036854775809",
                "mobile": "13800000001",
                "stat": "EXPIRED",
                "time": "2024-01-02 03:04:05",
            },
            {"flag": 7, "mid": "x"},
            "not an object",
            {"flag": 1, "mid": "3", "mobile": "13800000001"},
            {"flag": "0", "mobile": "13800000002", "content": "TD", "accessCode": "10690123"},
            {"flag": 0, "mobile": "13800000003"},
        ],
        ensure_ascii=False,
    ).encode()
    outcome = parse_push(push(body), AccountConfig("http://gw.test", ACCOUNT, SECRET))
    assert [(r.vendor_message_id, r.status) for r in outcome.reports] == [
        ("-9223372036854775809", "expired")
    ]
    assert outcome.reports[0].done_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=CHINA)
    assert [(r.phone, r.content, r.received_at) for r in outcome.replies] == [
        ("13800000002", "TD", None)
    ]
    assert len(outcome.errors) == 4
    assert outcome.reply_body == "OK"


@pytest.mark.parametrize("body", [b"", b"OK", b'{"flag": 1}', b"\xff\xfe[]", b"[{]"])
def test_unreadable_push_is_rejected(body):
    with pytest.raises(PushRejected) as caught:
        parse_push(push(body), AccountConfig("http://gw.test", ACCOUNT, SECRET))
    assert caught.value.status == 400


def test_push_needs_the_answer_ok():
    simulator = ActionGwSimulator(state=None)
    call = PushCall("POST", "http://receiver.test")
    assert simulator.push_acknowledged(call, SimpleNamespace(status_code=200, text="OK"))
    assert not simulator.push_acknowledged(call, SimpleNamespace(status_code=200, text="FAIL"))
    assert not simulator.push_acknowledged(call, SimpleNamespace(status_code=500, text="OK"))


# --------------------------------------------------------------------------- over real HTTP


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


def accepted(sim) -> list[tuple[str, str, str]]:
    return [
        (m["phone"], m["content"], m["vendor_message_id"]) for m in sim.accepted(vendor="actiongw")
    ]


@pytest.mark.parametrize("auth_mode", ["md5", "plain"])
def test_send_same(gateway, auth_mode):
    phones = ("13800000001", "13800000002", "13800000001")
    results = gateway.client(auth_mode=auth_mode).send_same(messages(*phones), "您好【测试】")
    assert [r.custom_id for r in results] == ["c0", "c1", "c2"]
    assert all(r.accepted for r in results)
    assert accepted(gateway) == [(r.phone, "您好【测试】", r.vendor_message_id) for r in results]
    assert len({r.vendor_message_id for r in results}) == 3
    assert gateway.state.account("actiongw", ACCOUNT).balance == 10_000_000 - 3


def test_send_personalised(gateway):
    batch = [
        OutgoingMessage("a", "13800000001", "验证码#1234"),
        OutgoingMessage("b", "13800000002", "你好 B"),
    ]
    results = gateway.client().send_personalised(batch)
    assert [(r.custom_id, r.accepted) for r in results] == [("a", True), ("b", True)]
    assert accepted(gateway) == [
        ("13800000001", "验证码#1234", results[0].vendor_message_id),
        ("13800000002", "你好 B", results[1].vendor_message_id),
    ]


def test_reports_by_polling(gateway):
    outcomes = {
        "13800000001": "delivered",
        "13800000002": "expired",
        "13800000003": "rejected",
        "13800000004": "undelivered",
    }
    gateway.state.phone_outcomes = outcomes
    gateway.state.enforce_poll_interval = False
    client = gateway.client()
    results = client.send_same(messages(*outcomes), "hi")
    gateway.state.tick()
    polled = client.poll_reports()
    assert {e.vendor_message_id: (e.phone, e.status, e.vendor_code) for e in polled.items} == {
        r.vendor_message_id: (r.phone, outcomes[r.phone], code)
        for r, code in zip(results, ["DELIVRD", "EXPIRED", "REJECTED", "DELETED"], strict=True)
    }
    assert all(e.done_at and e.done_at.tzinfo for e in polled.items)
    assert not polled.more_waiting
    assert client.poll_reports().items == []


def test_bad_number_is_reported_ma0021(gateway):
    """The document has no submit-time code for a malformed number: it shows in the report."""
    gateway.state.enforce_poll_interval = False
    client = gateway.client()
    [result] = client.send_same(messages("12345"), "hi")
    assert result.accepted
    gateway.state.tick()
    [event] = client.poll_reports().items
    assert (event.vendor_message_id, event.status, event.vendor_code, event.description_zh) == (
        result.vendor_message_id,
        "rejected",
        "MA:0021",
        "号码格式错误",
    )


def test_reports_without_ids_by_polling(gateway):
    """The engine's reports_without_ids: ``mid`` empty, the phone and the status kept."""
    gateway.configure(reports_without_ids=True, phone_outcomes={"13800000002": "expired"})
    gateway.state.enforce_poll_interval = False
    client = gateway.client()
    client.send_same(messages("13800000001", "13800000002"), "hi")
    gateway.state.tick()
    polled = client.poll_reports()
    assert sorted((e.vendor_message_id, e.custom_id, e.phone, e.status) for e in polled.items) == [
        ("", "", "13800000001", "delivered"),
        ("", "", "13800000002", "expired"),
    ]
    assert all(json.loads(e.raw)["mid"] == "" for e in polled.items)


def test_report_item_without_mid_is_kept():
    body = json.dumps(
        {
            "status": "0",
            "list": [
                {"flag": 1, "mid": "", "mobile": "13800000001", "stat": "DELIVRD"},
                {"flag": 1, "mobile": "13800000002", "stat": "EXPIRED"},
            ],
        }
    ).encode()
    events = replay_client(body).poll_reports().items
    assert [(e.vendor_message_id, e.phone, e.status) for e in events] == [
        ("", "13800000001", "delivered"),
        ("", "13800000002", "expired"),
    ]


def test_mo_by_polling(gateway):
    gateway.inject_reply(
        vendor="actiongw",
        account_id=ACCOUNT,
        phone="13800000009",
        content="退订 TD",
        extension=EXTNO + "01",
    )
    [reply] = gateway.client().poll_mo().items
    assert (reply.phone, reply.content, reply.extension) == ("13800000009", "退订 TD", EXTNO + "01")
    assert reply.received_at.tzinfo is not None
    assert abs((dt.datetime.now(CHINA) - reply.received_at).total_seconds()) < 60


def test_balance_is_decremented(gateway):
    client = gateway.client()
    before = client.balance()
    client.send_same(messages("13800000001"), "一条")
    after = client.balance()
    assert before.amount - after.amount == Decimal("0.05")
    assert before.details["chargeType"] == "PRECHARGE"


def test_polling_too_often_is_rate_limited(gateway):
    client = gateway.client()
    client.poll_reports()
    with pytest.raises(RateLimited) as caught:
        client.poll_reports()
    assert caught.value.code == "21" and caught.value.description_zh == "连接过多"
    client.poll_mo()  # each kind of poll has its own interval


class PushReceiver(ThreadingHTTPServer):
    """A tiny portal receiver: parses each push with parse_push and answers as it says."""

    def __init__(self):
        self.outcomes = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = PushRequest("POST", {}, body, self.headers["Content-Type"])
                outcome = parse_push(request, AccountConfig("", ACCOUNT, SECRET))
                receiver.outcomes.append(outcome)
                reply = outcome.reply_body.encode()
                self.send_response(outcome.reply_status)
                self.send_header("Content-Type", outcome.reply_content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/push/actiongw"


def test_pushes_reach_the_receiver_and_are_acknowledged(sim):
    receiver = PushReceiver()
    try:
        sim.add_account(
            vendor="actiongw",
            account_id=ACCOUNT,
            secret=SECRET,
            extension=EXTNO,
            push_url=receiver.url,
        )
        config = AccountConfig(sim.url("actiongw"), ACCOUNT, SECRET, extension=EXTNO)
        [result] = ActionGwClient(config).send_same(messages("13800000001"), "hi")
        sim.inject_reply(
            vendor="actiongw",
            account_id=ACCOUNT,
            phone="13800000002",
            content="好的",
            extension=EXTNO,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(receiver.outcomes) < 2:
            sim.server.push_once()
            time.sleep(0.02)
        reports = [r for o in receiver.outcomes for r in o.reports]
        replies = [r for o in receiver.outcomes for r in o.replies]
        assert [(r.vendor_message_id, r.phone) for r in reports] == [
            (result.vendor_message_id, "13800000001")
        ]
        assert [(r.phone, r.content, r.extension) for r in replies] == [
            ("13800000002", "好的", EXTNO)
        ]
        pushes = [p for p in sim.state.pushed_reports if p["vendor"] == "actiongw"]
        assert len(pushes) == 2 and all(p["acknowledged"] for p in pushes)
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_report_pushes_without_ids(sim):
    receiver = PushReceiver()
    try:
        sim.add_account(
            vendor="actiongw",
            account_id=ACCOUNT,
            secret=SECRET,
            extension=EXTNO,
            push_url=receiver.url,
        )
        sim.configure(reports_without_ids=True)
        config = AccountConfig(sim.url("actiongw"), ACCOUNT, SECRET, extension=EXTNO)
        ActionGwClient(config).send_same(messages("13800000001"), "hi")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not receiver.outcomes:
            sim.server.push_once()
            time.sleep(0.02)
        [report] = [r for o in receiver.outcomes for r in o.reports]
        assert (report.vendor_message_id, report.phone, report.status) == (
            "",
            "13800000001",
            "delivered",
        )
        assert all(not o.errors for o in receiver.outcomes)
    finally:
        receiver.shutdown()
        receiver.server_close()


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"action": "report", "size": "5"}, "1"),  # below the documented minimum of 10
        ({"action": "mo", "szie": "1001"}, "1"),  # above the MO maximum of 1000
        ({"action": "mo", "szie": "10"}, "0"),  # the table's spelling is taken too
        ({"action": "balance", "rt": "xml"}, "1"),
        ({"action": "balance", "password": "wrong"}, "3"),
        ({"action": "send", "mobile": "13800000001", "content": "hi"}, "1"),  # no extno
        ({"action": "p2p", "mobileContentList": "13800000001 no hash", "extno": EXTNO}, "1"),
    ],
)
def test_simulator_refuses_what_the_document_forbids(gateway, fields, status):
    params = {"account": ACCOUNT, "password": SECRET, "rt": "json", **fields}
    reply = requests.get(gateway.url("actiongw") + "/sms", params=params, timeout=5)
    assert str(reply.json()["status"]) == status


def test_simulator_refuses_content_not_in_utf8(gateway):
    body = "action=send&account={}&password={}&mobile=13800000001&extno={}&rt=json&content={}"
    body = body.format(ACCOUNT, SECRET, EXTNO, quote("您好".encode("gbk")))
    reply = requests.post(
        gateway.url("actiongw") + "/sms",
        data=body,
        timeout=5,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.json()["status"] == "1"
    assert gateway.accepted(vendor="actiongw") == []


# --------------------------------------------------------------------------- typed errors


def test_wrong_password(gateway):
    with pytest.raises(VendorAuthError) as caught:
        gateway.client(secret="wrong").send_same(messages("13800000001"), "hi")
    assert caught.value.code == "3" and caught.value.description_zh == "账号密码不正确"
    assert gateway.accepted(vendor="actiongw") == []


def test_auth_error_answer(gateway):
    gateway.misbehave("actiongw", "auth_error")
    with pytest.raises(VendorAuthError):
        gateway.client().balance()


def test_insufficient_balance(gateway):
    gateway.add_account(
        vendor="actiongw", account_id=ACCOUNT, secret=SECRET, extension=EXTNO, balance=1
    )
    client = gateway.client()
    # One part left: the first number is taken, the second refused with RESULT 15.
    results = client.send_same(messages("13800000001", "13800000002"), "hi")
    assert [(r.accepted, r.error_code, r.error_kind) for r in results] == [
        (True, "", ""),
        (False, "15", "balance"),
    ]
    with pytest.raises(InsufficientBalance) as caught:
        client.send_same(messages("13800000003"), "hi")
    assert caught.value.code == "15" and caught.value.description_zh == "余额不足"


@pytest.mark.parametrize("shape", ["send", "p2p"])
def test_balance_runs_out_inside_one_request(gateway, shape):
    """Five parts left and two-part messages: the first two numbers are taken, the rest get
    RESULT 15 — accepted for the first ones, "balance" (pause the campaign) for the others."""
    gateway.add_account(
        vendor="actiongw", account_id=ACCOUNT, secret=SECRET, extension=EXTNO, balance=5
    )
    phones = [f"1380000000{i}" for i in range(1, 6)]
    content = "长" * 100  # 2 parts of 67
    batch = messages(*phones, content=content)
    client = gateway.client()
    if shape == "send":
        results = client.send_same(batch, content)
    else:
        results = client.send_personalised(batch)
    assert [(r.custom_id, r.accepted, r.error_code, r.error_kind) for r in results] == [
        ("c0", True, "", ""),
        ("c1", True, "", ""),
        ("c2", False, "15", "balance"),
        ("c3", False, "15", "balance"),
        ("c4", False, "15", "balance"),
    ]
    assert [decide(r).disposition for r in results] == [Disposition.SUBMITTED] * 2 + [
        Disposition.PAUSE
    ] * 3
    assert [m[0] for m in accepted(gateway)] == phones[:2]
    assert gateway.state.account("actiongw", ACCOUNT).balance == 1


def test_no_balance_answer(gateway):
    gateway.misbehave("actiongw", "no_balance")
    with pytest.raises(InsufficientBalance):
        gateway.client().send_personalised(messages("13800000001", "13800000002", content="x"))
    assert gateway.accepted(vendor="actiongw") == []


def test_rate_limit_answer(gateway):
    gateway.misbehave("actiongw", "rate_limit")
    with pytest.raises(RateLimited) as caught:
        gateway.client().send_same(messages("13800000001"), "hi")
    assert caught.value.code == "21"


def test_content_without_the_registered_signature(gateway):
    """RESULT 17 on every number: the account's signature must be fixed (section 10)."""
    gateway.add_account(
        vendor="actiongw",
        account_id=ACCOUNT,
        secret=SECRET,
        extension=EXTNO,
        options={"signature": "【测试】"},
    )
    client = gateway.client()
    with pytest.raises(AccountProblem) as caught:
        client.send_same(messages("13800000001", "13800000002"), "您好")
    assert (caught.value.kind, caught.value.code) == ("account", "17")
    assert caught.value.description_zh == "账号签名无效"
    assert decide(caught.value).disposition == Disposition.PAUSE
    assert client.send_same(messages("13800000001"), "【测试】您好")[0].accepted


def test_signature_missing_from_some_p2p_contents(gateway):
    gateway.add_account(
        vendor="actiongw",
        account_id=ACCOUNT,
        secret=SECRET,
        extension=EXTNO,
        options={"signature": "【测试】"},
    )
    batch = [
        OutgoingMessage("a", "13800000001", "【测试】您好"),
        OutgoingMessage("b", "13800000002", "您好"),
    ]
    results = gateway.client().send_personalised(batch)
    assert [(r.accepted, r.error_code, r.error_kind) for r in results] == [
        (True, "", ""),
        (False, "17", "account"),
    ]


def test_wrong_extno(gateway):
    """RESULT 10 on every number: the account's sender number must be fixed."""
    with pytest.raises(AccountProblem) as caught:
        gateway.client(extension="106999").send_same(messages("13800000001"), "hi")
    assert (caught.value.kind, caught.value.code) == ("account", "10")
    assert decide(caught.value).disposition == Disposition.PAUSE
    assert gateway.accepted(vendor="actiongw") == []


@pytest.mark.parametrize(
    ("reason", "code", "kind"),
    [
        ("bad_sender", "10", "account"),
        ("bad_signature", "17", "account"),
        ("no_balance", "15", "balance"),
        ("99", "99", "vendor_error"),  # a code outside the RESULT table
    ],
)
@pytest.mark.parametrize("shape", ["send", "p2p"])
def test_numbers_refused_with_their_result_code(gateway, shape, reason, code, kind):
    """The engine's phone_refusals, set through the control API, answered per number."""
    gateway.configure(phone_refusals={"13800000002": reason})
    batch = messages("13800000001", "13800000002", "13800000003", content="hi")
    client = gateway.client()
    results = client.send_same(batch, "hi") if shape == "send" else client.send_personalised(batch)
    assert [(r.accepted, r.error_code, r.error_kind) for r in results] == [
        (True, "", ""),
        (False, code, kind),
        (True, "", ""),
    ]
    assert [m[0] for m in accepted(gateway)] == ["13800000001", "13800000003"]
    # Every number refused alike: the whole request is refused with the typed error.
    if kind != "vendor_error":
        with pytest.raises(ERROR_KINDS[kind]) as caught:
            client.send_same(messages("13800000002"), "hi")
        assert caught.value.code == code


@pytest.mark.parametrize(
    ("reason", "stat", "status"),
    [("invalid_number", "MA:0021", "rejected"), ("content_rejected", "MA:0002", "rejected")],
)
def test_refusals_without_a_result_code_come_as_reports(gateway, reason, stat, status):
    """The RESULT table has no code for a bad number or bad content: accepted, then reported."""
    gateway.configure(phone_refusals={"13800000002": reason})
    gateway.state.enforce_poll_interval = False
    client = gateway.client()
    results = client.send_same(messages("13800000001", "13800000002"), "hi")
    assert all(r.accepted for r in results)
    gateway.state.tick()
    events = {e.phone: (e.status, e.vendor_code) for e in client.poll_reports().items}
    assert events["13800000002"] == (status, stat)


def test_p2p_with_line_breaks_over_http(gateway):
    """A p2p of 200 where one content has a line break: 199 go, that one waits for a send."""
    batch = [OutgoingMessage(f"c{i}", f"138{i:08d}", f"第{i}条") for i in range(200)]
    batch[57] = OutgoingMessage("c57", batch[57].phone, "第一行\n第二行")
    client = gateway.client()
    results = client.send_personalised(batch)
    assert [r.custom_id for r in results] == [m.custom_id for m in batch]
    assert [r.error_kind for r in results if not r.accepted] == ["needs_single"]
    assert not results[57].accepted
    assert len(accepted(gateway)) == 199
    # The pipeline's send on its own carries the content, line break included.
    single = client.send_single(batch[57])
    assert single.accepted
    assert accepted(gateway)[-1] == (batch[57].phone, "第一行\n第二行", single.vendor_message_id)


def test_simulator_refuses_a_line_break_inside_a_p2p_line(gateway):
    """A line break starts a new Mobile#Content line; one without "#" is a malformed packet."""
    params = {
        "action": "p2p",
        "account": ACCOUNT,
        "password": SECRET,
        "extno": EXTNO,
        "rt": "json",
        "mobileContentList": "13800000001#第一行\n第二行\r13800000002#好\r",
    }
    reply = requests.post(gateway.url("actiongw") + "/sms", data=params, timeout=5)
    assert reply.json()["status"] == "1"
    assert gateway.accepted(vendor="actiongw") == []


def test_p2p_list_of_the_documents_table_is_taken(gateway):
    """The table's example separates lines with LF (换行), the URL example with CR."""
    table = sample("p2p_list_table_example.txt").decode()
    lines = "\n".join(line for line in table.splitlines() if "#" in line and line[0].isdigit())
    params = {
        "action": "p2p",
        "account": ACCOUNT,
        "password": SECRET,
        "extno": EXTNO,
        "rt": "json",
        "mobileContentList": lines,
    }
    reply = requests.post(gateway.url("actiongw") + "/sms", data=params, timeout=5).json()
    assert [item["result"] for item in reply["list"]] == [0, 0, 0, 0]
    assert [(m[0], m[1]) for m in accepted(gateway)] == [
        (f"1380000000{i}", f"下发内容{i}") for i in range(1, 5)
    ]


def test_too_many_numbers(gateway):
    phones = [f"138{i:08d}" for i in range(501)]
    with pytest.raises(InvalidRequest) as caught:
        gateway.client().send_same(messages(*phones), "hi")
    assert caught.value.code == "102"
    assert len(gateway.client().send_same(messages(*phones[:500]), "hi")) == 500


def test_garbage_reply(gateway):
    gateway.misbehave("actiongw", "garbage")
    with pytest.raises(UnexpectedReply) as caught:
        gateway.client().send_same(messages("13800000001"), "hi")
    assert "not what the document shows" in caught.value.raw


def test_server_error_is_ambiguous(gateway):
    gateway.misbehave("actiongw", "error")
    with pytest.raises(AmbiguousOutcome) as caught:
        gateway.client().send_same(messages("13800000001"), "hi")
    assert caught.value.code == "500"


def test_unavailable_is_transient(gateway):
    gateway.misbehave("actiongw", "unavailable")
    with pytest.raises(TransientError):
        gateway.client().send_same(messages("13800000001"), "hi")


def test_accept_then_drop_is_ambiguous(gateway):
    gateway.misbehave("actiongw", "accept_then_drop")
    with pytest.raises(AmbiguousOutcome):
        gateway.client().send_same(messages("13800000001"), "hi")
    assert len(gateway.accepted(vendor="actiongw")) == 1


def test_connection_refused_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = AccountConfig(f"http://127.0.0.1:{port}/actiongw", ACCOUNT, SECRET)
    with pytest.raises(TransientError):
        ActionGwClient(config).send_same(messages("13800000001"), "hi")


def test_vendor_export():
    assert VENDOR.key == "actiongw"
    assert VENDOR.client is ActionGwClient and VENDOR.simulator is ActionGwSimulator
    assert VENDOR.parse_push is parse_push
    assert VENDOR.capabilities.max_numbers_per_request == 500
    assert VENDOR.capabilities.pushes == {"report", "mo"}
