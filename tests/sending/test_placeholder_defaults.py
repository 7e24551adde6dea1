"""``<name|default>``: a recipient without a value gets the default, is never counted missing,
and the preview, the start (on this database, and the Python path on PostgreSQL too) and the
vendor receive the same text; a vendor's template with ``{varN}`` gets the default as the
value."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import translation

from messaging.models import Message, Recipient, RecipientList, TemplateFile
from messaging.services import sending, sql
from messaging.services.compose import placeholders, preview_campaign, render
from messaging.services.templates import submit_for_review, vendor_text
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

BODY = "<姓名|顾客>您好，您的积分<积分|0>分。<姓名>"
ROWS = [
    {"姓名": "张三", "积分": "100"},
    {"积分": "5"},  # no name: the default
    {"姓名": "  ", "积分": ""},  # blank: the defaults
    {"姓名": "李四"},
]
EXPECTED = [
    "【测试商城】张三您好，您的积分100分。张三回T退订",
    "【测试商城】顾客您好，您的积分5分。顾客回T退订",
    "【测试商城】顾客您好，您的积分0分。顾客回T退订",
    "【测试商城】李四您好，您的积分0分。李四回T退订",
]


def campaign_of(make_campaign, account, body=BODY, rows=ROWS, name="defaults"):
    campaign = make_campaign(account, phones=["13000000000"], body=body, name=name)
    recipients = RecipientList.objects.create(name=f"{name} rows", columns=["姓名", "积分"])
    Recipient.objects.bulk_create(
        Recipient(recipient_list=recipients, phone=f"1390000{i:04d}", variables=values)
        for i, values in enumerate(rows)
    )
    campaign.recipient_list = recipients
    campaign.save()
    return campaign


def sent_texts(campaign):
    return list(
        Message.objects.filter(campaign=campaign)
        .order_by("phone")
        .values_list("content", flat=True)
    )


def test_the_default_belongs_to_the_name_and_is_never_missing():
    assert placeholders(BODY) == ["姓名", "积分"]
    assert render(BODY, {}) == ("顾客您好，您的积分0分。顾客", [])
    assert render("<姓名>您好<积分|>", {}) == ("<姓名>您好", ["姓名"])
    # A "|" alone is no placeholder name.
    assert placeholders("<|x> <a|b|c>") == ["a"]


@pytest.mark.parametrize("path", ["this database", "python"])
def test_preview_and_start_render_defaults_the_same(make_campaign, sim_account, path):
    if path == "python" and connection.vendor != "postgresql":
        pytest.skip("on SQLite the start is the Python path already")
    campaign = campaign_of(make_campaign, sim_account("ashx5g"))
    preview = preview_campaign(campaign, exclude_missing=False, sample_size=10)
    assert preview.missing_count == 0 and preview.sendable == len(ROWS)
    assert [text for _phone, text, _parts in preview.samples] == EXPECTED
    with sql.forcing(sql.GENERIC if path == "python" else sql.dialect()):
        result = sending.start_campaign(campaign.pk, exclude_missing=False)
    assert (result.messages, result.skipped) == (len(ROWS), 0)
    assert sent_texts(campaign) == EXPECTED


def test_a_name_without_default_is_still_missing(make_campaign, sim_account):
    campaign = campaign_of(make_campaign, sim_account("ashx5g"), body="<姓名>您好，积分<积分|0>")
    preview = preview_campaign(campaign)
    assert preview.missing_count == 2 and preview.sendable == 2
    with translation.override("en"), pytest.raises(sending.CampaignError, match="lack a value"):
        sending.start_campaign(campaign.pk, exclude_missing=False)


def test_the_composer_preview_shows_the_default(marketer_client, sim_account, make_campaign):
    campaign = campaign_of(make_campaign, sim_account("ashx5g"))
    response = marketer_client.post(
        reverse("portal:compose_preview"),
        {
            "name": "x",
            "recipient_list": campaign.recipient_list_id,
            "vendor_account": campaign.vendor_account_id,
            "kind": "sms",
            "body": BODY,
            "is_marketing": "on",
        },
    )
    preview = response.context["preview"]
    assert [sample["text"] for sample in preview.samples] == EXPECTED[: len(preview.samples)]
    assert len(preview.samples) > 1 and preview.missing == 0
    assert "顾客您好" in response.content.decode()


def test_the_simulator_receives_the_default_text(sim, make_campaign, sim_account):
    campaign = campaign_of(make_campaign, sim_account("ashx5g"))
    result = sending.start_campaign(campaign.pk, exclude_missing=False)
    for batch_id in result.batches:
        sending.send_batch(batch_id)
    accepted = {row["phone"]: row["content"] for row in sim.accepted(vendor="ashx5g")}
    assert [accepted[f"1390000{i:04d}"] for i in range(len(ROWS))] == EXPECTED


def test_a_vendor_template_gets_the_default_as_its_value(
    sim, make_campaign, sim_account, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    body = "<姓名|顾客>您好，积分<积分|0>"
    campaign = campaign_of(make_campaign, sim_account("ashx5g"), body=body)
    template = campaign.template
    template.kind = "mms"
    template.is_marketing = False
    template.save()
    TemplateFile.objects.create(
        template=template,
        content_type="text/plain",
        file=SimpleUploadedFile("frame1.txt", body.encode()),
    )
    assert vendor_text(body, placeholders(body)) == "{var1}您好，积分{var2}"
    registration = submit_for_review(template, campaign.vendor_account)
    sim.server.simulators["ashx5g"]._templates()[registration.vendor_template_id]["status"] = (
        "approved"
    )
    registration.review_status = "approved"
    registration.save()
    result = sending.start_campaign(campaign.pk, exclude_missing=False)
    for batch_id in result.batches:
        sending.send_batch(batch_id)
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        Status.SUBMITTED
    }
    # The values travel "|"-joined in {var1}, {var2} order, defaults filled in.
    accepted = {row["phone"]: row["content"] for row in sim.accepted(vendor="ashx5g")}
    assert [accepted[f"1390000{i:04d}"] for i in range(len(ROWS))] == [
        "张三|100",
        "顾客|5",
        "顾客|0",
        "李四|0",
    ]
