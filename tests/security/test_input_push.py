"""Hostile pushes: a NUL, a lone surrogate, a time of year 1 or 9999 in one item never costs the
valid items beside it (vendors that never re-send would lose them), and never a 500.

PostgreSQL refuses NUL in text where SQLite stores it, so the queries are watched: nothing the
database cannot hold may reach one, on either."""

import datetime as dt
import json
from pathlib import Path
from unittest import mock
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.db import DataError
from django.test import Client

from messaging.models import DeliveryReport, InboundMessage, Message, PushRecord, VendorAccount
from messaging.services.pushes import clean_item
from messaging.statuses import Status
from messaging.vendors.base import InboundReply, StatusEvent

from .test_input_portal import unstorable_parameters

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"


def account(vendor: str, account_id: str, secret: str = "pw") -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=vendor,
        name=f"{vendor} push",
        base_url=f"http://127.0.0.1:9/{vendor}",
        account_id=account_id,
        secret=secret,
        signature="【测试商城】",
    )


def message(acct, vendor_id: str, phone: str) -> Message:
    return Message.objects.create(
        vendor_account=acct,
        phone=phone,
        content="x",
        custom_id=f"c-{vendor_id}"[:32],
        vendor_message_id=vendor_id,
        status=Status.SUBMITTED,
    )


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def stored_text() -> list[str]:
    texts = []
    for report in DeliveryReport.objects.all():
        texts += [report.phone, report.vendor_message_id, report.raw, report.description]
    for reply in InboundMessage.objects.all():
        texts += [reply.phone, reply.content, reply.raw, reply.extension]
    for record in PushRecord.objects.all():
        texts += [record.path, record.query, record.error, record.content_type]
    return texts


def assert_storable() -> None:
    assert not any("\x00" in t or any("\ud800" <= c <= "\udfff" for c in t) for t in stored_text())


# --------------------------------------------------------------------------- the URL


@pytest.mark.parametrize("token", ["x%00", "%00", "a%00b%00c"])
def test_a_nul_in_the_push_token_is_an_unknown_token(client, token):
    acct = account("actiongw", "922011")
    with unstorable_parameters() as found:
        unknown = client.post("/vendor/push/1/x%00/", data=b"[]", content_type="application/json")
        wrong = client.post(
            f"/vendor/push/{acct.pk}/{token}/", data=b"[]", content_type="application/json"
        )
    assert (unknown.status_code, wrong.status_code) == (404, 404)
    assert found == []
    assert PushRecord.objects.filter(outcome=PushRecord.Outcome.UNAUTHENTICATED).count() == 2
    assert_storable()


def test_a_nul_in_the_query_and_content_type_is_kept_without_it(client):
    acct = account("ashx5g", "123456")
    with unstorable_parameters() as found:
        response = client.get(
            f"{acct.push_path}?pn=13900030003&msg=%E5%A5%BD%00&ct=20240501100000%00",
            headers={"Content-Type": "text/plain\x00x"},
        )
    assert response.status_code == 200 and found == []
    (reply,) = InboundMessage.objects.all()
    assert reply.content == "好"
    assert_storable()


# --------------------------------------------------------------------------- actiongw


