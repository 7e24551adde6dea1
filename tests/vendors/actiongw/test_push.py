"""actiongw: pushes, parsed and received."""

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from messaging.vendors.actiongw.client import ActionGwClient
from messaging.vendors.actiongw.push import parse_push
from messaging.vendors.actiongw.simulator import ActionGwSimulator
from messaging.vendors.base import (
    AccountConfig,
    PushRejected,
)
from messaging.vendors.simulator import PushCall
from tests.harness.push import PushReceiver
from tests.harness.samples import sample
from tests.harness.waiting import eventually

from .support import (
    ACCOUNT,
    CHINA,
    EXTNO,
    KEY,
    SAMPLE_TIME,
    SECRET,
    messages,
    push,
)


def test_push_sample_and_its_answer():
    request = push(sample(KEY, "push_request.json"))
    outcome = parse_push(request, AccountConfig("http://gw.test", ACCOUNT, SECRET))
    assert outcome.reply_body == sample(KEY, "push_reply.txt").decode() == "OK"
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


def test_pushes_reach_the_receiver_and_are_acknowledged(sim):
    with PushReceiver(KEY, AccountConfig("", ACCOUNT, SECRET)) as receiver:
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

        def sim_pushes():
            return [p for p in sim.state.pushed_reports if p["vendor"] == "actiongw"]

        def pushed_both():
            sim.server.push_once()
            # The simulator records a push once it has read the receiver's answer, a moment
            # after the receiver has taken it: wait for both sides.
            return len(receiver.outcomes) >= 2 and len(sim_pushes()) >= 2

        eventually(pushed_both)
        reports = [r for o in receiver.outcomes for r in o.reports]
        replies = [r for o in receiver.outcomes for r in o.replies]
        assert [(r.vendor_message_id, r.phone) for r in reports] == [
            (result.vendor_message_id, "13800000001")
        ]
        assert [(r.phone, r.content, r.extension) for r in replies] == [
            ("13800000002", "好的", EXTNO)
        ]
        pushes = sim_pushes()
        assert len(pushes) == 2 and all(p["acknowledged"] for p in pushes)


def test_report_pushes_without_ids(sim):
    with PushReceiver(KEY, AccountConfig("", ACCOUNT, SECRET)) as receiver:
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

        def pushed():
            sim.server.push_once()
            return receiver.outcomes

        eventually(pushed)
        [report] = [r for o in receiver.outcomes for r in o.reports]
        assert (report.vendor_message_id, report.phone, report.status) == (
            "",
            "13800000001",
            "delivered",
        )
        assert all(not o.errors for o in receiver.outcomes)
