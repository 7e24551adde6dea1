"""The campaign page tells the truth the pipeline keeps: unknown outcomes apart from
"awaiting report", why they are unknown, until when reports may settle them, "no report"
after the account's report window, the explicit resend, parts that may or may not be billed,
a campaign that is starting, and a pause the vendor caused.

Data is made through the services against the vendor simulator (an HTTP 500 makes the
outcome unknown, an authentication refusal pauses for the account)."""

import importlib
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import Campaign, Message
from messaging.services import campaign_commands, campaign_stats, lifecycle, sending, wording
from messaging.services.campaigns import refresh_counters
from messaging.statuses import Status
from messaging.views.portal.campaigns import paused_by_vendor

pytestmark = pytest.mark.django_db

HTTP_500 = "HTTP 500 from the vendor"
WORKER_LOST = (
    "The worker stopped while the request was at the vendor: the vendor may have this message."
)


@pytest.fixture
def chinese_client(marketer):
    client = Client(headers={"Accept-Language": "zh-hans"})
    client.cookies["django_language"] = "zh-hans"
    client.force_login(marketer)
    return client


def send_all(campaign) -> Campaign:
    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def unknown_campaign(draft, sim):
    """A completed campaign of 4 messages whose request got an HTTP 500 from the vendor: all
    unknown, one of them (for the grouping) lost with its worker instead."""
    campaign = draft()
    sending.start_campaign(campaign.pk)
    sim.misbehave("ashx5g", "error")
    send_all(campaign)
    sim.misbehave("ashx5g", "normal")
    assert campaign.status == Campaign.State.COMPLETED and campaign.unknown_count == 4
    last = Message.objects.filter(campaign=campaign).order_by("pk").last()
    Message.objects.filter(pk=last.pk).update(error=WORKER_LOST)
    campaign_stats.rebuild(campaign.pk)  # written by hand: the kept groups are recounted
    return campaign


def stats_of(client, campaign) -> dict:
    return client.get(reverse("portal:campaign_stats", args=[campaign.pk])).json()


def page_of(client, campaign) -> str:
    return client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()


# --------------------------------------------------------------------------- unknown


def test_unknown_is_counted_apart_from_awaiting_report_and_says_why(
    english_client, unknown_campaign
):
    stats = stats_of(english_client, unknown_campaign)
    counters = stats["counters"]
    assert counters["unknown"] == 4 and counters["awaiting"] == 0
    assert counters["submitted"] == 0 and counters["no_report"] == 0
    # Never billed as if sent: the parts are shown apart.
    assert counters["segments"] == 0 and counters["unresolved_segments"] == 4
    unresolved = stats["unresolved"]
    assert [(r["status"], r["reason"], r["n"]) for r in unresolved["reasons"]] == [
        (Status.UNKNOWN, HTTP_500, 3),
        (Status.UNKNOWN, WORKER_LOST, 1),
    ]
    # Until when reports may still settle them: the report window after the last send.
    last = (
        Message.objects.filter(campaign=unknown_campaign)
        .order_by("-submitted_at")
        .first()
        .submitted_at
    )
    assert unresolved["window_hours"] == 72
    assert unresolved["wait_until"] == (last + timedelta(hours=72)).isoformat()
    assert unresolved["can_resend"] and stats["actions"]["resend"]
    assert stats["live"]  # reports may still come


def test_campaign_page_explains_unknown_in_english(english_client, unknown_campaign):
    html = page_of(english_client, unknown_campaign)
    until = english_client.get(reverse("portal:campaign_stats", args=[unknown_campaign.pk])).json()[
        "unresolved"
    ]["wait_until_text"]
    assert 'data-counter="unknown">4<' in html and 'data-counter="awaiting">0<' in html
    assert "Outcome unknown" in html
    assert "The outcome of 4 messages is unknown" in html
    assert f"<td>{HTTP_500}</td>" in html and "<td>The worker stopped while" in html
    assert f"wait until {until}" in html and "72 hours" in html
    assert "become “no report” automatically" in html
    assert "may or may not be billed" in html
    # The resend: the risk is stated and a confirmation is required.
    assert reverse("portal:resend_unresolved", args=[unknown_campaign.pk]) in html
    assert "receive the message twice" in html
    assert 'name="accept_duplicates" value="1" required' in html
    assert "Send the unresolved messages again" in html


def test_campaign_page_explains_unknown_in_chinese(chinese_client, unknown_campaign):
    html = page_of(chinese_client, unknown_campaign)
    assert "结果未知" in html
    assert "4 条短信的结果未知" in html
    assert "72 小时" in html and "自动变为“无回执”" in html
    assert "可能计费" in html
    assert "重复收到" in html and "重新发送未决短信" in html


