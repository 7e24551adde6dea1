"""MMS / video / 5G templates: the vendor's review push, and no campaign without approval."""

import json

import pytest
from django.utils import translation

from messaging.models import Campaign, Template, TemplateRegistration
from messaging.services import sending
from messaging.services.compose import compliance_errors, preview_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def video_campaign(vendor_account, make_campaign):
    campaign = make_campaign(
        vendor_account, phones=["13800000001"], body="新品视频<name>", kind=Template.Kind.MMS
    )
    TemplateRegistration.objects.create(
        template=campaign.template,
        vendor_account=vendor_account,
        vendor_template_id="2122",
        review_status=TemplateRegistration.Review.PENDING,
    )
    return campaign


def review_push(client, account, code, status):
    body = json.dumps(
        {"ct": "2021-01-01 00:00:01", "code": code, "mms_id": "2122", "status": status}
    )
    return client.post(account.push_path, data=body, content_type="application/json")


def test_unapproved_template_is_refused_with_a_clear_message(video_campaign, vendor_account):
    with translation.override("en"):
        errors = compliance_errors(video_campaign.template, vendor_account)
        assert any("not approved by Main ashx5g" in e for e in errors)
        assert any("not approved" in e for e in preview_campaign(video_campaign).errors)
        with pytest.raises(sending.CampaignError, match="not approved"):
            sending.start_campaign(video_campaign.pk)
    video_campaign.refresh_from_db()
    assert video_campaign.status == Campaign.State.DRAFT
    assert not video_campaign.messages.exists()


def test_review_push_approves_and_the_template_becomes_usable(
    client, video_campaign, vendor_account
):
    response = review_push(client, vendor_account, "0", "审核成功")
    assert (response.status_code, response.content) == (200, b"0")
    registration = TemplateRegistration.objects.get()
    assert registration.review_status == TemplateRegistration.Review.APPROVED
    assert compliance_errors(video_campaign.template, vendor_account) == []


def test_review_push_rejects(client, video_campaign, vendor_account):
    review_push(client, vendor_account, "1", "审核失败：内容违规")
    registration = TemplateRegistration.objects.get()
    assert registration.review_status == TemplateRegistration.Review.REJECTED
    assert registration.review_reason == "审核失败：内容违规"
    assert compliance_errors(video_campaign.template, vendor_account)


def test_approval_at_another_account_does_not_count(
    client, video_campaign, vendor_account, sim_account
):
    other = sim_account("ashx5g", name="second ashx5g")
    TemplateRegistration.objects.create(
        template=video_campaign.template,
        vendor_account=other,
        vendor_template_id="2122",
        review_status=TemplateRegistration.Review.APPROVED,
    )
    # Review pushes come to one account's URL and only touch that account's registration.
    review_push(client, other, "0", "审核成功")
    assert compliance_errors(video_campaign.template, vendor_account)
    assert (
        TemplateRegistration.objects.get(vendor_account=vendor_account).review_status
        == TemplateRegistration.Review.PENDING
    )
