"""Polling reports and replies from the vendor simulators over real HTTP."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone
from django_q.models import Schedule

from messaging import tasks
from messaging.models import DeliveryReport, InboundMessage, Message, VendorAccount
from messaging.services import polling, schedules
from messaging.statuses import FINAL_STATUSES, Status
from messaging.vendors.base import OutgoingMessage

from .conftest import send_campaign

pytestmark = pytest.mark.django_db

POLLING = {"polling_enabled": True, "poll_interval_s": 10}
"""The accounts here poll, every 10 s."""


def no_sleep(seconds):
    pass


def time_passes(account, waits=None):
    """A ``sleep`` for the poller that moves the account's poll times back instead of waiting."""

    def sleep(seconds):
        if waits is not None:
            waits.append(seconds)
        earlier = dt.timedelta(seconds=seconds)
        VendorAccount.objects.filter(pk=account.pk).update(
            reports_polled_at=F("reports_polled_at") - earlier,
            replies_polled_at=F("replies_polled_at") - earlier,
        )

    return sleep


def sent_through(sim, account, make_campaign, n=3):
    campaign = make_campaign(account, phones=[f"1380000{i:04d}" for i in range(1, n + 1)])
    send_campaign(campaign)
    sim.state.tick()
    assert Message.objects.filter(campaign=campaign, status=Status.SUBMITTED).count() == n
    return campaign


def fresh(account) -> VendorAccount:
    return VendorAccount.objects.get(pk=account.pk)


