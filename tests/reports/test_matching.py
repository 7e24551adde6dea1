"""Matching reports to messages: duplicates, order, unknown ids, long messages, counters."""

import datetime as dt
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from messaging.models import Campaign, DeliveryReport, Message, Recipient
from messaging.services import wording
from messaging.services.campaigns import refresh_counters
from messaging.services.reports import (
    apply_status_events,
    join_descriptions,
    match_waiting_reports,
)
from messaging.statuses import Status
from messaging.vendors.base import StatusEvent

pytestmark = pytest.mark.django_db
CHINA = dt.timezone(dt.timedelta(hours=8))


def delivered(vendor_id, **fields):
    return StatusEvent(
        vendor_id, Status.DELIVERED, "DELIVRD", "成功", "Delivered", raw=vendor_id, **fields
    )


def undelivered(vendor_id, **fields):
    return StatusEvent(
        vendor_id, Status.UNDELIVERED, "UNDELIV", "失败", "Not delivered", raw=vendor_id, **fields
    )


@pytest.fixture
def campaign(vendor_account, make_campaign):
    """A started campaign of four submitted messages (vendor ids v1..v4, two parts each)."""
    campaign = make_campaign(vendor_account, phones=[f"1380000000{i}" for i in range(1, 5)])
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            vendor_account=vendor_account,
            phone=r.phone,
            content="x" * 100,
            segments=2,
            custom_id=f"cid{i}",
            vendor_message_id=f"v{i}",
            status=Status.SUBMITTED,
        )
        for i, r in enumerate(Recipient.objects.order_by("pk"), start=1)
    )
    refresh_counters([campaign.pk])
    campaign.refresh_from_db()
    return campaign


def statuses():
    return dict(Message.objects.values_list("vendor_message_id", "status"))


def test_reports_move_messages_and_campaign_counters(vendor_account, campaign):
    assert (campaign.submitted_count, campaign.delivered_count) == (4, 0)
    assert campaign.delivery_rate is None
    result = apply_status_events(
        vendor_account, [delivered("v1"), delivered("v2"), undelivered("v3")], "push"
    )
    assert (result.stored, result.matched, result.advanced) == (3, 3, 3)
    campaign.refresh_from_db()
    assert (campaign.submitted_count, campaign.delivered_count, campaign.failed_count) == (4, 2, 1)
    assert campaign.delivery_rate == pytest.approx(2 / 3)
    # The incremental counters agree with a full recount.
    counters = Campaign.objects.values(
        "submitted_count", "delivered_count", "failed_count", "segment_count", "pending_count"
    ).get(pk=campaign.pk)
    refresh_counters([campaign.pk])
    assert counters == Campaign.objects.values(*counters).get(pk=campaign.pk)


def test_duplicates_change_nothing(vendor_account, campaign):
    apply_status_events(vendor_account, [delivered("v1")], "push")
    before = Campaign.objects.values().get(pk=campaign.pk)
    result = apply_status_events(vendor_account, [delivered("v1"), undelivered("v1")], "poll")
    assert (result.stored, result.matched, result.advanced) == (2, 2, 0)
    assert Campaign.objects.values().get(pk=campaign.pk) == before
    message = Message.objects.get(vendor_message_id="v1")
    assert (message.status, message.vendor_status_code) == (Status.DELIVERED, "DELIVRD")
    assert message.reports.count() == 3  # every report is kept, all matched


def test_out_of_order_submitted_never_overwrites_delivered(vendor_account, campaign):
    done = dt.datetime(2024, 5, 1, 10, 0, tzinfo=CHINA)
    apply_status_events(vendor_account, [delivered("v2", done_at=done)], "push")
    late = StatusEvent("v2", Status.SUBMITTED, "ACCEPTD", raw="late")
    assert apply_status_events(vendor_account, [late], "push").advanced == 0
    message = Message.objects.get(vendor_message_id="v2")
    assert (message.status, message.final_at) == (Status.DELIVERED, done)
    assert message.vendor_status_code == "DELIVRD"