def test_no_report_after_the_window_is_final_shown_and_not_billed(
    english_client, chinese_client, unknown_campaign
):
    later = timezone.now() + timedelta(hours=73)
    assert campaign_commands.end_report_waits(later) == 4
    unknown_campaign.refresh_from_db()
    stats = stats_of(english_client, unknown_campaign)
    assert stats["counters"]["unknown"] == 0 and stats["counters"]["no_report"] == 4
    assert stats["counters"]["segments"] == 0 and stats["counters"]["unresolved_segments"] == 4
    assert stats["unresolved"]["wait_until"] is None
    assert {r["status"] for r in stats["unresolved"]["reasons"]} == {Status.NO_REPORT}
    assert sum(r["n"] for r in stats["unresolved"]["reasons"]) == 4
    # Not a failure: the vendor may have delivered them.
    assert stats["counters"]["failed"] == 0 and sum(stats["timeline"]["failed"]) == 0
    assert not stats["live"]
    html = page_of(english_client, unknown_campaign)
    assert 'data-counter="no_report">4<' in html
    assert "4 messages got no report within the report window" in html
    assert "not counted as billed" in html and "wait until" not in html
    assert "Send the unresolved messages again" in html
    html = page_of(chinese_client, unknown_campaign)
    assert "4 条短信在回执时限内没有收到状态报告" in html


def test_resend_needs_the_explicit_confirmation(english_client, unknown_campaign):
    url = reverse("portal:resend_unresolved", args=[unknown_campaign.pk])
    response = english_client.post(url, follow=True)
    assert any("twice" in str(m) for m in response.context["messages"])
    assert Message.objects.filter(campaign=unknown_campaign, status=Status.UNKNOWN).count() == 4
    with mock.patch.object(campaign_commands, "enqueue_batches"):
        response = english_client.post(url, {"accept_duplicates": "1"}, follow=True)
    assert any("4 unresolved messages" in str(m) for m in response.context["messages"])
    unknown_campaign.refresh_from_db()
    assert unknown_campaign.status == Campaign.State.SENDING
    assert unknown_campaign.pending_count == 4 and unknown_campaign.unknown_count == 0
    html = page_of(english_client, unknown_campaign)
    assert 'id="resend-form"' not in html and 'id="unresolved"' not in html


def test_resend_is_offered_only_when_settled_or_paused(english_client, draft, sim):
    campaign = draft()
    sending.start_campaign(campaign.pk)
    html = page_of(english_client, campaign)
    assert 'id="resend-form"' not in html  # nothing unresolved
    # One message lost with its worker while the campaign still sends: explained, no resend.
    message = Message.objects.filter(campaign=campaign).first()
    now = timezone.now()
    lifecycle.take_off(message.send_batch_id, [message.pk], now)
    lifecycle.record_unknown([message.pk], WORKER_LOST)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SENDING and campaign.unknown_count == 1
    html = page_of(english_client, campaign)
    assert 'id="unresolved"' in html and "The outcome of 1 message is unknown" in html
    assert 'id="resend-form"' not in html
    assert not stats_of(english_client, campaign)["actions"]["resend"]
    campaign_commands.pause(campaign.pk, "by hand")
    campaign.refresh_from_db()
    assert 'id="resend-form"' in page_of(english_client, campaign)


def test_billed_parts_leave_out_unknown_parts(english_client, draft, sim):
    sim.configure(outcome_weights={"delivered": 1.0})
    campaign = draft()
    sending.start_campaign(campaign.pk)
    messages = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    Message.objects.filter(pk=messages[0].pk).update(segments=2)
    refresh_counters([campaign.pk])
    lifecycle.take_off(messages[0].send_batch_id, [messages[0].pk], timezone.now())
    lifecycle.record_unknown([messages[0].pk], "HTTP 500")
    send_all(campaign)
    assert campaign.status == Campaign.State.COMPLETED
    stats = stats_of(english_client, campaign)
    assert stats["counters"]["submitted"] == 3 and stats["counters"]["awaiting"] == 3
    assert stats["counters"]["segments"] == 3  # the three the vendor took
    assert stats["counters"]["unresolved_segments"] == 2  # the unknown one's two parts
    assert stats["cost"] != stats["unresolved_cost"]


# --------------------------------------------------------------------------- starting


def test_a_starting_campaign_says_so_and_refreshes(english_client, chinese_client, draft):
    campaign = draft()
    campaign_commands.request_start(campaign.pk)  # its start is enqueued after commit
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING
    stats = stats_of(english_client, campaign)
    assert stats["status"] == "starting" and stats["live"]
    assert stats["status_label"] == "Starting: preparing messages"
    assert stats["actions"]["cancel"] and not stats["actions"]["pause"]
    html = page_of(english_client, campaign)
    assert "Starting: preparing messages" in html and ">Draft<" not in html
    assert "Check and send" not in html
    for url in (reverse("portal:campaigns"), reverse("portal:dashboard")):
        listing = english_client.get(url).content.decode()
        assert "Starting: preparing messages" in listing
    assert "启动中：正在准备短信" in page_of(chinese_client, campaign)
    assert stats_of(chinese_client, campaign)["status_label"] == "启动中：正在准备短信"


# --------------------------------------------------------------------------- pauses


