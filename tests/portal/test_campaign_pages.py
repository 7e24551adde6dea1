"""Campaign page (stats endpoint, operations), lists and the reply inbox."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import Campaign, InboundMessage, Message, Recipient, RecipientList
from messaging.services import sending
from messaging.services.campaigns import refresh_counters
from messaging.statuses import Status

pytestmark = pytest.mark.django_db


def started(campaign):
    sending.start_campaign(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def test_stats_endpoint_gives_counters_funnel_codes_and_timeline(marketer_client, draft):
    campaign = started(draft())
    now = timezone.now()
    messages = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    for message, (status, code) in zip(
        messages,
        [
            (Status.DELIVERED, "DELIVRD"),
            (Status.DELIVERED, "DELIVRD"),
            (Status.UNDELIVERED, "MK:0001"),
            (Status.SUBMITTED, ""),
        ],
        strict=True,
    ):
        message.status, message.vendor_status_code = status, code
        message.vendor_status_description = "成功" if code == "DELIVRD" else ""
        message.final_at = now - timedelta(minutes=2) if status != Status.SUBMITTED else None
        message.save()
    refresh_counters([campaign.pk])
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.COMPLETED, finished_at=now)
    stats = marketer_client.get(reverse("portal:campaign_stats", args=[campaign.pk])).json()
    assert stats["counters"] == {
        "total": 4,
        "pending": 0,
        "skipped": 0,
        "submitted": 4,
        "delivered": 2,
        "failed": 1,
        "unknown": 0,
        "no_report": 0,
        "awaiting": 1,
        "segments": 4,
        "unresolved_segments": 0,
    }
    assert stats["unresolved"]["reasons"] == [] and not stats["actions"]["resend"]
    assert stats["funnel"]["values"] == [4, 4, 2]
    assert stats["delivery_rate"] == pytest.approx(66.7)
    assert [(c["code"], c["n"]) for c in stats["codes"]] == [("DELIVRD", 2), ("MK:0001", 1)]
    assert sum(stats["timeline"]["delivered"]) == 2 and sum(stats["timeline"]["failed"]) == 1
    assert stats["live"]  # a report is still awaited
    assert stats["actions"] == {
        "edit": False,
        "confirm": False,
        "review": False,
        "pause": False,
        "resume": False,
        "cancel": False,
        "resend": False,
    }


def test_campaign_page_shows_charts_replies_and_exports(english_client, draft):
    campaign = started(draft())
    InboundMessage.objects.create(
        vendor_account=campaign.vendor_account,
        campaign=campaign,
        phone="13800000001",
        content="TD",
        is_opt_out=True,
        received_at=timezone.now(),
        raw="",
    )
    page = english_client.get(reverse("portal:campaign", args=[campaign.pk]))
    html = page.content.decode()
    for canvas in ("funnel-chart", "codes-chart", "timeline-chart"):
        assert f'id="{canvas}"' in html
    assert "Opt-out" in html and "13800000001" in html
    assert 'data-export="messages-xlsx"' in html and 'data-export="replies-csv"' in html
    assert 'data-action="pause"' in html


def test_pause_resume_cancel(
    marketer_client, draft, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = started(draft())
    assert campaign.status == Campaign.State.SENDING
    marketer_client.post(reverse("portal:pause", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.PAUSED and "mike-marketer" in campaign.status_reason
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(reverse("portal:resume", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED  # resumed batches ran (sync tasks)
    response = marketer_client.post(reverse("portal:cancel", args=[campaign.pk]), follow=True)
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_cancel_withdraws_unsent_messages(marketer_client, draft):
    campaign = started(draft())
    marketer_client.post(reverse("portal:cancel", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.CANCELLED
    assert Message.objects.filter(campaign=campaign, status=Status.SKIPPED).count() == 4


def test_operations_need_post(marketer_client, draft):
    campaign = started(draft())
    for name in ("portal:pause", "portal:resume", "portal:cancel"):
        assert marketer_client.get(reverse(name, args=[campaign.pk])).status_code == 405


def test_campaign_list_filters(marketer_client, draft):
    campaign = draft()
    page = marketer_client.get(reverse("portal:campaigns"), {"status": "draft", "q": "积分"})
    assert list(page.context["page"]) == [campaign]
    page = marketer_client.get(reverse("portal:campaigns"), {"status": "sending"})
    assert list(page.context["page"]) == []


# --------------------------------------------------------------------------- lists


def test_lists_link_to_the_import_page_and_show_recipients(marketer_client, recipient_list):
    page = marketer_client.get(reverse("portal:lists"))
    html = page.content.decode()
    assert reverse("portal:import_upload", args=[recipient_list.pk]) in html
    detail = marketer_client.get(reverse("portal:list", args=[recipient_list.pk]))
    html = detail.content.decode()
    assert "13800000001" in html and "用户1" in html
    assert reverse("portal:export_recipients", args=[recipient_list.pk, "xlsx"]) in html


def test_new_list_goes_to_the_import_page(marketer_client, marketer):
    response = marketer_client.post(reverse("portal:lists"), {"name": "新名单"})
    created = RecipientList.objects.get(name="新名单")
    assert created.created_by == marketer
    assert response["Location"] == reverse("portal:import_upload", args=[created.pk])


# --------------------------------------------------------------------------- inbox


@pytest.fixture
def replies(draft):
    campaign = started(draft())
    account = campaign.vendor_account
    now = timezone.now()
    make = InboundMessage.objects.create
    return [
        make(
            vendor_account=account,
            campaign=campaign,
            phone="13800000001",
            content="好的，谢谢",
            received_at=now,
            raw="",
        ),
        make(
            vendor_account=account,
            campaign=campaign,
            phone="13800000002",
            content="TD",
            is_opt_out=True,
            received_at=now - timedelta(days=2),
            raw="",
        ),
        make(
            vendor_account=account,
            phone="13999999999",
            content="你们是谁",
            is_read=True,
            received_at=now - timedelta(days=5),
            raw="",
        ),
    ]


def test_inbox_lists_and_filters_replies(english_client, replies):
    url = reverse("portal:inbox")
    page = english_client.get(url)
    html = page.content.decode()
    assert [r.pk for r in page.context["page"]] == [r.pk for r in replies]
    assert "data-opt-out" in html and "Opt-out" in html
    assert reverse("portal:campaign", args=[replies[0].campaign_id]) in html
    assert len(english_client.get(url, {"read": "false"}).context["page"].object_list) == 2
    assert [r.pk for r in english_client.get(url, {"opt_out": "true"}).context["page"]] == [
        replies[1].pk
    ]
    by_campaign = english_client.get(url, {"campaign": replies[0].campaign_id})
    assert len(by_campaign.context["page"].object_list) == 2
    assert [r.pk for r in english_client.get(url, {"q": "谢谢"}).context["page"]] == [replies[0].pk]
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert len(english_client.get(url, {"date_from": since}).context["page"].object_list) == 1


def test_inbox_partial_for_htmx(english_client, replies):
    response = english_client.get(
        reverse("portal:inbox"), {"q": "TD"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    html = response.content.decode()
    assert "<html" not in html and 'id="inbox-table"' in html


def test_mark_read_and_unread(marketer_client, replies):
    url = reverse("portal:inbox_mark")
    marketer_client.post(url, {"ids": [replies[0].pk], "mark": "read"})
    replies[0].refresh_from_db()
    assert replies[0].is_read
    marketer_client.post(url, {"ids": [replies[0].pk], "mark": "unread"})
    replies[0].refresh_from_db()
    assert not replies[0].is_read
    marketer_client.post(url, {"all": "1", "mark": "read", "opt_out": "true"})
    assert set(InboundMessage.objects.filter(is_read=False).values_list("pk", flat=True)) == {
        replies[0].pk
    }
    marketer_client.post(url, {"all": "1", "mark": "read"})
    assert not InboundMessage.objects.filter(is_read=False).exists()


def test_navigation_badge_counts_unread(marketer_client, replies):
    html = marketer_client.get(reverse("portal:campaigns")).content.decode()
    assert '<span class="count"' in html


def test_recipient_pages_mark_suppressed_phones(marketer_client, recipient_list):
    from messaging.models import Suppression

    Suppression.objects.create(phone="13800000002", reason="opt_out")
    Recipient.objects.filter(recipient_list=recipient_list)
    html = marketer_client.get(reverse("portal:list", args=[recipient_list.pk])).content.decode()
    assert html.count('class="badge opt-out"') == 1