def test_long_message_parts_count_once(vendor_account, campaign):
    parts = [
        delivered("v1", part_index=1, part_count=2),
        delivered("v1", part_index=2, part_count=2),
    ]
    result = apply_status_events(vendor_account, parts, "push")
    assert (result.matched, result.advanced) == (2, 1)
    campaign.refresh_from_db()
    assert campaign.delivered_count == 1
    assert campaign.segment_count == 8  # billed parts: 4 messages x 2, unchanged


def test_of_two_final_reports_for_one_message_the_first_wins(vendor_account, campaign):
    result = apply_status_events(vendor_account, [undelivered("v3"), delivered("v3")], "push")
    assert (result.matched, result.advanced) == (2, 1)
    message = Message.objects.get(vendor_message_id="v3")
    assert (message.status, message.vendor_status_code) == (Status.UNDELIVERED, "UNDELIV")
    campaign.refresh_from_db()
    assert (campaign.delivered_count, campaign.failed_count) == (0, 1)


def test_one_push_mixing_every_case_counts_like_a_recount(vendor_account, campaign):
    """Submitted messages, a duplicate of an applied report, a message still waiting for its
    vendor id (matched by phone), a late non-final report and an unknown id, in one push:
    on PostgreSQL the common case and the others take different statements, and the result
    must be the same as one report at a time."""
    apply_status_events(vendor_account, [delivered("v2")], "push")
    waiting = Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13900000077",
        content="x",
        segments=3,
        custom_id="waiting",
        status=Status.SUBMITTING,
        submitted_at=timezone.now() - timedelta(minutes=1),
    )
    refresh_counters([campaign.pk])
    events = [
        delivered("v1"),
        undelivered("v2"),  # v2 is delivered already: changes nothing
        StatusEvent("v3", Status.UNKNOWN, "WHAT", raw="odd"),  # not final: no move
        undelivered("v3"),
        undelivered("new-id", phone="13900000077"),
        delivered("new-id"),  # the same message, now known by the id the report gave it
        delivered("nobody"),
    ]
    result = apply_status_events(vendor_account, events, "push")
    assert (result.stored, result.matched, result.advanced) == (7, 6, 3)
    assert statuses() == {
        "v1": Status.DELIVERED,
        "v2": Status.DELIVERED,
        "v3": Status.UNDELIVERED,
        "v4": Status.SUBMITTED,
        "new-id": Status.UNDELIVERED,
    }
    waiting.refresh_from_db()
    assert waiting.vendor_message_id == "new-id"
    fields = [f.name for f in Campaign._meta.fields if f.name.endswith("_count")]
    counters = Campaign.objects.values(*fields).get(pk=campaign.pk)
    refresh_counters([campaign.pk])
    assert counters == Campaign.objects.values(*fields).get(pk=campaign.pk)
    assert counters["delivered_count"] == 2 and counters["failed_count"] == 2


def test_unknown_ids_are_kept_unmatched(vendor_account, campaign):
    result = apply_status_events(vendor_account, [delivered("nobody"), delivered("v4")], "push")
    assert (result.stored, result.matched) == (2, 1)
    orphan = DeliveryReport.objects.get(vendor_message_id="nobody")
    assert orphan.message is None and orphan.matched_at is None and orphan.raw == "nobody"
    assert statuses()["v4"] == Status.DELIVERED


def test_report_before_the_submit_answer_is_matched_when_it_is_recorded(
    vendor_account, make_campaign
):
    campaign = make_campaign(vendor_account, phones=["13900000009"])
    message = Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13900000009",
        content="x",
        custom_id="early1",
        status=Status.QUEUED,
    )
    refresh_counters([campaign.pk])
    # The report names another phone, so nothing can claim it yet.
    apply_status_events(vendor_account, [delivered("late-id", phone="13900000000")], "push")
    assert DeliveryReport.objects.get().message is None
    # The submit answer is recorded (as sending does it), then the waiting report applies.
    Message.objects.filter(pk=message.pk).update(
        vendor_message_id="late-id", status=Status.SUBMITTED
    )
    assert match_waiting_reports(vendor_account, ["late-id"]) == 1
    assert match_waiting_reports(vendor_account, ["late-id"]) == 0  # once only
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    report = DeliveryReport.objects.get()
    assert report.message == message and report.matched_at is not None
    campaign.refresh_from_db()
    assert campaign.delivered_count == 1


