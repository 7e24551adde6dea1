"""smscn: the client against the simulator over real HTTP."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import requests

from messaging.vendors.base import (
    AmbiguousOutcome,
    ContentRejected,
    InsufficientBalance,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    RateLimited,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
    VendorError,
)
from messaging.vendors.smscn.client import (
    SendRecords,
    sign,
)
from messaging.vendors.smscn.simulator import ACCESS_NUMBER
from tests.harness.samples import sample_text

from .support import (
    CHINA,
    KEY,
    PASSWORD,
    UID,
    gateway_account,
    make_client,
    messages,
    sample_url_fields,
)

pytestmark = pytest.mark.e2e


def test_sample_send_request_against_the_simulator(sim, client):
    # The sample URL as written (GET): its "1390000test" is refused with 112 号码错误.
    _, fields = sample_url_fields("mt_request_get.txt")
    query = sample_text(KEY, "mt_request_get.txt").strip().splitlines()[-1].split("?", 1)[1]
    response = requests.get(f"{sim.url('smscn')}/mt/?{query}", timeout=5)
    assert response.content.decode("gbk") == "sms&stat=112&message=号码错误"
    assert fields["mobile"].count(",") == 2
    assert sim.accepted(vendor="smscn") == []


def test_sample_numbers_and_id_are_accepted(sim, client):
    phones = re.search(r"如:([\d,]+)", sample_text(KEY, "mt_mobile_param_example.txt"))[1].split(
        ","
    )
    sample_id = re.search(r"如: (\d+);", sample_text(KEY, "mt_mobileids_param_example.txt"))[1]
    sent = [OutgoingMessage(sample_id, phones[0]), *messages(*phones[1:])]
    results = client.send_same(sent, "hello")
    assert [r.vendor_message_id for r in results] == [sample_id, "1", "2"]
    assert [m["phone"] for m in sim.accepted(vendor="smscn")] == phones  # PHS 021... included


def test_mm_sample_pwd_is_refused_by_the_simulator(sim, client):
    url = (
        sample_text(KEY, "mm_balance_request.txt")
        .strip()
        .replace("http://api.sms.cn", sim.url("smscn"))
    )
    assert requests.get(url, timeout=5).content.decode("gbk") == "sms&stat=101&message=验证失败"


def test_send_same_over_http(sim, client):
    before = gateway_account(sim).balance
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
    assert gateway_account(sim).balance == before - 3


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
    gateway_account(sim).balance = 500
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


def test_wrong_password_is_auth_error(sim, client):
    with pytest.raises(VendorAuthError) as caught:
        make_client(sim, secret="wrong").send_single(OutgoingMessage("1", "13900008888", "x"))
    assert caught.value.code == "101" and "验证失败" in caught.value.raw
    sim.misbehave("smscn", "auth_error")
    with pytest.raises(VendorAuthError):
        client.balance()


def test_balance_errors(sim, client):
    gateway_account(sim).balance = 1
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


def test_server_errors(sim, client):
    sim.misbehave("smscn", "error", remaining=1)
    with pytest.raises(AmbiguousOutcome) as caught:
        client.send_single(OutgoingMessage("1", "13900008888", "x"))
    assert caught.value.code == "500"
    sim.misbehave("smscn", "unavailable", remaining=1)
    with pytest.raises(TransientError):
        client.balance()


def test_accept_then_drop_is_ambiguous(sim, client):
    sim.misbehave("smscn", "accept_then_drop", remaining=1)
    with pytest.raises(AmbiguousOutcome) as caught:
        client.send_single(OutgoingMessage("5", "13900008888", "x"))
    assert not isinstance(caught.value, UnexpectedReply)
    assert [m["custom_id"] for m in sim.accepted(vendor="smscn")] == ["5"]