def test_a_vendor_pause_shows_the_reason_and_what_to_do(english_client, chinese_client, draft, sim):
    campaign = draft()
    sending.start_campaign(campaign.pk)
    sim.misbehave("ashx5g", "auth_error", remaining=1)
    send_all(campaign)
    assert campaign.status == Campaign.State.PAUSED
    english = wording.shown(campaign.status_reason, "en")
    assert english.startswith("Paused: ")
    assert wording.shown(campaign.status_reason, "zh-hans").startswith("已暂停：")
    stats = stats_of(english_client, campaign)
    assert stats["paused_by_vendor"] and stats["status_reason"] == english
    html = page_of(english_client, campaign)
    assert english in html and "已暂停" not in html
    assert 'id="account-problem"' in html
    assert "An administrator must fix the vendor account" in html and "nothing is lost" in html
    html = page_of(chinese_client, campaign)
    assert "管理员" in html and "不会丢失" in html
    listing = english_client.get(reverse("portal:campaigns")).content.decode()
    assert "data-status-reason" in listing


def test_a_pause_by_the_marketer_tells_what_was_already_at_the_vendor(english_client, draft):
    campaign = draft()
    sending.start_campaign(campaign.pk)
    messages = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    lifecycle.take_off(messages[0].send_batch_id, [m.pk for m in messages[:2]], timezone.now())
    response = english_client.post(reverse("portal:pause", args=[campaign.pk]), follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert any("2 messages were already with the vendor" in t for t in texts), texts
    campaign.refresh_from_db()
    stats = stats_of(english_client, campaign)
    assert campaign.status == Campaign.State.PAUSED and not stats["paused_by_vendor"]
    html = page_of(english_client, campaign)
    assert "mike-marketer" in html and 'id="account-problem"' not in html


def test_what_paused_a_campaign_is_kept_with_it_and_cleared_by_the_resume(draft):
    """The page tells an administrator to act on the account from the cause kept with the
    pause, never from the words of its reason."""
    campaign = draft()
    sending.start_campaign(campaign.pk)
    assert campaign_commands.pause_for_account(campaign.pk, "余额不足")
    campaign.refresh_from_db()
    assert campaign.pause_cause == Campaign.PauseCause.VENDOR and paused_by_vendor(campaign)
    campaign_commands.resume(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.pause_cause == "" and not paused_by_vendor(campaign)
    # Paused by the send window, then by a person: a person's pause, not resumed by itself.
    assert campaign_commands.pause_for_window(campaign.pk, timezone.now())
    campaign.refresh_from_db()
    assert campaign.pause_cause == Campaign.PauseCause.WINDOW
    assert campaign_commands.pause_by_hand(campaign.pk, "mike")
    campaign.refresh_from_db()
    assert campaign.pause_cause == Campaign.PauseCause.PERSON and campaign.resume_at is None
    # A person's reason that reads like the vendor's is still a person's.
    Campaign.objects.filter(pk=campaign.pk).update(status_reason="Paused: 余额不足")
    campaign.refresh_from_db()
    assert not paused_by_vendor(campaign)


def test_the_migration_reads_the_cause_of_campaigns_paused_before_it(draft):
    from django.apps import apps

    causes_of_paused = importlib.import_module(
        "messaging.migrations.0016_pause_cause"
    ).causes_of_paused
    vendor = draft()
    person, window = (
        Campaign.objects.create(
            name=name,
            template=vendor.template,
            vendor_account=vendor.vendor_account,
            recipient_list=vendor.recipient_list,
        )
        for name in ("person", "window")
    )
    Campaign.objects.filter(pk=vendor.pk).update(
        status=Campaign.State.PAUSED, status_reason="已暂停：余额不足\nPaused: 余额不足"
    )
    Campaign.objects.filter(pk=person.pk).update(
        status=Campaign.State.PAUSED, status_reason="由 mike 暂停\nPaused by mike"
    )
    Campaign.objects.filter(pk=window.pk).update(
        status=Campaign.State.PAUSED, status_reason="x", resume_at=timezone.now()
    )
    causes_of_paused(apps, None)
    causes = dict(Campaign.objects.values_list("pk", "pause_cause"))
    assert (causes[vendor.pk], causes[person.pk], causes[window.pk]) == (
        "vendor",
        "person",
        "window",
    )


# --------------------------------------------------------------------------- admin


def test_admin_campaign_page_shows_the_same_outcome(admin_client, unknown_campaign):
    url = reverse("admin:messaging_campaign_change", args=[unknown_campaign.pk])
    admin_client.cookies["django_language"] = "en"
    html = admin_client.get(url).content.decode()
    assert 'id="outcome-counters"' in html
    assert "<th>Outcome unknown</th><td>4</td>" in html
    assert "<th>Awaiting report</th><td>0</td>" in html
    assert "<th>No report</th><td>0</td>" in html
    assert f"<td>{HTTP_500}</td>" in html and "<td>3</td>" in html
    assert "wait until" in html
    assert "<td>unknown</td>" not in html  # statuses in words
    admin_client.cookies["django_language"] = "zh-hans"
    html = admin_client.get(url).content.decode()
    assert "结果未知" in html and "无回执" in html