def test_custom_id_and_phone_matching(vendor_account, make_campaign):
    campaign = make_campaign(vendor_account, phones=["13900000001", "13900000002"])
    by_custom = Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13900000001",
        content="x",
        custom_id="ours-1",
        vendor_message_id="theirs-1",
        status=Status.SUBMITTED,
    )
    # The answer was lost: no vendor id, status unknown.  A report for the phone resolves it.
    lost = Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13900000002",
        content="x",
        custom_id="ours-2",
        status=Status.UNKNOWN,
        submitted_at=timezone.now() - timedelta(minutes=1),
    )
    refresh_counters([campaign.pk])
    events = [
        delivered("different-id", custom_id="ours-1"),
        undelivered("found-2", phone="13900000002"),
    ]
    assert apply_status_events(vendor_account, events, "poll").matched == 2
    by_custom.refresh_from_db()
    lost.refresh_from_db()
    assert by_custom.status == Status.DELIVERED and by_custom.vendor_message_id == "theirs-1"
    assert (lost.status, lost.vendor_message_id) == (Status.UNDELIVERED, "found-2")


def test_reports_of_another_account_never_match(vendor_account, campaign, sim_account):
    other = sim_account("ashx5g", name="other account")
    assert apply_status_events(other, [delivered("v1")], "push").matched == 0
    assert statuses()["v1"] == Status.SUBMITTED


def test_descriptions_keep_both_languages(vendor_account, campaign):
    apply_status_events(vendor_account, [undelivered("v1")], "push")
    message = Message.objects.get(vendor_message_id="v1")
    assert wording.split(message.vendor_status_description) == ("失败", "Not delivered")
    with translation.override("en"):
        assert wording.shown(message.vendor_status_description) == "Not delivered"
    with translation.override("zh-hans"):
        assert wording.shown(message.vendor_status_description) == "失败"
    # One language only (or the same words): stored once, shown in both.
    assert join_descriptions("", "success") == "success"
    assert wording.split(join_descriptions("成功", "成功")) == ("成功", "成功")


def test_a_push_of_500_is_a_few_queries(vendor_account, submitted_campaign):
    campaign = submitted_campaign(vendor_account, 500, "b")
    events = [delivered(f"b{i}") for i in range(500)]
    with CaptureQueriesContext(connection) as queries:
        result = apply_status_events(vendor_account, events, "push")
    assert (result.matched, result.advanced) == (500, 500)
    # PostgreSQL: one UPDATE that matches and moves, one COPY (not captured), the counters,
    # the kept stats (one statement).  SQLite's ORM path splits the bulk statements by its
    # parameter limit.  Never one query per report.
    assert len(queries) <= (3 if connection.vendor == "postgresql" else 20), (
        queries.captured_queries
    )
    campaign.refresh_from_db()
    assert campaign.delivered_count == 500


def test_a_transaction_aborted_by_a_deadlock_runs_again(monkeypatch):
    import psycopg
    from django.db import OperationalError

    from messaging.services import deadlocks

    monkeypatch.setattr(deadlocks.time, "sleep", lambda seconds: None)
    calls = []

    def deadlocks_once():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from psycopg.errors.DeadlockDetected()
        return "applied"

    assert deadlocks.retry_on_deadlock(deadlocks_once) == "applied"
    assert len(calls) == 2

    def always_deadlocks():
        calls.append(1)
        raise OperationalError("deadlock detected") from psycopg.errors.DeadlockDetected()

    calls.clear()
    with pytest.raises(OperationalError):
        deadlocks.retry_on_deadlock(always_deadlocks)
    assert len(calls) == deadlocks.DEADLOCK_ATTEMPTS

    def other_error():
        calls.append(1)
        raise OperationalError("server closed the connection")

    calls.clear()
    with pytest.raises(OperationalError):
        deadlocks.retry_on_deadlock(other_error)
    assert len(calls) == 1  # only a deadlock is worth another run