def test_actiongw_bad_items_beside_valid_ones(client):
    acct = account("actiongw", "922011")
    sent = message(acct, "4C36654382720006", "18983437011")
    items = json.loads((FIXTURES / "actiongw" / "push_request.json").read_bytes())
    garbage = [
        {
            "flag": 0,
            "mobile": "18983437020",
            "content": "退\u0000订",
            "time": "2024-05-01 10:00:00",
        },
        {
            "flag": 0,
            "mobile": "1898343\u00007021",
            "content": "\ud800",
            "time": "0001-01-01 00:00:00",
        },
        {"flag": 1, "mid": "\u0000", "mobile": "18983437022", "stat": "DELIVRD\u0000"},
        {
            "flag": 1,
            "mid": "m9",
            "mobile": "18983437023",
            "stat": "DELIVRD",
            "time": "9999-12-31 23:59:59",
        },
        {"flag": 0, "mobile": 10**40, "content": "big", "time": "2024-05-01 10:00:00"},
        {"flag": 1, "mid": 10**40, "mobile": "1" * 40, "stat": "X" * 500},
        "\u0000",
        None,
    ]
    body = json.dumps([garbage[0], items[0], *garbage[1:4], items[1], *garbage[4:]])
    with unstorable_parameters() as found:
        response = client.post(
            acct.push_path, data=body.encode("utf-8"), content_type="application/json"
        )
    assert (response.status_code, response.content) == (200, b"OK")
    assert found == []
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED  # the valid report, applied
    contents = set(InboundMessage.objects.values_list("content", flat=True))
    assert {"上行内容", "退订", "", "big"} <= contents  # the valid reply, and the cleaned ones
    opt_out = InboundMessage.objects.get(phone="18983437020")
    assert opt_out.is_opt_out  # "退\0订" is the keyword once the NUL is gone
    assert DeliveryReport.objects.filter(vendor_message_id="m9", done_at__isnull=True).exists()
    record = PushRecord.objects.get()
    assert record.outcome == PushRecord.Outcome.PARTIAL and "not a JSON object" in record.error
    assert_storable()


# --------------------------------------------------------------------------- ashx5g


def test_ashx5g_reports_with_a_nul_beside_valid_ones(client):
    acct = account("ashx5g", "123456")
    sent = message(acct, "50821410000350645", "13900030004")
    items = [
        {"seq": "s1\u0000", "pn": "13900030003\u0000", "sc": "DELIVRD", "st": "00010101000000"},
        {"seq": "50821410000350645", "pn": "13900030004", "sc": "DELIVRD", "st": "20200508214204"},
        {
            "seq": "s3",
            "pn": "139",
            "sc": "UNDELIV\u0000",
            "sc_chn": "\ud83d",
            "st": "99991231235959",
        },
    ]
    with unstorable_parameters() as found:
        response = client.post(
            acct.push_path, data=json.dumps(items), content_type="application/json"
        )
    assert (response.status_code, response.content) == (200, b"0")
    assert found == []
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
    assert DeliveryReport.objects.count() == 3
    assert_storable()


# --------------------------------------------------------------------------- montnets


def test_montnets_reports_with_a_nul_beside_valid_ones(client):
    acct = account("montnets", "J10003", secret="111111")
    sent = message(acct, "9223372045854775808", "13800000001")
    payload = json.loads((FIXTURES / "montnets" / "rpt_push_request_json.txt").read_text())
    valid = dict(payload["rpts"][0], pknum=1, pktotal=1)
    payload["rpts"] = [
        dict(valid, msgid="1\u0000", errdesc="\u0000\ud800"),
        valid,
        dict(valid, msgid=10**30, rtime="0001-01-01 00:00:00", pknum=10**9, pktotal=-5),
        dict(valid, msgid="77", rtime="9999-12-31 23:59:59", mobile="\u0000"),
    ]
    with unstorable_parameters() as found:
        response = client.post(
            acct.push_path, data=json.dumps(payload), content_type="application/json"
        )
    assert response.status_code == 200
    assert json.loads(response.content) == {"cmd": "RPT_RESP", "seqid": 1004, "result": 0}
    assert found == []
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
    # Each bad item is stored cleaned or named in the record: none is silently dropped.
    record = PushRecord.objects.get()
    assert DeliveryReport.objects.count() + record.error.count("\n") + 1 == 4
    assert_storable()


# --------------------------------------------------------------------------- one-item vendors


def test_smsadmin_reply_with_a_nul_is_kept_without_it(client):
    acct = account("smsadmin", "ID")
    content = quote("退订\x00", encoding="gb2312")
    with unstorable_parameters() as found:
        response = client.get(
            f"{acct.push_path}?Class=mo&SmsName=ID&Mobile=13802102102&Message={content}"
            "&RevertTime=0001-01-01%2000:00:00"
        )
    assert response.status_code == 200 and found == []
    (reply,) = InboundMessage.objects.all()
    assert reply.content == "退订" and reply.is_opt_out
    assert_storable()


