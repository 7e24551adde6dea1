"""Every push sample of every vendor document, through the real receiver URL.

Each sample is sent as the vendor sends it (method, body, encoding) to the account's push URL;
the answer must be exactly what that vendor expects, the raw push is kept, and what it carried
is stored and applied."""

import json
from urllib.parse import quote, urlsplit

import pytest

from messaging.models import (
    DeliveryReport,
    InboundMessage,
    Message,
    PushRecord,
    Suppression,
    Template,
    TemplateRegistration,
    VendorAccount,
)
from messaging.statuses import Status
from tests.harness.push import post_push
from tests.harness.samples import sample

pytestmark = pytest.mark.django_db


def account(vendor: str, account_id: str, secret: str = "pw", extension: str = "") -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=vendor,
        name=f"{vendor} push",
        base_url=f"http://127.0.0.1:9/{vendor}",
        account_id=account_id,
        secret=secret,
        extension=extension,
        signature="【测试商城】",
    )


def message(acct, vendor_id: str, phone: str, **fields) -> Message:
    fields.setdefault("status", Status.SUBMITTED)
    return Message.objects.create(
        vendor_account=acct,
        phone=phone,
        content="x",
        custom_id=fields.pop("custom_id", f"c-{vendor_id}"[:32]),
        vendor_message_id=vendor_id,
        **fields,
    )


def only_record() -> PushRecord:
    (record,) = PushRecord.objects.all()
    return record


# --------------------------------------------------------------------------- actiongw


