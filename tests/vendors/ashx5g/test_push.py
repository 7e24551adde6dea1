"""ashx5g: pushes, parsed and received."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from messaging.vendors.ashx5g.push import parse_push
from messaging.vendors.base import (
    AccountConfig,
    PushRejected,
    TemplateFrame,
)
from tests.harness.samples import sample

from .support import (
    ACCOUNT,
    KEY,
    SECRET,
    messages,
    push,
    sim_client,
)


def test_report_push_sample():
    outcome = parse_push(push(sample(KEY, "report_push.json")), AccountConfig("", "123456", ""))
    assert outcome.errors == []
    assert [(r.vendor_message_id, r.status) for r in outcome.reports] == [
        ("50821410000350644", "undelivered"),
        ("50821410000350645", "delivered"),
        ("50821410000350646", "undelivered"),
    ]
    assert (outcome.reply_body, outcome.reply_status) == ("0", 200)


def test_reports_and_replies_are_pushed(sim, receiver):
    sim.add_account(vendor=KEY, account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    client = sim_client(sim)
    results = client.send_same(messages("13800000001", "13800000002", "13800000003"), "x")
    sim.inject_reply(vendor=KEY, account_id=ACCOUNT, phone="13800000009", content="收到")
    sim.server.push_once()
    reports = receiver.wait_for("reports", 3)
    assert {r.vendor_message_id for r in reports} == {r.vendor_message_id for r in results}
    (reply,) = receiver.wait_for("replies", 1)
    assert (reply.phone, reply.content) == ("13800000009", "收到")
    assert all(p["acknowledged"] for p in sim.state.pushed_reports)


def test_push_shapes_single_get_and_multiple_post(sim, receiver):
    sim.add_account(vendor=KEY, account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    sim.state.report_delay_s = 60  # keep the background push loop away from these reports
    account = sim.state.account(KEY, ACCOUNT)
    simulator = sim.server.simulators[KEY]
    sent = [
        sim.state.accept(
            account,
            phone=f"1380000000{i}",
            content="x",
            vendor_message_id=f"9{i}",
            custom_id=f"c{i}",
        )
        for i in (1, 2)
    ]
    single = simulator.report_push(account, sent[:1])
    assert (single.method, single.body, single.params["seq"]) == ("GET", b"", "91")
    several = simulator.report_push(account, sent)
    assert several.method == "POST" and json.loads(several.body)[1]["seq"] == "92"
    for call in (single, several):
        assert simulator.push_acknowledged(call, call.send())
    reports = receiver.wait_for("reports", 3)
    assert [(r.vendor_message_id, r.custom_id) for r in reports] == [
        ("91", "c1"),
        ("91", "c1"),
        ("92", "c2"),
    ]


def test_push_acknowledgement_rules(sim, client):
    simulator = sim.server.simulators[KEY]
    template_id = client.upload_template(
        title="t",
        signature="",
        has_variables=False,
        frames=[TemplateFrame(1, 1, "text/plain", b"hi")],
    ).vendor_template_id
    assert simulator.template_review_push(template_id, approved=True) is None  # no push_url
    sim.state.vendor_state[KEY]["templates"][template_id]["push_url"] = "http://receiver/"
    review = simulator.template_review_push(template_id, approved=True)
    # A review push must be answered "0" (5.2); for reports any HTTP 200 is receipt.
    assert simulator.push_acknowledged(review, SimpleNamespace(status_code=200, text="0"))
    assert not simulator.push_acknowledged(review, SimpleNamespace(status_code=200, text="1"))
    account = sim.state.account(KEY, ACCOUNT)
    message = sim.state.accept(account, phone="13800000001", content="x", vendor_message_id="1")
    report = simulator.report_push(account, [message])
    assert simulator.push_acknowledged(report, SimpleNamespace(status_code=200, text=""))
    assert not simulator.push_acknowledged(report, SimpleNamespace(status_code=500, text="0"))


def test_push_with_one_bad_item_keeps_the_good_ones():
    good = json.loads(sample(KEY, "report_push.json").decode().replace('{uid"', '{"uid"'))[0]
    body = json.dumps([good, {"uid": "2", "seq": ""}, "text"], ensure_ascii=False).encode()
    outcome = parse_push(push(body), AccountConfig("", "", ""))
    assert [r.vendor_message_id for r in outcome.reports] == ["50821410000350644"]
    assert len(outcome.errors) == 2


def test_pushed_items_keep_their_text_as_sent():
    body = (
        ' [ {"uid":"2", "seq":"501", "sc":"DELIVRD", "sc_chn":"\\u6210\\u529f", "pn":"1"} ,\n'
        '{"uid":"2","seq":"502","sc":"UNDELIV","sc_chn":"失败"}]\n'
    )
    outcome = parse_push(push(body.encode()), AccountConfig("", "", ""))
    assert outcome.errors == []
    assert [r.raw for r in outcome.reports] == [
        '{"uid":"2", "seq":"501", "sc":"DELIVRD", "sc_chn":"\\u6210\\u529f", "pn":"1"}',
        '{"uid":"2","seq":"502","sc":"UNDELIV","sc_chn":"失败"}',
    ]
    assert outcome.reports[0].description_zh == "成功"
    # Trailing data is not a well-formed array: every readable item is still kept.
    outcome = parse_push(push(body.encode() + b"]"), AccountConfig("", "", ""))
    assert [r.vendor_message_id for r in outcome.reports] == ["501", "502"]


def test_push_with_an_unreadable_item_keeps_the_readable_ones():
    report = sample(KEY, "report_push.json").decode()
    broken = report.replace('"seq":"50821410000350645"', '"seq":50821410000350645"')
    outcome = parse_push(push(broken.encode()), AccountConfig("", "", ""))
    assert [r.vendor_message_id for r in outcome.reports] == [
        "50821410000350644",
        "50821410000350646",
    ]
    assert len(outcome.errors) == 1


@pytest.mark.parametrize(
    "request_",
    [push(b"<html>oops</html>"), push(b"\xff\xfe{"), push(b"", method="GET"), push(b"42")],
)
def test_unreadable_push_is_rejected(request_):
    with pytest.raises(PushRejected) as rejected:
        parse_push(request_, AccountConfig("", "", ""))
    assert rejected.value.status == 400


def test_expired_report_pushed_alone_by_get():
    query = {"seq": "7", "pn": "13900030003", "sc": "EXPIRED", "sc_chn": "过期", "pid": "1"}
    outcome = parse_push(push(method="GET", query=query), AccountConfig("", "", ""))
    ((event,),) = [outcome.reports]
    assert (event.status, event.description_zh) == ("expired", "过期")
