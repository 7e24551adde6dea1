"""A vendor's time is taken only inside a sane window (2000-01-01 .. a day from now, Asia/Shanghai).

A pushed year 0001 used to be stored as a date PostgreSQL keeps BC, which psycopg cannot read
back: the campaign page, its stats, the admin lists and the exports then answered 500 for
good.  Now every vendor's report, reply and review times go through one function
(``messaging.vendors.base.vendor_time``); a time outside the window (or no time at all) is not
stored as a date, and the item's raw text keeps what the vendor sent.  Each vendor's push goes
through the real receiver here, then every page that shows those rows is read."""

import datetime as dt
import json
from urllib.parse import unquote_plus, urlencode
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import (
    Campaign,
    DeliveryReport,
    InboundMessage,
    Message,
    PushRecord,
    RecipientList,
    Template,
    TemplateRegistration,
    VendorAccount,
)
from messaging.statuses import Status
from messaging.vendors import base
from messaging.vendors.montnets.client import password_digest

pytestmark = pytest.mark.django_db
CHINA = ZoneInfo("Asia/Shanghai")
PHONE = "13800001234"
REPLY_PHONE = "13900005678"
SECRET = "push-secret-1"

# (dashed "yyyy-MM-dd HH:mm:ss", compact yyyyMMddHHmmss) as each vendor writes times
BAD_TIMES = {
    "year-0001": ("0001-01-01 00:00:00", "00010101000000"),
    "year-9999": ("9999-12-31 23:59:59", "99991231235959"),
    "garbage": ("2024-02-30 25:61:00", "20240230256100"),
}


def account_for(vendor: str, account_id: str) -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=vendor,
        name=f"{vendor} times",
        base_url=f"http://127.0.0.1:9/{vendor}",
        account_id=account_id,
        secret=SECRET,
        signature="【测试商城】",
    )


def sent_message(account: VendorAccount, administrator, **fields) -> Message:
    template = Template.objects.create(name="t", body="周末大促", created_by=administrator)
    recipients = RecipientList.objects.create(name="l")
    campaign = Campaign.objects.create(
        name="times",
        template=template,
        vendor_account=account,
        recipient_list=recipients,
        created_by=administrator,
        status=Campaign.State.SENDING,
    )
    return Message.objects.create(
        campaign=campaign,
        vendor_account=account,
        phone=PHONE,
        content="周末大促",
        status=Status.SUBMITTED,
        submitted_at=timezone.now(),
        **fields,
    )


# --------------------------------------------------------------------------- one push per vendor
# Each returns (account, message, pushes): pushes are (body, content type, query) triples.


def actiongw(administrator, dashed, compact):
    account = account_for("actiongw", "demo")
    message = sent_message(account, administrator, custom_id="a1", vendor_message_id="mid-1")
    items = [
        {"flag": 1, "mid": "mid-1", "mobile": PHONE, "stat": "DELIVRD", "time": dashed},
        {"flag": 0, "mobile": REPLY_PHONE, "content": "好的", "time": dashed},
    ]
    return account, message, [(json.dumps(items).encode(), "application/json", "")]


def ashx5g(administrator, dashed, compact):
    account = account_for("ashx5g", "960001")
    message = sent_message(account, administrator, custom_id="s1", vendor_message_id="seq-1")
    TemplateRegistration.objects.create(
        template=message.campaign.template, vendor_account=account, vendor_template_id="mms-1"
    )
    items = [
        {"seq": "seq-1", "sc": "DELIVRD", "pn": PHONE, "st": compact},
        {"pn": REPLY_PHONE, "msg": "好的", "ct": dashed},
    ]
    review = {"mms_id": "mms-1", "code": "0", "status": "审核通过", "ct": dashed}
    return (
        account,
        message,
        [
            (json.dumps(items).encode(), "application/json", ""),
            (json.dumps(review).encode(), "application/json", ""),
        ],
    )


