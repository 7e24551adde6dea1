"""The one service of the send rules (``services.compliance``): its verdict, the send window's
arithmetic, the frequency caps, the notification permission."""

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from messaging.models import Campaign, Message, PortalSettings, SensitiveWord
from messaging.services import campaign_commands, compliance
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def rules_on(settings):
    """The portal's rules as production has them (the test settings relax them)."""
    settings.SEND_RULES_ENFORCED = True
    portal = PortalSettings.load()
    return portal


@pytest.fixture
def english():
    with translation.override("en"):
        yield


# --------------------------------------------------------------------------- the window


def test_window_opens_and_closes_at_its_minutes():
    window = compliance.Window(time(8), time(21))
    assert not window.is_open(at(1, 7, 59, 59))
    assert window.is_open(at(1, 8))
    assert window.is_open(at(1, 20, 59, 59))
    assert not window.is_open(at(1, 21))
    assert window.next_opening(at(1, 21, 0, 5)) == at(2, 8)
    assert window.next_opening(at(2, 3)) == at(2, 8)
    assert window.next_opening(at(2, 9)) == at(2, 9)  # open: now


def test_window_across_midnight_and_all_day():
    night = compliance.Window(time(22), time(6))
    assert night.is_open(at(1, 23)) and night.is_open(at(2, 5)) and not night.is_open(at(2, 12))
    assert night.next_opening(at(2, 12)) == at(2, 22)
    always = compliance.Window(time(0), time(0))
    assert always.always and always.is_open(at(1, 3))


def test_window_is_judged_in_shanghai_time_whatever_the_instant_given():
    window = compliance.Window(time(8), time(21))
    utc_noon = datetime(2026, 12, 1, 12, 30, tzinfo=ZoneInfo("UTC"))  # 20:30 in Shanghai
    assert window.is_open(utc_noon)
    assert not window.is_open(utc_noon + timedelta(minutes=31))


def test_account_overrides_and_campaign_narrows_the_window(rules_on, make_campaign, vendor_account):
    campaign = make_campaign(vendor_account, phones=["13800000001"])
    assert compliance.window_for(campaign) == compliance.Window(time(8), time(21))
    vendor_account.send_window_start, vendor_account.send_window_end = time(9), time(20)
    vendor_account.save()
    campaign.refresh_from_db()
    assert compliance.window_for(campaign) == compliance.Window(time(9), time(20))
    campaign.send_window_start, campaign.send_window_end = time(7), time(12)
    assert compliance.window_for(campaign) == compliance.Window(time(9), time(12))
    campaign.send_window_start, campaign.send_window_end = time(20, 30), None
    with pytest.raises(campaign_commands.CampaignError):
        compliance.window_for(campaign)


def test_notifications_are_not_held(rules_on, make_campaign, vendor_account):
    campaign = make_campaign(vendor_account, phones=["13800000001"], is_marketing=False)
    assert compliance.window_for(campaign) is None


def test_paused_text_says_when_it_goes_on(english):
    campaign = Campaign(status=Campaign.State.PAUSED, resume_at=at(2, 8))
    assert (
        compliance.paused_text(campaign, now=at(1, 21, 0, 5))
        == "Paused until 08:00 tomorrow (outside the send window)"
    )
    assert "08:00 today" in compliance.paused_text(campaign, now=at(2, 1))
    assert compliance.paused_text(Campaign(status=Campaign.State.PAUSED)) == ""


# --------------------------------------------------------------------------- the verdict


def test_verdict_moves_a_send_outside_the_window(rules_on, make_campaign, vendor_account):
    campaign = make_campaign(vendor_account, phones=["13800000001", "13800000002"])
    verdict = compliance.check(campaign, user=None, now=at(1, 23))
    assert verdict.ok and verdict.held
    assert verdict.opens_at == at(2, 8)
    assert verdict.excluded == {
        compliance.SUPPRESSED: 0,
        compliance.FREQUENCY_CAP: 0,
        compliance.MISSING: 0,
        compliance.UNENCODABLE: 0,
    }
    assert verdict.sendable == 2
    inside = compliance.check(campaign, user=None, now=at(1, 10))
    assert inside.ok and not inside.held


