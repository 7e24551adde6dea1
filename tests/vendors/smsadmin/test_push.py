"""smsadmin: pushes, parsed and received."""

from urllib.parse import parse_qsl, quote

import pytest

from messaging.vendors.base import (
    AccountConfig,
    PushRejected,
    PushRequest,
)
from messaging.vendors.smsadmin.client import CHINA
from messaging.vendors.smsadmin.push import parse_push
from tests.harness.waiting import eventually

from .support import (
    ACCOUNT,
    CONTENT,
    FORM,
    SECRET,
    client_for,
    outgoing,
    push_from_sample,
)


def test_rpt_push_sample_as_query_string():
    query = dict(parse_qsl(push_from_sample("push_rpt_example.txt")))
    outcome = parse_push(PushRequest("POST", query, b""), AccountConfig("http://x", "ID", "pw"))
    (report,) = outcome.reports
    assert (report.status, report.vendor_code, report.phone) == (
        "delivered",
        "DELIVRD",
        "138xxxxxxx",
    )
    assert (report.vendor_message_id, report.batch_id) == ("123456789:138xxxxxxx", "123456789")
    assert outcome.reply_body == "" and not outcome.errors


def test_push_checks():
    config = AccountConfig("http://x", ACCOUNT, SECRET)

    def push(body: str) -> PushRequest:
        return PushRequest("POST", {}, body.encode("gb2312"), FORM)

    with pytest.raises(PushRejected) as caught:
        parse_push(push("Class=rpt&SmsName=other&Mobile=13800138000&Report=DELIVRD"), config)
    assert caught.value.status == 403
    with pytest.raises(PushRejected) as caught:
        parse_push(push("Class=rpt&Mobile=13800138000&Report=DELIVRD"), config)
    assert caught.value.status == 401
    with pytest.raises(PushRejected) as caught:
        parse_push(PushRequest("POST", {}, b"\xff\xfe<html>{{"), config)
    assert caught.value.status == 400
    uid = quote(ACCOUNT, encoding="gb2312")
    outcome = parse_push(push(f"Class=rpt&SmsName={uid}&Report=DELIVRD"), config)
    assert outcome.reports == [] and "without Mobile" in outcome.errors[0]
    # Raw (unescaped) GB2312 bytes in the form are read too.
    raw = (
        f"Class=mo&SmsName={ACCOUNT}&Mobile=13800138000&Message=你好 世界"
        "& RevertTime=2017-09-28 10:00:00"
    )
    outcome = parse_push(PushRequest("POST", {}, raw.encode("gb2312"), FORM), config)
    (reply,) = outcome.replies
    assert reply.content == "你好 世界"
    assert reply.received_at.isoformat() == "2017-09-28T10:00:00+08:00"  # " RevertTime" read


def test_report_and_reply_pushes(sim, receiver):
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    sim.state.phone_outcomes = {"13800138000": "delivered", "13800138001": "expired"}
    client = client_for(sim)
    sent = client.send_same(outgoing("13800138000", "13800138001"), CONTENT)
    sim.server.push_once()  # the gateway pushes one report per request
    sim.server.push_once()
    outcomes = receiver.wait(2)
    reports = {r.phone: r for outcome in outcomes for r in outcome.reports}
    assert {p: (r.status, r.vendor_message_id) for p, r in reports.items()} == {
        "13800138000": ("delivered", sent[0].vendor_message_id),
        "13800138001": ("expired", sent[1].vendor_message_id),
    }
    assert all(r.done_at.tzinfo == CHINA for r in reports.values())

    sim.inject_reply(
        vendor="smsadmin",
        account_id=ACCOUNT,
        phone="13800138000",
        content="好的 / 谢谢",
        extension="",
    )
    sim.server.push_once()
    (reply,) = receiver.wait(3)[2].replies
    assert (reply.phone, reply.content, reply.link_id) == (
        "13800138000",
        "好的 / 谢谢",
        sent[0].batch_id,
    )
    assert reply.received_at.tzinfo == CHINA
    # The background push loop may have made a push: its record lands after the answer.
    assert eventually(lambda: len(sim.state.pushed_reports) == 3)
    assert [p["acknowledged"] for p in sim.state.pushed_reports] == [True, True, True]


def test_report_push_without_linkid(sim, receiver):
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    sim.configure(reports_without_ids=True, outcome_weights={"delivered": 1.0})
    client_for(sim).send_same(outgoing("13800138000"), CONTENT)
    sim.server.push_once()
    (outcome,) = receiver.wait(1)[:1]
    (report,) = outcome.reports
    assert (report.vendor_message_id, report.batch_id, report.phone, report.status) == (
        "",
        "",
        "13800138000",
        "delivered",
    )
    assert outcome.errors == []


def test_push_refused_by_receiver_is_not_acknowledged(sim, receiver):
    receiver.config = AccountConfig("http://unused", "someone-else", SECRET)
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    client_for(sim).send_same(outgoing("13800138000"), CONTENT)
    sim.server.push_once()
    (refused,) = receiver.wait(1)[:1]
    assert isinstance(refused, PushRejected) and refused.status == 403
    assert eventually(lambda: sim.state.pushed_reports)
    assert sim.state.pushed_reports[0]["acknowledged"] is False
