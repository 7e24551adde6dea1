"""What administrators and marketers see: push URL, statuses in both languages, unmatched
reports, the replies inbox (admin and the service behind the marketer's page)."""

import datetime as dt

import pytest
from django.utils import timezone, translation

from messaging.models import DeliveryReport, InboundMessage, Message
from messaging.services import inbox
from messaging.services.replies import record_replies
from messaging.services.reports import apply_status_events
from messaging.statuses import Status
from messaging.vendors.base import InboundReply, StatusEvent

pytestmark = pytest.mark.django_db
CHINA = dt.timezone(dt.timedelta(hours=8))


def test_account_page_shows_its_push_url(admin_client, vendor_account):
    response = admin_client.get(f"/admin/messaging/vendoraccount/{vendor_account.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert vendor_account.push_url in page
    assert vendor_account.push_token in vendor_account.push_url


def test_marketers_never_see_the_push_url(marketer_client, vendor_account):
    response = marketer_client.get(f"/admin/messaging/vendoraccount/{vendor_account.pk}/change/")
    assert response.status_code == 200
    assert vendor_account.push_token not in response.content.decode()


@pytest.fixture
def reported(vendor_account):
    message = Message.objects.create(
        vendor_account=vendor_account,
        phone="13800000001",
        content="x",
        custom_id="a1",
        vendor_message_id="v-1",
        status=Status.SUBMITTED,
    )
    event = StatusEvent("v-1", Status.UNDELIVERED, "UNDELIV", "失败", "Not delivered")
    apply_status_events(
        vendor_account, [event, StatusEvent("v-x", Status.DELIVERED, "DELIVRD")], "push"
    )
    return message


def test_message_admin_shows_the_vendors_words_and_our_meaning_in_the_ui_language(
    admin_client, reported
):
    """The vendor's code and words as it sent them; our meaning in the UI language only."""
    with translation.override("en"):
        page = admin_client.get("/admin/messaging/message/", HTTP_ACCEPT_LANGUAGE="en")
        text = page.content.decode()
        assert "Undelivered" in text and "UNDELIV" in text and "失败" in text
        detail = admin_client.get(
            f"/admin/messaging/message/{reported.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
        )
        assert "失败" in detail.content.decode() and "Not delivered" in detail.content.decode()
        # Its reports are listed with it; the unmatched one is not.
        detail = admin_client.get(
            f"/admin/messaging/message/{reported.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
        )
        inline = detail.content.decode().split('id="reports-group"')[1]
        assert "UNDELIV" in inline and "Pushed by vendor" in inline
        assert "DELIVRD" not in inline
    page = admin_client.get("/admin/messaging/message/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "失败" in page.content.decode()
    detail = admin_client.get(
        f"/admin/messaging/message/{reported.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "失败" in detail and "未送达" in detail and "Not delivered" not in detail


def test_unmatched_reports_stay_visible_to_admins(admin_client, reported):
    unmatched = admin_client.get("/admin/messaging/deliveryreport/?matched=no").content.decode()
    matched = admin_client.get("/admin/messaging/deliveryreport/?matched=yes").content.decode()
    assert "v-x" in unmatched and "v-1" not in unmatched
    assert "v-1" in matched and "v-x" not in matched
    assert DeliveryReport.objects.filter(message__isnull=True).count() == 1


@pytest.fixture
def replies(vendor_account, make_campaign):
    campaign = make_campaign(vendor_account, phones=["13800000001"])
    Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13800000001",
        content="x",
        custom_id="r1",
        vendor_message_id="m-1",
        status=Status.DELIVERED,
        submitted_at=timezone.now(),
    )
    record_replies(
        vendor_account,
        [
            InboundReply("13800000001", "ＴＤ", dt.datetime(2024, 5, 1, 9, tzinfo=CHINA)),
            InboundReply("13900000002", "你好", dt.datetime(2024, 5, 2, 9, tzinfo=CHINA)),
        ],
    )
    return campaign


def test_admin_inbox_filters_links_and_mark_read(admin_client, replies, vendor_account):
    page = admin_client.get("/admin/messaging/inboundmessage/").content.decode()
    assert f"/admin/messaging/campaign/{replies.pk}/change/" in page
    assert "⛔" in page  # the opt-out is marked
    only = admin_client.get("/admin/messaging/inboundmessage/?is_opt_out__exact=1").content
    assert "ＴＤ" in only.decode() and "你好" not in only.decode()
    by_day = admin_client.get(
        "/admin/messaging/inboundmessage/"
        "?received_at__year=2024&received_at__month=5&received_at__day=2"
    ).content.decode()
    assert "你好" in by_day and "ＴＤ" not in by_day
    ids = list(InboundMessage.objects.values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/messaging/inboundmessage/",
        {"action": "mark_read", "_selected_action": ids},
    )
    assert response.status_code == 302
    assert not InboundMessage.objects.filter(is_read=False).exists()


def test_inbox_service_filters(marketer, replies, vendor_account):
    everything = inbox.inbox_queryset(marketer)
    assert [r.content for r in everything] == ["你好", "ＴＤ"]  # newest first
    assert [r.content for r in inbox.inbox_queryset(marketer, {"opt_out": "1"})] == ["ＴＤ"]
    assert inbox.inbox_queryset(marketer, {"account": str(vendor_account.pk + 1)}).count() == 0
    assert inbox.inbox_queryset(marketer, {"campaign": str(replies.pk)}).get().content == "ＴＤ"
    day = {"date_from": "2024-05-02", "date_to": "2024-05-02"}
    assert [r.content for r in inbox.inbox_queryset(marketer, day)] == ["你好"]
    assert inbox.inbox_queryset(marketer, {"q": "13900000002"}).get().content == "你好"
    assert inbox.inbox_queryset(marketer, {"date_from": "2024-02-30", "x": "y"}).count() == 2
    assert inbox.unread_count(marketer) == 2


def test_inbox_mark_read_and_permissions(marketer, django_user_model, replies):
    ids = InboundMessage.objects.values_list("pk", flat=True)
    assert inbox.mark_read(ids, user=marketer) == 2
    assert inbox.mark_read(ids, user=marketer) == 0  # already read
    assert inbox.inbox_queryset(marketer, {"unread": "1"}).count() == 0
    assert inbox.mark_unread(ids[:1], user=marketer) == 1
    nobody = django_user_model.objects.create_user("nobody", password="x")
    assert inbox.inbox_queryset(nobody).count() == 0
    assert inbox.mark_read(ids, user=nobody) == 0