@pytest.mark.parametrize("vendor", ["ashx5g", "actiongw", "montnets", "smsadmin", "smscn"])
def test_reports_are_polled_and_applied(vendor, sim, sim_account, make_campaign):
    account = sim_account(vendor, **POLLING)
    campaign = sent_through(sim, account, make_campaign)
    outcome = polling.poll_once(account, polling.REPORTS)
    assert outcome.claimed and outcome.items == 3 and not outcome.error
    statuses = set(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses <= FINAL_STATUSES
    assert DeliveryReport.objects.filter(source="poll", message__isnull=False).count() == 3
    campaign.refresh_from_db()
    assert campaign.delivered_count + campaign.failed_count == 3
    assert fresh(account).reports_polled_at is not None


@pytest.mark.parametrize("vendor", ["ashx5g", "actiongw", "smsadmin", "smscn"])
def test_replies_are_polled_and_linked(vendor, sim, sim_account, make_campaign):
    account = sim_account(vendor, **POLLING)
    campaign = sent_through(sim, account, make_campaign, n=1)
    # A reply to the account's sender number (its extension, 12) and one to another extension.
    for extension, content in (("12", "好的"), ("77", "别的")):
        sim.inject_reply(
            vendor=vendor,
            account_id=account.account_id,
            phone="13800000001",
            content=content,
            extension=extension,
        )
    outcome = polling.poll_once(account, polling.REPLIES)
    assert outcome.claimed and outcome.items == 2, outcome
    reply = InboundMessage.objects.get(content="好的")
    assert (reply.phone, reply.campaign) == ("13800000001", campaign)
    assert reply.message.campaign == campaign and not reply.is_opt_out
    assert reply.extension.endswith("12")
    other = InboundMessage.objects.get(content="别的")
    assert other.campaign is None and other.message is None  # stored, not linked


def test_montnets_has_no_reply_polling(sim_account):
    account = sim_account("montnets", **POLLING)
    assert polling.kinds_for(account) == [polling.REPORTS]


def test_no_second_call_before_the_interval(sim, sim_account, make_campaign):
    account = sim_account("ashx5g", **POLLING)
    sent_through(sim, account, make_campaign, n=1)
    assert polling.poll_once(account, polling.REPORTS).claimed
    # Whoever asks next (another worker, the command) is refused by the claim, not the vendor.
    assert not polling.poll_once(fresh(account), polling.REPORTS).claimed
    # ashx5g's interval spans every call of the account: replies wait as well.
    assert not polling.poll_once(fresh(account), polling.REPLIES).claimed
    assert polling.poll_due([fresh(account)]) == []


def test_vendors_without_a_shared_interval_poll_each_kind_on_its_own(
    sim, sim_account, make_campaign
):
    account = sim_account("smscn", **POLLING)
    sent_through(sim, account, make_campaign, n=1)
    assert polling.poll_once(account, polling.REPORTS).claimed
    assert not polling.poll_once(fresh(account), polling.REPORTS).claimed
    assert [s.kind for s in polling.poll_due([fresh(account)])] == ["replies"]


def test_shared_interval_spaces_reports_and_replies_past_a_strict_gateway(
    sim, sim_account, make_campaign
):
    """ashx5g answers 920 to a second manual call within 5 s, whatever its kind: the claim
    keeps every call of the account that far apart, so replies are never refused."""
    account = sim_account("ashx5g", **POLLING)
    sent_through(sim, account, make_campaign, n=1)
    sim.inject_reply(
        vendor="ashx5g", account_id=account.account_id, phone="13800000001", content="好的"
    )
    assert polling.poll_once(account, polling.REPORTS).claimed
    assert not polling.poll_once(fresh(account), polling.REPLIES).claimed
    # Nine seconds later, for the portal and for the gateway alike.
    VendorAccount.objects.filter(pk=account.pk).update(
        reports_polled_at=timezone.now() - dt.timedelta(seconds=9)
    )
    with sim.state.lock:
        for key in sim.state.last_poll:
            sim.state.last_poll[key] -= 9
    outcome = polling.poll_once(fresh(account), polling.REPLIES)
    assert outcome.claimed and not outcome.error and outcome.stored == 1


def test_draining_while_more_are_waiting(sim, sim_account, make_campaign):
    # smsadmin hands out at most 20 reports per call.
    sim.configure(enforce_poll_interval=False)
    account = sim_account("smsadmin", **POLLING)
    sent_through(sim, account, make_campaign, n=45)
    waits = []
    summary = polling.poll_account(account, polling.REPORTS, sleep=time_passes(account, waits))
    assert (summary.calls, summary.items) == (3, 45)
    # Between drain calls it waits for the vendor's minimum interval, never less.
    assert waits == [5.0, 5.0]
    assert not Message.objects.filter(status=Status.SUBMITTED).exists()


def test_draining_stops_at_the_cap(sim, sim_account, make_campaign):
    sim.configure(enforce_poll_interval=False)
    account = sim_account("smsadmin", **POLLING)
    sent_through(sim, account, make_campaign, n=45)
    summary = polling.poll_account(
        account, polling.REPORTS, max_calls=2, sleep=time_passes(account)
    )
    assert (summary.calls, summary.items) == (2, 40)


def test_rate_limit_answer_backs_off(sim, sim_account, make_campaign):
    account = sim_account("ashx5g", **POLLING)
    sent_through(sim, account, make_campaign, n=2)
    sim.misbehave("ashx5g", "rate_limit", paths=["/rpt.ashx"])
    before = timezone.now()
    summary = polling.poll_account(account, polling.REPORTS, sleep=no_sleep)
    assert summary.calls == 1 and summary.rate_limited
    account = fresh(account)
    assert account.poll_backoff_until >= before + dt.timedelta(seconds=polling.interval_s(account))
    assert "920" in account.last_error or "频" in account.last_error
    # Backing off: nothing is polled, not even replies, until the time has passed.
    sim.misbehave("ashx5g", "normal")
    assert polling.poll_due([account], force=True) == []
    assert not polling.poll_once(account, polling.REPLIES, gap_s=0).claimed
    VendorAccount.objects.filter(pk=account.pk).update(
        poll_backoff_until=timezone.now() - dt.timedelta(seconds=1),
        reports_polled_at=timezone.now() - dt.timedelta(minutes=1),
    )
    outcome = polling.poll_once(fresh(account), polling.REPORTS)
    assert outcome.items == 2 and not outcome.error
    assert fresh(account).last_error == ""  # the poll's own error is cleared by a good poll


def test_the_vendors_own_too_frequent_code_is_a_rate_limit(sim, sim_account):
    # Even when forced to ask early, the vendor's "too frequent" answer (ashx5g 920) is heeded.
    account = sim_account("ashx5g", **POLLING)
    assert polling.poll_once(account, polling.REPORTS, gap_s=0).claimed
    outcome = polling.poll_once(fresh(account), polling.REPORTS, gap_s=0)
    assert outcome.rate_limited
    assert fresh(account).poll_backoff_until > timezone.now()


def test_other_vendor_errors_are_recorded(sim, sim_account):
    account = sim_account("actiongw", **POLLING)
    sim.misbehave("actiongw", "auth_error")
    outcome = polling.poll_once(account, polling.REPORTS)
    assert outcome.claimed and outcome.error and not outcome.rate_limited
    account = fresh(account)
    assert account.last_error and account.poll_backoff_until is None


def test_a_sending_error_is_not_cleared_by_a_poll(sim, sim_account):
    account = sim_account("ashx5g", **POLLING)
    VendorAccount.objects.filter(pk=account.pk).update(last_error="balance refused")
    assert polling.poll_once(fresh(account), polling.REPORTS).claimed
    assert fresh(account).last_error == "balance refused"


def test_run_polls_every_account_at_its_interval(sim, sim_account, make_campaign):
    first = sim_account("ashx5g", **POLLING)
    second = sim_account("smscn", name="smscn sim", **POLLING)
    sim_account("actiongw", name="not polling", polling_enabled=False, poll_interval_s=10)
    sent_through(sim, first, make_campaign, n=2)
    clock = iter(range(0, 1000, 4)).__next__  # every pass "takes" 4 s of a 12 s run
    sleeps = []
    summaries = polling.run(12, sleep=sleeps.append, clock=clock)
    polled = {(s.account, s.kind): s for s in summaries}
    # ashx5g wants one call at a time, 5 s apart across kinds ("应采用单线程, 操作间隔 5 秒
    # 以上"): its replies wait for the interval its reports call started (the run's clock is
    # fake; the database's is not).
    assert set(polled) == {
        (first.name, "reports"),
        (second.name, "reports"),
        (second.name, "replies"),
    }
    assert polled[(first.name, "reports")].items == 2
    # Within one run each kind is polled once: the accounts' 10 s interval has not passed.
    assert all(s.calls == 1 for s in summaries)
    assert sleeps and all(s > 0 for s in sleeps)


def test_run_ends_at_once_without_polling_accounts(db):
    sleeps = []
    assert polling.run(50, sleep=sleeps.append) == [] and sleeps == []


def test_poll_vendors_command(sim, sim_account, make_campaign):
    account = sim_account("ashx5g", **POLLING)
    sent_through(sim, account, make_campaign, n=2)
    out = StringIO()
    call_command("poll_vendors", "--account", str(account.pk), stdout=out)
    assert "reports: 1 calls, 2 items" in out.getvalue()
    out = StringIO()
    call_command("poll_vendors", stdout=out)
    assert "Nothing was due" in out.getvalue()


def test_schedule_and_task(sim, sim_account, monkeypatch):
    schedules.ensure_schedules()
    schedule = Schedule.objects.get(name=schedules.POLL_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "messaging.tasks.poll_vendors",
        Schedule.MINUTES,
        1,
    )
    sim_account("ashx5g", **POLLING)
    monkeypatch.setattr(tasks, "POLL_RUN_SECONDS", 0)
    assert "reports: 1 calls" in tasks.poll_vendors()


def test_polled_messages_sent_outside_campaigns_match_too(sim, sim_account):
    account = sim_account("ashx5g", **POLLING)
    (result,) = account.client().send_same([OutgoingMessage("t1", "13811112222")], "测试")
    Message.objects.create(
        vendor_account=account,
        phone="13811112222",
        content="测试",
        custom_id="t1",
        vendor_message_id=result.vendor_message_id,
        status=Status.SUBMITTED,
    )
    sim.state.tick()
    assert polling.poll_once(account, polling.REPORTS).items == 1
    assert Message.objects.get().status in FINAL_STATUSES


def test_an_ashx5g_balance_call_waits_its_turn_among_the_polls(sim, sim_account):
    """ashx5g refuses a balance call within 5 s of a report or reply poll (920): the balance
    refresh waits for the account's shared interval instead of failing."""
    from messaging.services.vendor_accounts import refresh_balance

    account = sim_account("ashx5g", **POLLING)
    assert polling.poll_once(account, polling.REPLIES).claimed
    waits = []

    def time_passes(seconds):
        waits.append(seconds)
        VendorAccount.objects.filter(pk=account.pk).update(
            replies_polled_at=F("replies_polled_at") - dt.timedelta(seconds=seconds)
        )
        with sim.state.lock:
            for key in sim.state.last_poll:
                sim.state.last_poll[key] -= seconds

    check = refresh_balance(fresh(account), sleep=time_passes)
    assert check.ok, check.error
    assert len(waits) == 1 and 0 < waits[0] <= 8.1
    # The poller now waits for the balance call too.
    assert not polling.poll_once(fresh(account), polling.REPLIES).claimed


def test_an_odd_polled_item_does_not_fail_the_answer_it_came_in(sim, sim_account, make_campaign):
    """A NUL or a year-0001 time in one polled report is cleaned as a pushed one is: the
    answer is kept and applied, the report beside it too."""
    from messaging.models import PollRecord
    from messaging.vendors.base import StatusEvent

    account = sim_account("ashx5g", **POLLING)
    odd = StatusEvent(
        "v-odd\x00", Status.DELIVERED, "DELIV\x00RD", done_at=dt.datetime(1, 1, 1), raw="\x00"
    )
    fine = StatusEvent("v-fine", Status.DELIVERED, "DELIVRD", raw="fine")
    record = polling.keep_answer(account, polling.REPORTS, "raw\x00answer", [odd, fine])
    assert polling.apply_record(record.pk) == 2
    stored = sorted(DeliveryReport.objects.values_list("vendor_message_id", "done_at"))
    assert stored == [("v-fine", None), ("v-odd", None)]
    assert PollRecord.objects.get().applied_at is not None