def test_smscn_report_with_a_nul_is_kept_without_it(client):
    acct = account("smscn", "demo")
    with unstorable_parameters() as found:
        response = client.get(
            f"{acct.push_path}?cmd=res&uid=demo&mobile=13800000001&mobileids=m%001"
            "&status=DELIVRD%00&time=9999-12-31%2023:59:59"
        )
    assert (response.status_code, response.content) == (200, b"OK")
    assert found == []
    (report,) = DeliveryReport.objects.all()
    assert report.vendor_message_id == "m1"
    assert_storable()


# --------------------------------------------------------------------------- what is left


def test_an_item_the_database_refuses_costs_only_itself(client):
    """Whatever a cleaned item still carries that the database refuses (a DataError here, as
    PostgreSQL raises for a NUL): the push is stored item by item, the others are kept."""
    from messaging.services import replies

    acct = account("actiongw", "922011")
    real = replies.record_replies

    def refusing(account, replies):
        if any(r.content == "refused" for r in replies):
            raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return real(account, replies)

    items = [
        {"flag": 0, "mobile": "18983437010", "content": "一", "time": "2024-05-01 10:00:00"},
        {"flag": 0, "mobile": "18983437011", "content": "refused", "time": "2024-05-01 10:00:00"},
        {"flag": 1, "mid": "m1", "mobile": "18983437012", "stat": "DELIVRD"},
        {"flag": 0, "mobile": "18983437013", "content": "三", "time": "2024-05-01 10:00:00"},
    ]
    with mock.patch("messaging.services.pushes.record_replies", side_effect=refusing):
        response = client.post(
            acct.push_path, data=json.dumps(items), content_type="application/json"
        )
    assert (response.status_code, response.content) == (200, b"OK")
    assert sorted(InboundMessage.objects.values_list("content", flat=True)) == ["一", "三"]
    assert DeliveryReport.objects.filter(vendor_message_id="m1").exists()
    record = PushRecord.objects.get()
    assert record.outcome == PushRecord.Outcome.PARTIAL
    assert "not stored" in record.error and "refused" in record.error


def test_a_push_whose_only_item_the_database_refuses_is_asked_again(client):
    acct = account("actiongw", "922011")
    items = [{"flag": 0, "mobile": "18983437011", "content": "x", "time": "2024-05-01 10:00:00"}]
    with mock.patch("messaging.services.pushes.record_replies", side_effect=DataError("no")):
        response = client.post(
            acct.push_path, data=json.dumps(items), content_type="application/json"
        )
    assert response.status_code == 503
    assert PushRecord.objects.get().outcome == PushRecord.Outcome.REJECTED


def test_a_parser_bug_answers_without_its_details(client):
    acct = account("actiongw", "922011")
    with mock.patch(
        "messaging.vendors.actiongw.push.parse_items",
        side_effect=RuntimeError("secret=hunter2 at /srv/app"),
    ):
        response = client.post(acct.push_path, data=b"[{}]", content_type="application/json")
    assert response.status_code == 400
    assert b"hunter2" not in response.content and b"/srv" not in response.content
    assert "hunter2" in PushRecord.objects.get().error  # kept for the administrator


CHINA = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(1, 1, 1, tzinfo=CHINA),  # before year 1 in UTC
        dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2200, 1, 1),  # naive
    ],
)
def test_a_time_no_vendor_means_is_left_out_with_a_note(when):
    event = StatusEvent("m1\x00", "delivered", "DELIVRD", done_at=when, part_index=10**9)
    cleaned, note = clean_item(event)
    assert cleaned.done_at is None and "out of range" in note
    assert cleaned.vendor_message_id == "m1" and cleaned.part_index == 255


def test_an_item_with_nothing_to_clean_is_the_same_item():
    reply = InboundReply("13800000001", "好", dt.datetime(2024, 5, 1, tzinfo=CHINA))
    assert clean_item(reply) == (reply, None)
    cleaned, note = clean_item(InboundReply("1\x00", "\ud800x", dt.datetime(2024, 5, 1)))
    assert (cleaned.phone, cleaned.content, note) == ("1", "x", None)
    assert cleaned.received_at.tzinfo is not None
