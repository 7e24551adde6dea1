"""An MMS template is uploaded to the vendor, reviewed there, and only then sendable."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from messaging.models import Message, Template, TemplateFile, TemplateRegistration
from messaging.services import sending
from messaging.services.templates import (
    TemplateSubmitError,
    submit_for_review,
    template_title,
    title_length,
)
from messaging.statuses import Status
from messaging.vendors.ashx5g.client import Ashx5gClient

pytestmark = pytest.mark.django_db

# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def mms_campaign(make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=3, body="<name>您好，积分<points>")
    Template.objects.filter(pk=campaign.template_id).update(kind=Template.Kind.MMS)
    TemplateFile.objects.create(
        template_id=campaign.template_id,
        frame=1,
        order=1,
        content_type="image/png",
        file=SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
    )
    campaign.refresh_from_db()
    return campaign


def test_review_then_send(sim, make_campaign, sim_account, client):
    campaign = mms_campaign(make_campaign, sim_account)
    account = campaign.vendor_account
    with translation.override("en"), pytest.raises(sending.CampaignError, match="approved"):
        sending.start_campaign(campaign.pk)

    registration = submit_for_review(campaign.template, account)
    assert registration.review_status == TemplateRegistration.Review.PENDING
    assert registration.vendor_template_id
    # The vendor has the frame we uploaded.
    uploaded = sim.server.simulators["ashx5g"]._templates()[registration.vendor_template_id]
    assert uploaded["status"] != "approved"

    # Its staff approve; the review push reaches our receiver for this account.
    simulator = sim.server.simulators["ashx5g"]
    call = simulator.template_review_push(registration.vendor_template_id, approved=True)
    uploaded["status"] = "approved"
    answer = client.post(
        account.push_path, data=call.body, content_type=call.headers["Content-Type"]
    )
    assert answer.status_code == 200
    registration.refresh_from_db()
    assert registration.review_status == TemplateRegistration.Review.APPROVED

    result = sending.start_campaign(campaign.pk)
    for batch_id in result.batches:
        sending.send_batch(batch_id)
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        Status.SUBMITTED
    }
    sent = sim.accepted(vendor="ashx5g")
    assert {row["extra"]["mms_id"] for row in sent} == {registration.vendor_template_id}
    # The variables travel as the template's values, not as rendered text.
    assert sorted(row["content"] for row in sent)[0] == "用户1|10"


def test_a_template_without_frames_is_refused(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    with pytest.raises(TemplateSubmitError):
        submit_for_review(campaign.template, campaign.vendor_account)


def test_a_vendor_without_uploads_is_refused(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("smscn"), n=1)
    with pytest.raises(TemplateSubmitError):
        submit_for_review(campaign.template, campaign.vendor_account)


def test_admin_action_submits(sim, make_campaign, sim_account, admin_client):
    campaign = mms_campaign(make_campaign, sim_account)
    registration = TemplateRegistration.objects.create(
        template=campaign.template, vendor_account=campaign.vendor_account
    )
    response = admin_client.post(
        reverse("admin:messaging_templateregistration_changelist"),
        {"action": "submit_for_review", "_selected_action": [registration.pk]},
        follow=True,
    )
    assert response.status_code == 200
    registration.refresh_from_db()
    assert registration.review_status == TemplateRegistration.Review.PENDING
    assert json.loads(registration.raw)["mms_id"] == registration.vendor_template_id


# --------------------------------------------------------------------------- before the vendor


def uploaded_templates(sim) -> dict:
    return sim.server.simulators["ashx5g"]._templates()


def add_file(campaign, name, data, content_type, frame=1, order=1):
    return TemplateFile.objects.create(
        template_id=campaign.template_id,
        frame=frame,
        order=order,
        content_type=content_type,
        file=SimpleUploadedFile(name, data, content_type=content_type),
    )


def test_a_long_name_gets_a_title_that_fits(sim, make_campaign, sim_account):
    campaign = mms_campaign(make_campaign, sim_account)
    template = campaign.template
    # The composer names drafts after the campaign (up to 100 characters); the vendor takes
    # titles of at most 15 ("长度小于等于 15", ashx5g 5.1).
    Template.objects.filter(pk=template.pk).update(
        name="2024 春季新品发布会 视频推广活动 第一波" * 3
    )
    template.refresh_from_db()
    registration = submit_for_review(template, campaign.vendor_account)
    assert registration.review_status == TemplateRegistration.Review.PENDING
    title = uploaded_templates(sim)[registration.vendor_template_id]["title"]
    suffix = f"#{template.pk}"
    assert title == "2024 春季新品发布会 视频推广"[: 15 - len(suffix)].rstrip() + suffix
    assert title_length(title) <= 15


def test_template_titles(make_campaign, sim_account):
    template = make_campaign(sim_account("ashx5g"), n=1).template
    named = lambda name: Template(pk=template.pk, name=name)  # noqa: E731
    assert template_title(named("新品 视频"), 15) == "新品 视频"  # fits: as it is
    assert template_title(named(" 新品\n视频 "), 15) == "新品 视频"
    assert template_title(named("一" * 15), 15) == "一" * 15
    long = template_title(named("一" * 16), 15)
    assert title_length(long) <= 15 and long.endswith(f"#{template.pk}")
    # Counted as the .NET gateway counts: an emoji is two units, never cut in half.
    emoji = template_title(named("😀" * 10), 15)
    suffix = f"#{template.pk}"
    assert emoji == "😀" * ((15 - len(suffix)) // 2) + suffix
    assert title_length(emoji) <= 15
    assert template_title(named("一" * 30), 0) == "一" * 30  # a vendor without a limit
    # Two long names that begin alike stay apart.
    other = Template(pk=template.pk + 1, name="一" * 16)
    assert template_title(other, 15) != long


@pytest.mark.parametrize(
    ("name", "data", "content_type", "limits", "english", "chinese"),
    [
        ("doc.pdf", b"%PDF-1.4", "application/pdf", {}, "this vendor accepts only", "只接受"),
        ("blank.png", b"", "image/png", {}, "blank.png is empty.", None),
        (
            "big.png",
            PNG + b"\0" * 2048,
            "image/png",
            {"max_file_kb": 1},
            "big.png is 3 KB; the limit is 1 KB per file.",
            "单个文件上限为 1 KB",
        ),
        (
            "many.png",
            PNG + b"\0" * 1000,
            "image/png",
            {"max_template_kb": 1},
            "The template's files would exceed 1 KB in all.",
            "模板文件总大小将超过 1 KB",
        ),
        ("gbk.txt", "您好".encode("gbk"), "text/plain", {}, "gbk.txt is not UTF-8 text", None),
    ],
    ids=["type", "empty", "file-size", "total-size", "encoding"],
)
def test_what_we_can_check_is_said_without_calling_the_vendor(
    sim, make_campaign, sim_account, name, data, content_type, limits, english, chinese
):
    campaign = mms_campaign(make_campaign, sim_account)
    account = campaign.vendor_account
    for field, value in limits.items():
        setattr(account, field, value)
    account.save()
    add_file(campaign, name, data, content_type, frame=2)
    with translation.override("en"), pytest.raises(TemplateSubmitError) as refused:
        submit_for_review(campaign.template, account)
    assert english in str(refused.value)
    assert "vendor refused" not in str(refused.value)
    if chinese:
        with translation.override("zh-hans"), pytest.raises(TemplateSubmitError) as refused:
            submit_for_review(campaign.template, account)
        assert chinese in str(refused.value)
    assert uploaded_templates(sim) == {}  # the vendor was never called
    registration = TemplateRegistration.objects.get()
    assert registration.review_status == TemplateRegistration.Review.DRAFT
    assert registration.vendor_template_id == ""
    assert registration.review_reason == str(refused.value)


def test_frames_are_numbered_as_the_vendor_counts_them(
    sim, make_campaign, sim_account, monkeypatch
):
    campaign = mms_campaign(make_campaign, sim_account)  # logo.png in frame 1
    add_file(campaign, "a.txt", "您好{var1}".encode(), "text/plain", frame=4, order=3)
    add_file(campaign, "b.png", PNG, "image/png", frame=4, order=7)
    add_file(campaign, "c.png", PNG, "image/png", frame=9, order=2)
    sent = []
    original = Ashx5gClient.upload_template

    def record(self, **kwargs):
        sent.append(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(Ashx5gClient, "upload_template", record)
    submit_for_review(campaign.template, campaign.vendor_account)
    (call,) = sent
    # "index 表示有多少帧, 相同的 index 表示同帧" (5.1): 1, 2, 3 - gaps closed, order kept.
    assert [(f.frame, f.order, f.name) for f in call["frames"]] == [
        (1, 1, "logo.png"),
        (2, 1, "a.txt"),
        (2, 2, "b.png"),
        (3, 1, "c.png"),
    ]
    assert call["has_variables"] is True


def test_an_unreachable_vendor_is_not_said_to_refuse(sim, make_campaign, sim_account):
    campaign = mms_campaign(make_campaign, sim_account)
    account = campaign.vendor_account
    account.base_url = "http://127.0.0.1:9/ashx5g"  # nothing listens there
    account.save()
    with translation.override("en"), pytest.raises(TemplateSubmitError) as failed:
        submit_for_review(campaign.template, account)
    assert "nothing was submitted" in str(failed.value)
    assert "The vendor refused" not in str(failed.value)
    assert TemplateRegistration.objects.get().review_status == TemplateRegistration.Review.DRAFT


def test_the_vendors_own_refusal_keeps_its_words(sim, make_campaign, sim_account):
    campaign = mms_campaign(make_campaign, sim_account)
    account = campaign.vendor_account
    account.secret = "wrong"
    account.save()
    with translation.override("en"), pytest.raises(TemplateSubmitError) as refused:
        submit_for_review(campaign.template, account)
    assert "The vendor refused the template" in str(refused.value)
    registration = TemplateRegistration.objects.get()
    code = json.loads(registration.raw)["code"]  # 901 plain, 902 md5: a wrong password
    assert code in ("901", "902") and f"[{code}]" in registration.review_reason


def test_a_test_send_of_an_approved_mms_goes_by_its_template(
    sim, make_campaign, sim_account, client
):
    campaign = mms_campaign(make_campaign, sim_account)
    account = campaign.vendor_account
    registration = submit_for_review(campaign.template, account)
    simulator = sim.server.simulators["ashx5g"]
    simulator._templates()[registration.vendor_template_id]["status"] = "approved"
    TemplateRegistration.objects.filter(pk=registration.pk).update(
        review_status=TemplateRegistration.Review.APPROVED
    )
    message = sending.send_test_message(campaign, "13911112222")
    assert message.status == Status.SUBMITTED and message.segments == 1
    (sent,) = sim.accepted(vendor="ashx5g")
    assert sent["phone"] == "13911112222"
    assert sent["extra"]["mms_id"] == registration.vendor_template_id


def test_a_test_send_the_vendors_encoding_cannot_carry_is_refused_before_sending(
    sim, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("smsadmin"), n=1)
    campaign.recipient_list.recipients.update(variables={"name": "王堃", "points": "1"})
    with translation.override("en"), pytest.raises(sending.CampaignError, match="GB2312"):
        sending.send_test_message(campaign, "13911112222")
    assert sim.accepted(vendor="smsadmin") == []
