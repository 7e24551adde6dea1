"""The confirm page (and the admin's send page) count and list the recipients whose text the
account's request encoding cannot carry, with the missing values' leave-out-or-stop choice."""

import pytest
from django.urls import reverse

from messaging.models import Campaign, Message
from messaging.services import wording
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

KUN = "13800000002"  # 用户2 becomes 王堃: GB2312 has no 堃


@pytest.fixture
def gb2312_draft(draft, recipient_list):
    """A draft on an smsadmin (GB2312) account to 4 recipients, one of them 王堃."""
    kun = recipient_list.recipients.get(phone=KUN)
    kun.variables = {**kun.variables, "name": "王堃"}
    kun.save()
    return draft("smsadmin")


def confirm_page(client, campaign):
    page = client.get(reverse("portal:confirm", args=[campaign.pk]))
    assert page.status_code == 200
    return page.content.decode()


def test_confirm_page_lists_them_in_english(english_client, gb2312_draft):
    html = confirm_page(english_client, gb2312_draft)
    assert "Text GB2312 cannot carry" in html
    assert '<dd data-figure="unencodable">1</dd>' in html
    assert "Recipients whose text GB2312 cannot carry" in html
    assert f"<li>{KUN}: 堃</li>" in html
    assert "Leave out recipients missing a value or with text the vendor cannot carry" in html
    assert "Stop if any recipient misses a value or has text the vendor cannot carry" in html
    assert "3 messages (3 billed parts" in html
    assert "王堃" not in html  # not among the messages to send


def test_confirm_page_lists_them_in_chinese(marketer_client, gb2312_draft):
    html = confirm_page(marketer_client, gb2312_draft)
    assert "GB2312 无法表示的内容" in html
    assert '<dd data-figure="unencodable">1</dd>' in html
    assert "内容含 GB2312 无法表示字符的收件人" in html
    assert f"<li>{KUN}: 堃</li>" in html
    assert "排除缺少变量值或内容含服务商无法表示字符的收件人" in html
    assert "如有收件人缺少变量值或内容含服务商无法表示的字符则停止发送" in html


def test_nothing_is_said_when_the_account_carries_everything(english_client, draft, recipient_list):
    kun = recipient_list.recipients.get(phone=KUN)
    kun.variables = {**kun.variables, "name": "王堃"}
    kun.save()
    html = confirm_page(english_client, draft("ashx5g"))  # UTF-8 requests
    assert "cannot carry" not in html
    assert "4 messages (4 billed parts" in html


def test_confirm_leaves_them_out_and_sends_the_others(
    english_client, gb2312_draft, sim, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = gb2312_draft
    with django_capture_on_commit_callbacks(execute=True):
        english_client.post(
            reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1", "missing": "exclude"}
        )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED, campaign.status_reason
    skipped = Message.objects.get(campaign=campaign, status=Status.SKIPPED)
    assert skipped.phone == KUN
    assert wording.shown(skipped.error, "en") == "The vendor's GB2312 cannot carry: 堃"
    sent = sorted(row["phone"] for row in sim.accepted(vendor="smsadmin"))
    assert sent == ["13800000001", "13800000003", "13800000004"]


def test_confirm_with_stop_refuses_the_start(
    english_client, gb2312_draft, sim, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = gb2312_draft
    with django_capture_on_commit_callbacks(execute=True):
        english_client.post(
            reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1", "missing": "stop"}
        )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.FAILED
    assert wording.shown(campaign.status_reason, "en") == (
        f"1 recipients have characters the vendor's GB2312 cannot carry (first: {KUN}: 堃)."
    )
    assert not Message.objects.filter(campaign=campaign).exists()
    assert sim.accepted(vendor="smsadmin") == []


def test_admin_send_page_lists_them(english_client, gb2312_draft):
    page = english_client.get(reverse("admin:messaging_campaign_send", args=[gb2312_draft.pk]))
    html = page.content.decode()
    assert page.context["preview"].unencodable == [(KUN, ["堃"])]
    assert "Recipients whose text GB2312 cannot carry" in html
    assert f"<li>{KUN}: 堃</li>" in html
    assert "Leave out recipients missing a value or with text the vendor cannot carry" in html