def test_actiongw_combined_push_sample(client):
    acct = account("actiongw", "922011")
    sent = message(acct, "4C36654382720006", "18983437011")
    response = post_push(
        client, acct, sample("actiongw", "push_request.json"), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.content == sample("actiongw", "push_reply.txt").strip()  # b"OK"
    record = only_record()
    assert (record.outcome, record.item_count) == (PushRecord.Outcome.ACCEPTED, 2)
    assert bytes(record.body) == sample("actiongw", "push_request.json")
    sent.refresh_from_db()
    assert (sent.status, sent.vendor_status_code) == (Status.DELIVERED, "DELIVRD")
    (reply,) = InboundMessage.objects.all()
    assert (reply.phone, reply.content, reply.extension) == ("18983437010", "上行内容", "10690")


# --------------------------------------------------------------------------- ashx5g


def test_ashx5g_report_push_sample_with_its_broken_quotes(client):
    acct = account("ashx5g", "123456")
    ids = ["50821410000350644", "50821410000350645", "50821410000350646"]
    phones = ["13900030003", "13900030004", "13900030005"]
    sent = [message(acct, i, p) for i, p in zip(ids, phones, strict=True)]
    response = post_push(
        client, acct, sample("ashx5g", "report_push.json"), content_type="application/json"
    )
    assert (response.status_code, response.content) == (200, b"0")
    assert only_record().item_count == 3
    for m in sent:
        m.refresh_from_db()
    assert [m.status for m in sent] == [Status.UNDELIVERED, Status.DELIVERED, Status.UNDELIVERED]
    assert sent[0].vendor_status_description.split("\n") == ["失败", "Not delivered"]
    assert DeliveryReport.objects.filter(message__isnull=False).count() == 3


def test_ashx5g_reply_push_sample(client, make_campaign):
    acct = account("ashx5g", "123456", extension="123")
    campaign = make_campaign(acct)
    replied_to = message(
        acct, "1", "13900030003", campaign=campaign, submitted_at="2020-05-08T20:00:00+08:00"
    )
    response = post_push(
        client, acct, sample("ashx5g", "mo_push.json"), content_type="application/json"
    )
    assert (response.status_code, response.content) == (200, b"0")
    replies = list(InboundMessage.objects.order_by("received_at"))
    assert [(r.phone, r.content, r.extension) for r in replies] == [
        ("13900030003", "联通 1", "123"),
        ("13900030004", "联通 2", "123"),
    ]
    assert (replies[0].message, replies[0].campaign) == (replied_to, campaign)
    assert replies[1].message is None
    assert not any(r.is_opt_out for r in replies)


def test_ashx5g_template_review_push_sample(client):
    acct = account("ashx5g", "123456")
    template = Template.objects.create(name="video", kind=Template.Kind.MMS, body="新品视频")
    registration = TemplateRegistration.objects.create(
        template=template,
        vendor_account=acct,
        vendor_template_id="2122",
        review_status=TemplateRegistration.Review.PENDING,
    )
    response = post_push(
        client, acct, sample("ashx5g", "template_review_push.json"), content_type="application/json"
    )
    assert (response.status_code, response.content) == (200, b"0")
    registration.refresh_from_db()
    assert registration.review_status == TemplateRegistration.Review.APPROVED
    assert registration.review_reason == "审核成功"
    assert registration.reviewed_at.isoformat() == "2020-12-31T16:00:01+00:00"


# --------------------------------------------------------------------------- montnets


def test_montnets_rpt_req_sample_is_answered_rpt_resp_with_its_seqid(client):
    # The document's signing example: userid J10003, password 111111, timestamp 0803192020.
    acct = account("montnets", "J10003", secret="111111")
    # Both items are part 1 of 2 of a long message ("pknum": 1, "pktotal": 2).
    first = message(acct, "9223372045854775808", "13800000001", segments=2)
    second = message(acct, "9223372045854875808", "13800000002", segments=2)
    response = post_push(
        client,
        acct,
        sample("montnets", "rpt_push_request_json.txt"),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.content == b'{"cmd": "RPT_RESP", "seqid": 1004, "result": 0}'
    assert json.loads(response.content) == json.loads(
        sample("montnets", "rpt_push_reply_success_json.txt")
    )
    for m in (first, second):
        m.refresh_from_db()
        # One part delivered, the other not reported yet: not delivered until it is.
        assert m.status == Status.SUBMITTED
        (report,) = m.reports.all()
        assert (report.status, report.part_index, report.part_count) == (
            Status.DELIVERED,
            1,
            2,
        )


def test_montnets_push_with_a_wrong_pwd_is_refused_and_kept(client):
    acct = account("montnets", "J10003", secret="another-password")
    sent = message(acct, "9223372045854775808", "13800000001")
    response = post_push(
        client,
        acct,
        sample("montnets", "rpt_push_request_json.txt"),
        content_type="application/json",
    )
    assert response.status_code == 403
    record = only_record()
    assert record.outcome == PushRecord.Outcome.UNAUTHENTICATED and "signature" in record.error
    sent.refresh_from_db()
    assert sent.status == Status.SUBMITTED and not DeliveryReport.objects.exists()


# --------------------------------------------------------------------------- smsadmin


def smsadmin_fields(name: str) -> str:
    # The examples are URLs ("http://pushURL?...", the rpt one inside <>): keep the fields.
    return sample("smsadmin", name).decode("ascii").strip().strip("<>").split("?", 1)[1]


def test_smsadmin_mo_push_sample_as_a_gb2312_form(client):
    acct = account("smsadmin", "ID")
    response = post_push(
        client,
        acct,
        smsadmin_fields("push_mo_example.txt").encode("gb2312"),
        content_type="application/x-www-form-urlencoded",
    )
    # The document names no answer body: an empty 200 is "received".
    assert (response.status_code, response.content) == (200, b"")
    (reply,) = InboundMessage.objects.all()
    assert (reply.phone, reply.content) == ("13802102102", "test")


def test_smsadmin_rpt_push_sample_as_a_query_string(client):
    acct = account("smsadmin", "ID")
    sent = message(acct, "123456789:138xxxxxxx", "138xxxxxxx")
    query = smsadmin_fields("push_rpt_example.txt").replace(" ", "%20")
    response = post_push(client, acct, method="GET", query=query)
    assert (response.status_code, response.content) == (200, b"")
    sent.refresh_from_db()
    assert (sent.status, sent.vendor_status_code) == (Status.DELIVERED, "DELIVRD")


def test_smsadmin_push_for_another_account_is_refused(client):
    acct = account("smsadmin", "someone-else")
    response = post_push(client, acct, method="GET", query=smsadmin_fields("push_rpt_example.txt"))
    assert response.status_code == 403
    assert only_record().outcome == PushRecord.Outcome.UNAUTHENTICATED


# --------------------------------------------------------------------------- smscn


def test_smscn_push_sample_with_placeholders_is_acknowledged_and_kept(client):
    # The document's push URL carries placeholders ("用户账号", "接收号码"), GBK in the query.
    acct = account("smscn", "用户账号")
    split = urlsplit(sample("smscn", "mo_push_request.txt").decode("utf-8").strip())
    query = "&".join(
        f"{name}={quote(value, encoding='gbk')}"
        for name, value in (pair.split("=", 1) for pair in split.query.split("&"))
    )
    response = post_push(client, acct, method="GET", query=query)
    assert (response.status_code, response.content) == (200, b"OK")
    record = only_record()
    # Nothing usable in it ("接收号码" is no phone), so it is kept as partial for inspection.
    assert record.outcome == PushRecord.Outcome.PARTIAL and "mobile" in record.error
    assert not DeliveryReport.objects.exists() and not InboundMessage.objects.exists()


def test_smscn_reply_push_in_gbk_suppresses_an_opt_out(client):
    acct = account("smscn", "demo")
    content = quote("退订", encoding="gbk")
    response = post_push(
        client,
        acct,
        method="GET",
        query=f"cmd=res&uid=demo&mobile=13800000001&content={content}&time=2024-05-01%2010:00:00",
    )
    assert (response.status_code, response.content) == (200, b"OK")
    (reply,) = InboundMessage.objects.all()
    assert reply.content == "退订" and reply.is_opt_out
    suppression = Suppression.objects.get(phone="13800000001")
    assert suppression.inbound_message == reply and "退订" in suppression.evidence