def montnets(administrator, dashed, compact):
    account = account_for("montnets", "E10ABC")
    message = sent_message(
        account, administrator, custom_id="m1", vendor_message_id="1234567890123"
    )
    timestamp = "0803192020"
    push = {
        "userid": "E10ABC",
        "pwd": password_digest("E10ABC", SECRET, timestamp),
        "timestamp": timestamp,
        "cmd": "RPT_REQ",
        "seqid": 7,
        "rpts": [
            {
                "msgid": 1234567890123,
                "custid": "m1",
                "pknum": 1,
                "pktotal": 1,
                "mobile": "86" + PHONE,
                "stime": dashed,
                "rtime": dashed,
                "status": 0,
                "errcode": "DELIVRD",
                "errdesc": "success",
            }
        ],
    }
    return account, message, [(json.dumps(push).encode(), "application/json", "")]


def smsadmin(administrator, dashed, compact):
    account = account_for("smsadmin", "demo")
    message = sent_message(
        account,
        administrator,
        custom_id="d1",
        vendor_message_id=f"L1:{PHONE}",
        vendor_batch_id="L1",
    )
    report = {
        "Class": "rpt",
        "SmsName": "demo",
        "Mobile": PHONE,
        "LinkId": "L1",
        "Report": "DELIVRD",
        "ReportTime": dashed,
    }
    reply = {
        "Class": "mo",
        "SmsName": "demo",
        "Mobile": REPLY_PHONE,
        "LinkId": "L2",
        "Message": "好的".encode("gb2312"),
        "RevertTime": dashed,
    }
    form = "application/x-www-form-urlencoded"
    return (
        account,
        message,
        [(urlencode(report).encode(), form, ""), (urlencode(reply).encode(), form, "")],
    )


def smscn(administrator, dashed, compact):
    account = account_for("smscn", "demo")
    message = sent_message(account, administrator, custom_id="c1", vendor_message_id="c1")
    report = {
        "cmd": "res",
        "uid": "demo",
        "mobile": PHONE,
        "mobileids": "c1",
        "status": "DELIVRD",
        "time": dashed,
    }
    reply = {
        "cmd": "res",
        "uid": "demo",
        "mobile": REPLY_PHONE,
        "content": "好的".encode("gbk"),
        "time": dashed,
    }
    # A GET push (query) for the report, a form POST for the reply: both shapes are read.
    return (
        account,
        message,
        [
            (b"", "", urlencode(report)),
            (urlencode(reply).encode(), "application/x-www-form-urlencoded", ""),
        ],
    )


VENDORS = {
    "actiongw": actiongw,
    "ashx5g": ashx5g,
    "montnets": montnets,
    "smsadmin": smsadmin,
    "smscn": smscn,
}


def sane(value: dt.datetime | None) -> bool:
    return value is None or (
        dt.datetime(2000, 1, 1, tzinfo=CHINA) <= value <= timezone.now() + dt.timedelta(days=1)
    )


@pytest.fixture
def superuser_client(django_user_model):
    user = django_user_model.objects.create_superuser("root", password="pw-root-1")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("kind", list(BAD_TIMES))
