"""montnets: pushes, parsed and received."""

import json
from datetime import datetime
from urllib.parse import quote

import pytest

from messaging.statuses import Status
from messaging.vendors.base import (
    AccountConfig,
    OutgoingMessage,
    PushRejected,
    PushRequest,
)
from messaging.vendors.montnets.client import (
    CHINA,
    MontnetsClient,
    password_digest,
)
from messaging.vendors.montnets.push import parse_push
from messaging.vendors.montnets.simulator import MontnetsSimulator
from tests.harness.push import post_push
from tests.harness.samples import sample
from tests.harness.waiting import eventually

from .support import (
    DOC_ACCOUNT,
    DOC_PASSWORD,
    DOC_USERID,
    KEY,
    fake_response,
    form_push_body,
    reply_with,
)


def test_push_sample_parses_and_is_answered_like_the_sample():
    request = PushRequest("POST", {}, sample(KEY, "rpt_push_request_json.txt"), "application/json")
    outcome = parse_push(request, DOC_ACCOUNT)
    assert outcome.errors == []
    assert [r.vendor_message_id for r in outcome.reports] == [
        "9223372045854775808",
        "9223372045854875808",
    ]
    assert all(r.status == Status.DELIVERED for r in outcome.reports)
    assert outcome.reports[0].done_at == datetime(2016, 8, 4, 17, 38, 59, tzinfo=CHINA)
    assert json.loads(outcome.reply_body) == json.loads(
        sample(KEY, "rpt_push_reply_success_json.txt")
    )
    assert outcome.reply_content_type == "application/json"


def test_push_reply_samples_are_judged_like_the_gateway():
    simulator = MontnetsSimulator(state=None)
    call = type("Call", (), {"body": sample(KEY, "rpt_push_request_json.txt")})()
    assert simulator.push_acknowledged(
        call, fake_response(sample(KEY, "rpt_push_reply_success_json.txt"))
    )
    assert not simulator.push_acknowledged(
        call, fake_response(sample(KEY, "rpt_push_reply_failure_json.txt"))
    )
    assert not simulator.push_acknowledged(call, fake_response(b"OK"))
    other_seqid = b'{"cmd":"RPT_RESP","seqid":1005,"result":0}'
    assert not simulator.push_acknowledged(call, fake_response(other_seqid))


def test_report_push_to_a_receiver(sim, receiver):
    sim.add_account(vendor="montnets", account_id="P20001", secret="s3cret", push_url=receiver.url)
    receiver.config = AccountConfig(
        base_url=sim.url("montnets"), account_id="P20001", secret="s3cret"
    )
    client = MontnetsClient(receiver.config)
    sim.state.phone_outcomes["85292041234"] = "expired"
    result = client.send_single(OutgoingMessage("c1", "85292041234", "hi"))
    sim.server.push_once()
    assert eventually(lambda: receiver.outcomes, timeout=3.0)
    (report,) = receiver.outcomes[0].reports
    assert (report.vendor_message_id, report.status, report.custom_id) == (
        result.vendor_message_id,
        Status.EXPIRED,
        "c1",
    )
    assert eventually(lambda: sim.state.pushed_reports, timeout=3.0)
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
    assert eventually(lambda: sim.state.pushed_reports, timeout=3.0)
    first = sim.state.pushed_reports[0]
    assert (first["status"], first["acknowledged"]) == (403, False)
    assert receiver.outcomes == []
    sim.state.account("montnets", "P20001").push_url = ""  # stop the retries
    # The refused report went back to the queue for a retry.
    assert eventually(
        lambda: len(sim.state.ready_reports[("montnets", "P20001")]) == 1, timeout=3.0
    )


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


def test_pushes_carry_every_part_and_at_most_500_reports(sim, receiver):
    sim.add_account(vendor="montnets", account_id="P20001", secret="s3cret", push_url=receiver.url)
    receiver.config = AccountConfig(
        base_url=sim.url("montnets"), account_id="P20001", secret="s3cret"
    )
    client = MontnetsClient(receiver.config)
    result = client.send_single(OutgoingMessage("c1", "13800000001", "长" * 150))
    sim.server.push_once()
    assert eventually(lambda: receiver.outcomes, timeout=3.0)
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
    assert json.loads(outcome.reply_body) == json.loads(
        sample(KEY, "rpt_push_reply_success_json.txt")
    )
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
    body = sample(KEY, "rpt_push_request_json.txt").replace(b"}\n]}", b"},\n],\n}")
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
    assert eventually(lambda: receiver.outcomes, timeout=3.0)
    (report,) = receiver.outcomes[0].reports
    assert (report.vendor_message_id, report.status, report.phone) == (
        result.vendor_message_id,
        Status.UNDELIVERED,
        "13800000001",
    )
    assert report.description_en == "Undeliverable"
    assert eventually(lambda: sim.state.pushed_reports, timeout=3.0)
    assert sim.state.pushed_reports[0]["acknowledged"] is True


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
    response = post_push(client_django, acct, form_push_body())
    assert response.status_code == 200
    assert json.loads(response.content) == {"cmd": "RPT_RESP", "seqid": 1004, "result": 0}
    assert DeliveryReport.objects.filter(vendor_account=acct).count() == 2
