"""An MMS template is uploaded to the vendor, reviewed there, and only then sendable."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from messaging.models import Message, Template, TemplateFile, TemplateRegistration
from messaging.services import sending
from messaging.services.templates import TemplateSubmitError, submit_for_review
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def mms_campaign(make_campaign):
    campaign = make_campaign("ashx5g", n=3, body="<name>您好，积分<points>")
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


def test_review_then_send(sim, make_campaign, client):
    campaign = mms_campaign(make_campaign)
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


def test_a_template_without_frames_is_refused(sim, make_campaign):
    campaign = make_campaign("ashx5g", n=1)
    with pytest.raises(TemplateSubmitError):
        submit_for_review(campaign.template, campaign.vendor_account)


def test_a_vendor_without_uploads_is_refused(sim, make_campaign):
    campaign = make_campaign("smscn", n=1)
    with pytest.raises(TemplateSubmitError):
        submit_for_review(campaign.template, campaign.vendor_account)


def test_admin_action_submits(sim, make_campaign, admin_client):
    campaign = mms_campaign(make_campaign)
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