@pytest.mark.parametrize("vendor_key", list(VENDORS))
def test_an_insane_vendor_time_is_kept_raw_and_breaks_no_page(
    vendor_key, kind, administrator, superuser_client
):
    dashed, compact = BAD_TIMES[kind]
    account, message, pushes = VENDORS[vendor_key](administrator, dashed, compact)
    pusher = Client()
    for body, content_type, query in pushes:
        path = account.push_path + (f"?{query}" if query else "")
        if body:
            response = pusher.post(path, data=body, content_type=content_type)
        else:
            response = pusher.get(path)
        assert response.status_code == 200, response.content
    assert not PushRecord.objects.exclude(outcome=PushRecord.Outcome.ACCEPTED).exists(), list(
        PushRecord.objects.values_list("outcome", "error")
    )

    # The report applied, with no date of the vendor's; its raw text keeps what was sent.
    report = DeliveryReport.objects.get()
    assert report.message_id == message.pk
    assert report.done_at is None
    raw = unquote_plus(report.raw)  # form and query pushes are kept as sent, percent-encoded
    assert dashed in raw or compact in raw
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert sane(message.final_at) and message.final_at is not None
    for reply in InboundMessage.objects.all():
        assert sane(reply.received_at)
    for registration in TemplateRegistration.objects.all():
        assert registration.review_status == TemplateRegistration.Review.APPROVED
        assert sane(registration.reviewed_at)

    campaign = message.campaign
    pages = [
        reverse("portal:campaign", args=[campaign.pk]),
        reverse("portal:campaign_stats", args=[campaign.pk]),
        reverse("portal:inbox"),
        reverse("portal:dashboard"),
        "/admin/messaging/message/",
        f"/admin/messaging/message/{message.pk}/change/",
        "/admin/messaging/deliveryreport/",
        f"/admin/messaging/deliveryreport/{report.pk}/change/",
        "/admin/messaging/inboundmessage/",
        "/admin/messaging/templateregistration/",
        "/admin/messaging/pushrecord/",
        f"/admin/messaging/campaign/{campaign.pk}/change/",
    ]
    for page in pages:
        assert superuser_client.get(page).status_code == 200, page
    for fmt in ("csv", "xlsx"):
        exported = superuser_client.get(reverse("portal:export_messages", args=[campaign.pk, fmt]))
        assert exported.status_code == 200
        content = b"".join(exported.streaming_content) if exported.streaming else exported.content
        if fmt == "csv":
            assert PHONE in content.decode("utf-8-sig")  # the row is there, not cut short
        replies = superuser_client.get(reverse("portal:export_replies", args=[fmt]))
        assert replies.status_code == 200
        b"".join(replies.streaming_content) if replies.streaming else replies.content
    # The rows can be deleted again.
    assert superuser_client.post(
        f"/admin/messaging/campaign/{campaign.pk}/delete/", {"post": "yes"}
    ).status_code in (200, 302)


# --------------------------------------------------------------------------- the one function


def test_vendor_time_window():
    now = dt.datetime(2025, 6, 1, 12, 0, tzinfo=CHINA)
    take = base.vendor_time
    assert take(None, now=now) is None
    assert take(dt.datetime(1, 1, 1, tzinfo=CHINA), now=now) is None
    assert take(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=CHINA), now=now) is None
    assert take(dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=CHINA), now=now) is None
    assert take(dt.datetime(2000, 1, 1, tzinfo=CHINA), now=now) == dt.datetime(
        2000, 1, 1, tzinfo=CHINA
    )
    assert take(now + dt.timedelta(hours=23), now=now) == now + dt.timedelta(hours=23)
    assert take(now + dt.timedelta(days=1, seconds=1), now=now) is None
    # A naive time is the vendor's local time, Asia/Shanghai.
    naive = take(dt.datetime(2024, 5, 1, 10, 0), now=now)
    assert naive == dt.datetime(2024, 5, 1, 10, 0, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("parse", "dashed_format"),
    [
        ("messaging.vendors.actiongw.push:_time", True),
        ("messaging.vendors.ashx5g.client:china_time", False),
        ("messaging.vendors.montnets.client:parse_local_time", True),
        ("messaging.vendors.smsadmin.client:parse_time", True),
        ("messaging.vendors.smscn.client:parse_time", True),
    ],
)
def test_every_vendor_time_parser_goes_through_the_window(parse, dashed_format):
    """Polls use the same parsers as pushes: no parser hands out a time outside the window,
    and none raises on garbage (the item is kept without its time)."""
    import importlib

    module, name = parse.split(":")
    function = getattr(importlib.import_module(module), name)

    def call(text):
        return function({"time": text}) if name == "_time" else function(text)

    good = "2024-05-01 10:00:00" if dashed_format else "20240501100000"
    assert call(good) == dt.datetime(2024, 5, 1, 10, 0, tzinfo=CHINA)
    for dashed, compact in BAD_TIMES.values():
        assert call(dashed if dashed_format else compact) is None
    assert call("") is None