def test_confirm_outside_the_window_schedules_at_the_opening(
    rules_on, make_campaign, vendor_account, administrator, monkeypatch
):
    campaign = make_campaign(vendor_account, phones=["13800000001"])
    now = timezone.now()
    # Whatever the hour the test runs at: a window that closed a minute ago.
    local = timezone.localtime(now)
    rules_on.send_window_start = (
        (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    )
    rules_on.send_window_end = (
        (local - timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    )
    rules_on.save()
    outcome, verdict = compliance.confirm_send(campaign, user=administrator, exclude_missing=True)
    campaign.refresh_from_db()
    assert outcome == "scheduled" and campaign.status == Campaign.State.SCHEDULED
    assert campaign.scheduled_at == verdict.opens_at > now
    assert compliance.moved_text(verdict, None)


def test_sensitive_words_block_every_purpose(rules_on, make_campaign, vendor_account):
    SensitiveWord.objects.create(word="博彩")
    campaign = make_campaign(vendor_account, phones=["13800000001"], body="博彩优惠今日开启")
    for purpose in (compliance.CONFIRM, compliance.START, compliance.TEST):
        verdict = compliance.check(campaign, purpose=purpose, counts=False)
        assert not verdict.ok and "博彩" in " ".join(verdict.problems)


def test_a_notification_needs_the_permission_and_a_reason(
    make_campaign, vendor_account, marketer, administrator
):
    campaign = make_campaign(vendor_account, phones=["13800000001"], is_marketing=False)
    assert not compliance.check(campaign, user=marketer).ok
    assert not compliance.check(campaign, user=marketer, purpose=compliance.TEST).ok
    no_reason = compliance.check(campaign, user=administrator)
    assert not no_reason.ok
    verdict = compliance.check(campaign, user=administrator, reason="订单发货通知")
    assert verdict.ok and verdict.notification_override
    # A task starting what a person confirmed asks nobody.
    assert compliance.check(campaign, purpose=compliance.START, counts=False).ok


def test_marketing_needs_no_permission(make_campaign, vendor_account, marketer):
    campaign = make_campaign(vendor_account, phones=["13800000001"])
    verdict = compliance.check(campaign, user=marketer)
    assert verdict.ok and not verdict.notification_override


def test_checks_are_one_tuple_a_rule_can_join(make_campaign, vendor_account, monkeypatch):
    campaign = make_campaign(vendor_account, phones=["13800000001"])

    def needs_approval(context, verdict):
        verdict.needs_approval, verdict.approved = True, False
        verdict.problems.append("awaiting approval")

    monkeypatch.setattr(compliance, "CHECKS", (*compliance.CHECKS, needs_approval))
    verdict = compliance.check(campaign)
    assert verdict.problems == ["awaiting approval"] and verdict.needs_approval


# --------------------------------------------------------------------------- caps


def sent(campaign, phone, when, status=Status.DELIVERED):
    return Message.objects.create(
        campaign=campaign,
        vendor_account=campaign.vendor_account,
        phone=phone,
        content="x",
        custom_id=uuid.uuid4().hex,
        status=status,
        submitted_at=when,
    )


def earlier_today() -> datetime:
    """A moment before now that is still today in Shanghai: the day cap counts from local
    midnight, so "five minutes ago" is yesterday when the suite runs at 00:03."""
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (now - midnight) / 2


def started(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.State.COMPLETED, started_at=timezone.now(), finished_at=timezone.now()
    )


def test_caps_count_what_other_marketing_campaigns_really_sent(
    rules_on, make_campaign, vendor_account
):
    first = make_campaign(vendor_account, phones=["13800000001"])
    started(first)
    now = timezone.now()
    sent(first, "13800000001", earlier_today())
    sent(first, "13800000002", earlier_today(), status=Status.FAILED)
    sent(first, "13800000003", now - timedelta(days=8))
    second = make_campaign.again(first, phones=["13800000001", "13800000002", "13800000003"])
    rule = compliance.cap_rule(second)
    assert rule is not None and rule.campaign_ids == (first.pk,)
    phones = ["13800000001", "13800000002", "13800000003"]
    assert compliance.capped_phones(rule, phones) == {"13800000001"}
    verdict = compliance.check(second)
    assert verdict.excluded[compliance.FREQUENCY_CAP] == 1 and verdict.sendable == 2
    rules_on.cap_per_day = rules_on.cap_per_week = 0
    rules_on.save()
    assert compliance.cap_rule(second) is None


def test_caps_per_signature_count_each_signature_apart(rules_on, make_campaign, vendor_account):
    rules_on.caps_per_signature = True
    rules_on.save()
    first = make_campaign(vendor_account, phones=["13800000001"])
    started(first)
    sent(first, "13800000001", earlier_today())
    same = make_campaign.again(first, phones=["13800000001"])
    other = make_campaign(
        vendor_account, phones=["13800000001"], name="other", signature="【别家商城】"
    )
    assert compliance.capped_phones(compliance.cap_rule(same), ["13800000001"])
    assert compliance.cap_rule(other) is None


def test_notifications_are_not_capped(rules_on, make_campaign, vendor_account):
    first = make_campaign(vendor_account, phones=["13800000001"])
    started(first)
    sent(first, "13800000001", timezone.now())
    notice = make_campaign(vendor_account, phones=["13800000001"], is_marketing=False)
    assert compliance.cap_rule(notice) is None
