"""The composer: live preview, sensitive words, saving, schedule, test send, confirm, frames."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from messaging.models import Campaign, Message, SensitiveWord, Template, TemplateFile
from messaging.services.content_checks import (
    DEFAULT_PRICE_PER_SEGMENT,
    check_content,
    estimate_cost,
)
from messaging.statuses import Status

pytestmark = pytest.mark.django_db


def form_data(campaign_or_list, account, **overrides):
    recipient_list = getattr(campaign_or_list, "recipient_list", campaign_or_list)
    data = {
        "name": "双十一",
        "recipient_list": recipient_list.pk,
        "vendor_account": account.pk,
        "kind": "sms",
        "body": "<name>您好，积分<points>",
        "signature": "",
        "is_marketing": "on",
        "template_name": "",
        "scheduled_at": "",
    }
    data.update(overrides)
    return data


def test_preview_renders_the_first_recipients_with_signature_suffix_and_cost(
    english_client, sim_account, recipient_list
):
    account = sim_account("ashx5g", price_per_part=Decimal("0.04"))
    response = english_client.post(
        reverse("portal:compose_preview"), form_data(recipient_list, account)
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.samples[0]["text"] == "【测试商城】用户1您好，积分10回T退订"
    assert preview.samples[0]["signature"] == "【测试商城】"
    assert preview.samples[0]["suffix"] == "回T退订"
    assert (preview.est_sendable, preview.est_segments) == (4, 4)
    assert preview.cost == estimate_cost(4, account) == Decimal("0.16")
    html = response.content.decode()
    assert "用户1您好，积分10" in html and "¥0.16" in html
    assert "Estimated cost" in html


def test_preview_counts_parts_with_the_vendors_rules(english_client, sim_account, recipient_list):
    body = "Hello, " + "x" * 80  # plain ASCII, 87 characters
    for key, expected in (("ashx5g", 1), ("smsadmin", 2)):
        account = sim_account(key, signature="")
        # smsadmin bills Latin letters like Chinese (70 per part); others use 160.
        response = english_client.post(
            reverse("portal:compose_preview"),
            form_data(recipient_list, account, body=body, is_marketing=""),
        )
        sample = response.context["preview"].samples[0]
        assert sample["parts"] == expected, key
        account.delete()


def test_preview_warns_of_unknown_columns_and_missing_signature(
    english_client, sim_account, recipient_list
):
    account = sim_account("ashx5g", signature="")
    response = english_client.post(
        reverse("portal:compose_preview"),
        form_data(recipient_list, account, body="<nickname>您好"),
    )
    preview = response.context["preview"]
    assert any("nickname" in w for w in preview.warnings)
    assert any("signature" in e for e in preview.errors)
    assert preview.missing == 4 and preview.est_sendable == 0


def test_preview_without_list_or_account_asks_for_them(english_client):
    response = english_client.post(reverse("portal:compose_preview"), {"body": "hi"})
    assert response.status_code == 200 and response.context["preview"] is None


def test_local_sensitive_words_block_and_are_shown(english_client, sim_account, recipient_list):
    SensitiveWord.objects.create(word="返现")
    account = sim_account("ashx5g")
    response = english_client.post(
        reverse("portal:compose_check"),
        form_data(recipient_list, account, body="<name>，下单返现100元"),
    )
    verdict = response.context["verdict"]
    assert not verdict.ok and verdict.local_words == ["返现"]
    assert 'data-check="blocked"' in response.content.decode()
    ok = english_client.post(reverse("portal:compose_check"), form_data(recipient_list, account))
    assert ok.context["verdict"].ok
    assert "offers no check of its own" in ok.content.decode()


def test_smsadmin_content_check_asks_the_vendor(english_client, sim_account, recipient_list):
    account = sim_account("smsadmin")
    response = english_client.post(
        reverse("portal:compose_check"),
        form_data(recipient_list, account, body="<name>您好，可代开发票"),
    )
    verdict = response.context["verdict"]
    assert verdict.vendor_checked
    assert set(verdict.vendor_words) == {"发票", "代开"}
    assert not verdict.ok
    clean = check_content("【测试商城】周末大促回T退订", account)
    assert clean.vendor_checked and clean.ok


def test_vendor_check_failure_does_not_hide_the_local_result(sim_account):
    account = sim_account("smsadmin")
    account.base_url = "http://127.0.0.1:9/smsadmin"  # nothing listens
    SensitiveWord.objects.create(word="赌")
    verdict = check_content("赌一把", account)
    assert verdict.local_words == ["赌"] and verdict.vendor_error and not verdict.vendor_checked


def test_compose_saves_a_template_and_a_draft_then_confirms(
    marketer_client, marketer, sim_account, recipient_list
):
    account = sim_account("ashx5g")
    response = marketer_client.post(
        reverse("portal:compose"),
        form_data(recipient_list, account, template_name="积分模板", then="confirm"),
    )
    campaign = Campaign.objects.get()
    assert response["Location"] == reverse("portal:confirm", args=[campaign.pk])
    assert campaign.status == Campaign.State.DRAFT and campaign.created_by == marketer
    assert campaign.template.name == "积分模板" and campaign.template.body.startswith("<name>")
    # Editing the draft's own message changes its template in place.
    marketer_client.post(
        reverse("portal:compose_edit", args=[campaign.pk]),
        form_data(campaign, account, body="<name>：积分<points>", then="draft"),
    )
    campaign.refresh_from_db()
    assert Template.objects.count() == 1 and campaign.template.body == "<name>：积分<points>"


def test_a_picked_template_is_reused_and_never_changed(marketer_client, sim_account, draft):
    campaign = draft()
    saved = campaign.template
    account = campaign.vendor_account
    marketer_client.post(
        reverse("portal:compose"),
        form_data(campaign, account, template=saved.pk, body=saved.body, then="draft"),
    )
    new = Campaign.objects.exclude(pk=campaign.pk).get()
    assert new.template == saved
    marketer_client.post(
        reverse("portal:compose_edit", args=[new.pk]),
        form_data(campaign, account, template=saved.pk, body="改过的<name>", then="draft"),
    )
    new.refresh_from_db()
    saved.refresh_from_db()
    assert new.template != saved and saved.body == "<name>您好，积分<points>"


def test_schedule_in_the_past_is_refused(english_client, sim_account, recipient_list):
    account = sim_account("ashx5g")
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = english_client.post(
        reverse("portal:compose"), form_data(recipient_list, account, scheduled_at=past)
    )
    assert response.status_code == 200
    assert "future" in response.content.decode()
    assert not Campaign.objects.exists()


def test_scheduling_goes_through_the_task_schedule(marketer_client, sim_account, recipient_list):
    account = sim_account("ashx5g")
    when = timezone.localtime() + timedelta(days=1)
    marketer_client.post(
        reverse("portal:compose"),
        form_data(recipient_list, account, scheduled_at=when.strftime("%Y-%m-%dT%H:%M")),
    )
    campaign = Campaign.objects.get()
    page = marketer_client.get(reverse("portal:confirm", args=[campaign.pk]))
    assert page.context["scheduled"]
    response = marketer_client.post(reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SCHEDULED
    schedule = Schedule.objects.get(name=f"campaign {campaign.pk}")
    assert schedule.func == "messaging.tasks.start_scheduled_campaign"
    assert abs((schedule.next_run - campaign.scheduled_at).total_seconds()) < 1
    assert not Message.objects.exists()


def test_confirmation_states_count_and_cost(english_client, draft):
    campaign = draft()
    page = english_client.get(reverse("portal:confirm", args=[campaign.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    cost = estimate_cost(4, campaign.vendor_account)
    assert cost == 4 * DEFAULT_PRICE_PER_SEGMENT
    assert f"4 messages (4 billed parts, about ¥{cost}) will be sent now." in html
    assert 'id="confirm-button"' in html


def test_confirm_sends_through_the_task_queue_to_the_simulator(
    marketer_client, draft, sim, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = draft("actiongw")
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1"}
        )
    assert response["Location"] == reverse("portal:campaign", args=[campaign.pk])
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED, campaign.status_reason
    assert len(sim.accepted(vendor="actiongw")) == 4
    stats = marketer_client.get(reverse("portal:campaign_stats", args=[campaign.pk])).json()
    assert stats["counters"]["submitted"] == 4 and stats["progress"] == 100.0


def test_confirm_is_refused_with_sensitive_words(marketer_client, draft, sync_tasks):
    SensitiveWord.objects.create(word="积分")
    campaign = draft()
    page = marketer_client.get(reverse("portal:confirm", args=[campaign.pk]))
    assert 'id="confirm-button"' not in page.content.decode()
    marketer_client.post(reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT and not Message.objects.exists()


def test_confirm_is_refused_when_not_compliant(marketer_client, draft):
    campaign = draft(opt_out_suffix="")
    page = marketer_client.get(reverse("portal:confirm", args=[campaign.pk]))
    assert page.context["preview"].errors
    assert 'id="confirm-button"' not in page.content.decode()


def test_test_send_goes_to_one_phone_now(marketer_client, draft, sim):
    campaign = draft()
    url = reverse("portal:test_send", args=[campaign.pk])
    response = marketer_client.post(url, {"phone": "13912345678"}, follow=True)
    assert any("13912345678" in str(m) for m in response.context["messages"])
    test = Message.objects.get(campaign=None)
    assert test.status == Status.SUBMITTED
    assert test.content == "【测试商城】用户1您好，积分10回T退订"
    assert [row["phone"] for row in sim.accepted(vendor="ashx5g")] == ["13912345678"]
    bad = marketer_client.post(url, {"phone": "abc"}, follow=True)
    assert any(m.level_tag == "error" for m in bad.context["messages"])
    assert Message.objects.count() == 1


# --------------------------------------------------------------------------- frames


def mms_draft(draft, vendor="ashx5g"):
    """A draft MMS campaign with its own message (``Template.is_draft``)."""
    campaign = draft(vendor)
    template = campaign.template
    template.kind = Template.Kind.MMS
    template.is_draft = True
    template.save()
    return campaign


def test_frame_upload_checks_type_and_size(english_client, draft, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    campaign = mms_draft(draft)
    account = campaign.vendor_account
    account.max_file_kb, account.max_template_kb = 1, 2
    account.save()
    url = reverse("portal:frame_upload", args=[campaign.pk])
    json = {"HTTP_ACCEPT": "application/json"}
    png = SimpleUploadedFile("a.png", b"\x89PNG" + b"0" * 500, content_type="image/png")
    assert english_client.post(url, {"frame": 1, "file": png}, **json).status_code == 201
    exe = SimpleUploadedFile("a.exe", b"MZ", content_type="application/octet-stream")
    answer = english_client.post(url, {"frame": 1, "file": exe}, **json)
    assert answer.status_code == 400 and "accepts only" in answer.json()["error"]
    fake = SimpleUploadedFile("a.png", b"x", content_type="video/mp4")
    assert english_client.post(url, {"frame": 1, "file": fake}, **json).status_code == 400
    big = SimpleUploadedFile("b.jpg", b"0" * 2000, content_type="image/jpeg")
    answer = english_client.post(url, {"frame": 2, "file": big}, **json)
    assert answer.status_code == 400 and "limit is 1 KB" in answer.json()["error"]
    text = english_client.post(url, {"frame": 2, "text": "欢迎光临"}, **json)
    assert text.status_code == 201
    files = list(TemplateFile.objects.order_by("frame", "order"))
    assert [(f.frame, f.content_type) for f in files] == [(1, "image/png"), (2, "text/plain")]
    page = english_client.get(reverse("portal:compose_edit", args=[campaign.pk]))
    html = page.content.decode()
    preview_url = reverse("portal:frame_file", args=[campaign.pk, files[0].pk])
    assert preview_url in html and 'data-max-file="1024"' in html
    served = english_client.get(preview_url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    delete = reverse("portal:frame_delete", args=[campaign.pk, files[0].pk])
    english_client.post(delete)
    assert TemplateFile.objects.count() == 1


def test_frames_refused_for_vendors_without_mms(english_client, draft, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    campaign = mms_draft(draft, "actiongw")
    png = SimpleUploadedFile("a.png", b"\x89PNG", content_type="image/png")
    answer = english_client.post(
        reverse("portal:frame_upload", args=[campaign.pk]),
        {"frame": 1, "file": png},
        HTTP_ACCEPT="application/json",
    )
    assert answer.status_code == 400 and "does not send MMS" in answer.json()["error"]


def test_mms_draft_is_not_sendable_before_approval(english_client, draft):
    campaign = mms_draft(draft)
    page = english_client.get(reverse("portal:confirm", args=[campaign.pk]))
    assert any("not approved" in e for e in page.context["preview"].errors)


def test_live_preview_counts_recipients_the_vendors_encoding_cannot_carry(
    english_client, sim_account, recipient_list
):
    recipient_list.recipients.filter(phone="13800000001").update(
        variables={"name": "王堃", "points": "1"}
    )
    account = sim_account("smsadmin")  # GB2312
    response = english_client.post(
        reverse("portal:compose_preview"), form_data(recipient_list, account)
    )
    preview = response.context["preview"]
    assert preview.unencodable == 1 and preview.unencodable_examples == ["13800000001: 堃"]
    assert preview.est_sendable == 3
    html = response.content.decode()
    assert "the vendor's GB2312 cannot carry (13800000001: 堃)" in html
    # A UTF-8 vendor carries it.
    account.delete()
    utf8 = sim_account("ashx5g")
    response = english_client.post(
        reverse("portal:compose_preview"), form_data(recipient_list, utf8)
    )
    assert response.context["preview"].unencodable == 0
