"""The send rules through the pipeline, against the vendor simulator: a campaign sending when
the send window closes pauses by itself and goes on at the next opening; frequency caps
across two campaigns; the pages' confirmations refuse what the rules refuse."""

from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import AuditEvent
from messaging import tasks
from messaging.models import Campaign, Message, PortalSettings, SensitiveWord
from messaging.services import compliance, sending, wording
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def rules_on(settings):
    settings.SEND_RULES_ENFORCED = True
    return PortalSettings.load()


@pytest.fixture
def clock(monkeypatch):
    """The time the send window is judged by, set by the test."""

    class Clock:
        now = at(1, 12)

        def set(self, when):
            self.now = when

    fake = Clock()
    monkeypatch.setattr(compliance, "clock", lambda: fake.now)
    return fake


def send_pending(campaign):
    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)
    campaign.refresh_from_db()


def test_a_campaign_pauses_when_the_window_closes_and_goes_on_when_it_opens(
    rules_on, clock, sim, sim_account, make_campaign, monkeypatch
):
    rules_on.cap_per_day = rules_on.cap_per_week = 0  # the window alone
    rules_on.save()
    monkeypatch.setattr(sending, "MAX_BATCH", 2)  # three batches of two
    campaign = make_campaign(sim_account("ashx5g"), n=6)
    clock.set(at(1, 20, 59, 50))
    sending.start_campaign(campaign.pk)
    batches = sending.pending_batches(campaign.pk)
    assert len(batches) == 3
    sending.send_batch(batches[0])  # 20:59:50: out
    clock.set(at(1, 21, 0, 5))  # the next batch would leave at 21:00:05: it waits
    with translation.override("en"):  # the reason is written in the active language
        outcome = sending.send_batch(batches[1])
    campaign.refresh_from_db()
    assert outcome.submitted == 0
    assert campaign.status == Campaign.State.PAUSED
    assert campaign.resume_at == at(2, 8)
    with translation.override("en"):
        assert wording.shown(campaign.status_reason, "en") == "Outside the send window"
        assert (
            compliance.paused_text(campaign, now=clock.now)
            == "Paused until 08:00 tomorrow (outside the send window)"
        )
    assert len(sim.accepted(vendor="ashx5g")) == 2
    assert campaign.pending_count == 4

    clock.set(at(2, 7, 59))
    tasks.dispatch()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.PAUSED  # not yet

    clock.set(at(2, 8, 0, 30))
    tasks.dispatch()  # the minutely dispatcher resumes it
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SENDING and campaign.resume_at is None
    send_pending(campaign)
    assert campaign.status == Campaign.State.COMPLETED
    counts = Counter(row["phone"] for row in sim.accepted(vendor="ashx5g"))
    assert len(counts) == 6 and set(counts.values()) == {1}


def test_a_notification_is_not_held_by_the_window(rules_on, clock, sim, sim_account, make_campaign):
    campaign = make_campaign(sim_account("ashx5g"), n=2, is_marketing=False)
    clock.set(at(1, 23, 30))
    sending.start_campaign(campaign.pk)
    send_pending(campaign)
    assert campaign.status == Campaign.State.COMPLETED and campaign.submitted_count == 2


def test_the_pages_show_when_a_paused_campaign_goes_on(
    rules_on, sim, sim_account, make_campaign, marketer_client, admin_client, clock
):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    sending.start_campaign(campaign.pk)
    clock.set(at(1, 22))
    send_pending(campaign)
    assert campaign.status == Campaign.State.PAUSED and campaign.resume_at == at(2, 8)
    for client, url in (
        (marketer_client, reverse("portal:campaign", args=[campaign.pk])),
        (admin_client, reverse("admin:messaging_campaign_change", args=[campaign.pk])),
    ):
        client.cookies["django_language"] = "en"
        page = client.get(url).content.decode()
        assert "Paused until" in page and "(outside the send window)" in page


def test_caps_across_two_campaigns(rules_on, sim, sim_account, make_campaign, marketer_client):
    """The second campaign skips the phone the first one sent today, counted on the confirm
    page before the send and skipped for "frequency cap" by the start."""
    rules_on.send_window_start = rules_on.send_window_end = time(0)  # the caps alone
    rules_on.save()
    account = sim_account("ashx5g")
    first = make_campaign(account, phones=["13800000001", "13800000002"])
    sending.start_campaign(first.pk)
    send_pending(first)
    assert first.submitted_count == 2
    second = make_campaign.again(first, phones=["13800000001", "13800000003"])
    page = marketer_client.get(reverse("portal:confirm", args=[second.pk]))
    assert page.context["rules"].excluded[compliance.FREQUENCY_CAP] == 1
    assert page.context["preview"].sendable == 1
    assert b'data-figure="capped">1<' in page.content
    with translation.override("en"):  # the reason is written in the active language
        sending.start_campaign(second.pk)
    send_pending(second)
    with translation.override("en"):
        skipped = Message.objects.get(campaign=second, phone="13800000001")
        assert (
            skipped.status == Status.SKIPPED
            and wording.shown(skipped.error, "en") == "Frequency cap"
        )
    assert second.skipped_count == 1 and second.submitted_count == 1
    counts = Counter(row["phone"] for row in sim.accepted(vendor="ashx5g"))
    assert counts == {"13800000001": 1, "13800000002": 1, "13800000003": 1}


def test_the_admin_send_page_refuses_a_sensitive_word(admin_client, make_campaign, sim_account):
    SensitiveWord.objects.create(word="博彩")
    campaign = make_campaign(sim_account("ashx5g"), phones=["13800000001"], body="博彩优惠开启")
    url = reverse("admin:messaging_campaign_send", args=[campaign.pk])
    page = admin_client.get(url)
    assert "博彩" in page.content.decode() and b'name="confirm"' not in page.content
    admin_client.post(url, {"confirm": "1"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT


def test_a_notification_override_is_audited(
    admin_client, marketer_client, administrator, make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), phones=["13800000001"], is_marketing=False)
    confirm = reverse("portal:confirm", args=[campaign.pk])
    # A marketer may not send a notification at all.
    marketer_client.post(confirm, {"confirm": "1", "notification_reason": "发货通知"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    # An administrator must say why.
    admin_client.post(confirm, {"confirm": "1"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.COMPLIANCE_OVERRIDE).exists()
    admin_client.post(confirm, {"confirm": "1", "notification_reason": "订单发货通知，非营销"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING
    event = AuditEvent.objects.get(action=AuditEvent.Action.COMPLIANCE_OVERRIDE)
    assert event.actor == administrator and event.object_id == str(campaign.pk)
    assert event.details["reason"] == "订单发货通知，非营销"


def test_a_confirmation_outside_the_window_is_moved_to_its_opening(
    rules_on, marketer_client, make_campaign, vendor_account
):
    campaign = make_campaign(vendor_account, phones=["13800000001"])
    # Whatever the hour the test runs at: a window that closed a minute ago.
    local = timezone.localtime()
    rules_on.send_window_start = (
        (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    )
    rules_on.send_window_end = (
        (local - timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    )
    rules_on.save()
    marketer_client.cookies["django_language"] = "en"
    page = marketer_client.post(
        reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1"}, follow=True
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SCHEDULED
    assert timezone.localtime(campaign.scheduled_at).time() == rules_on.send_window_start
    assert "Marketing messages go out only within the send window" in page.content.decode()
