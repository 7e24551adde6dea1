"""smscn: pushes, parsed and received."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import pytest

from messaging.vendors.base import (
    AccountConfig,
    PushRejected,
    PushRequest,
)
from messaging.vendors.simulator import SimAccount, SimReply
from messaging.vendors.smscn import VENDOR
from messaging.vendors.smscn.push import parse_push
from messaging.vendors.smscn.simulator import SmscnSimulator, mo_push
from tests.harness.samples import sample_text

from .support import (
    CHINA,
    KEY,
    PASSWORD,
    UID,
)


def test_reports_are_polled_never_pushed():
    """The document's only push (6.2) is for replies: reports must be polled (/st/)."""
    assert VENDOR.capabilities.pushes == frozenset({"mo"})
    assert VENDOR.capabilities.poll_reports and VENDOR.capabilities.poll_mo
    assert SmscnSimulator(state=None).report_push(None, []) is None


def test_push_sample_is_a_template_with_placeholders():
    # The document's push URL carries placeholders, not values: read through the receiver's
    # GBK-decoded query, it authenticates by uid but its "接收号码" is no phone number.
    split = urlsplit(sample_text(KEY, "mo_push_request.txt").strip())
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
