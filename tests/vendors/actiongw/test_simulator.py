"""actiongw: the client against the simulator over real HTTP."""

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import quote

import pytest
import requests

from messaging.services.outcomes import Disposition, decide
from messaging.vendors.base import (
    ERROR_KINDS,
    AccountProblem,
    AmbiguousOutcome,
    InsufficientBalance,
    InvalidRequest,
    OutgoingMessage,
    RateLimited,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
)
from tests.harness.samples import sample

from .support import (
    ACCOUNT,
    CHINA,
    EXTNO,
    KEY,
    SECRET,
    accepted,
    messages,
)

pytestmark = pytest.mark.e2e


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
    table = sample(KEY, "p2p_list_table_example.txt").decode()
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
