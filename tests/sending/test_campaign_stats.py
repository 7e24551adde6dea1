"""A campaign's kept stats (status codes, delivery over time, unresolved groups) move with its
messages on every path, equal a recount from the messages after each, and are what the
campaign page and its refresh read: a bounded number of queries, none of them on messages,
and 304 while nothing changed."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging.models import (
    Campaign,
    CampaignCodeCount,
    CampaignTimeline,
    CampaignUnresolved,
    Message,
    SendBatch,
)
from messaging.services import campaign_commands, campaign_stats, lifecycle, sending
from messaging.services.campaigns import COUNTER_FIELDS, refresh_counters
from messaging.services.reports import apply_status_events
from messaging.statuses import Status
from messaging.vendors.base import StatusEvent
from messaging.views.portal.campaigns import delivery_timeline

pytestmark = pytest.mark.django_db

COUNTERS = ("total_count", *COUNTER_FIELDS, "segment_count")
MESSAGE_TABLE = f'"{Message._meta.db_table}"'


def kept_equals_a_recount(campaign) -> None:
    assert campaign_stats.kept(campaign.pk) == campaign_stats.recount(campaign.pk)
    campaign.refresh_from_db()
    counters = {name: getattr(campaign, name) for name in COUNTERS}
    refresh_counters([campaign.pk])
    campaign.refresh_from_db()
    assert counters == {name: getattr(campaign, name) for name in COUNTERS}


def started(make_campaign, vendor_account, n=12) -> Campaign:
    campaign = make_campaign(vendor_account, n=n)
    sending.start_campaign(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def pks(campaign, status=None) -> list[int]:
    rows = Message.objects.filter(campaign=campaign).order_by("pk")
    if status:
        rows = rows.filter(status=status)
    return list(rows.values_list("pk", flat=True))


def take_off(campaign, wanted: list[int]) -> None:
    now = timezone.now()
    for batch_id in SendBatch.objects.filter(campaign=campaign).values_list("pk", flat=True):
        lifecycle.take_off(batch_id, wanted, now)


def report(vendor_id, status, code, *, minutes_ago=1, **fields) -> StatusEvent:
    done = timezone.now().replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return StatusEvent(vendor_id, status, code, "成功", "OK", done_at=done, raw=vendor_id, **fields)


def test_kept_stats_equal_a_recount_after_every_path(make_campaign, vendor_account):
    campaign = started(make_campaign, vendor_account)
    account = campaign.vendor_account
    m = pks(campaign)
    kept_equals_a_recount(campaign)

    # Sending: submitted, refused (with the vendor's code), unknown (a lost answer).
    take_off(campaign, m[:10])
    lifecycle.record_submitted([(pk, f"v{pk}", "") for pk in m[:5]])
    lifecycle.record_refused(m[5:7], "E:17", "Refused", timezone.now())
    lifecycle.record_unknown(m[7:9], "HTTP 500")
    kept_equals_a_recount(campaign)

    # A worker lost with its request out.
    lifecycle.lose_in_flight(Message.objects.get(pk=m[9]).send_batch_id, "Worker lost")
    kept_equals_a_recount(campaign)

    # Reports: delivered (the fast path on PostgreSQL), undelivered, a duplicate, and an
    # unknown message settled by a report naming our id (the general path).
    custom_id = Message.objects.get(pk=m[7]).custom_id
    apply_status_events(
        account,
        [
            report(f"v{m[0]}", Status.DELIVERED, "DELIVRD", minutes_ago=3),
            report(f"v{m[1]}", Status.DELIVERED, "DELIVRD"),
            report(f"v{m[1]}", Status.UNDELIVERED, "MK:1"),  # too late: delivered stays
            report(f"v{m[2]}", Status.UNDELIVERED, "MK:1"),
            report("", Status.DELIVERED, "DELIVRD", custom_id=custom_id),
        ],
        source="push",
    )
    kept_equals_a_recount(campaign)

    # A late submit answer for an unknown message, then its report.
    lifecycle.record_submitted([(m[8], f"v{m[8]}", "")])
    apply_status_events(account, [report(f"v{m[8]}", Status.EXPIRED, "EXP")], source="poll")
    kept_equals_a_recount(campaign)

    # The report window passes for the one still unknown: no report; then resent, refused.
    assert lifecycle.end_wait([m[9]], "No report in time", timezone.now()) != []
    kept_equals_a_recount(campaign)
    lifecycle.resend([m[9]], "Sent again")
    kept_equals_a_recount(campaign)
    take_off(campaign, [m[9]])
    lifecycle.record_refused([m[9]], "E:18", "Refused again", timezone.now())
    kept_equals_a_recount(campaign)

    # Cancelled: the rest is withdrawn (skipped, never drawn).
    campaign_commands.cancel(campaign.pk, "Stop")
    kept_equals_a_recount(campaign)

    codes, timeline, unresolved = campaign_stats.kept(campaign.pk)
    assert codes == [
        (Status.DELIVERED, "DELIVRD", 3),
        (Status.EXPIRED, "EXP", 1),
        (Status.FAILED, "E:17", 2),
        (Status.FAILED, "E:18", 1),
        (Status.UNDELIVERED, "MK:1", 1),
    ]
    assert sum(row[2] for row in timeline if row[0] == 1) == 3  # delivered, by the minute
    assert sum(row[3] for row in timeline if row[0] == 60) == 5  # failed, by the hour
    assert unresolved == []


def test_unresolved_groups_follow_their_messages(make_campaign, vendor_account):
    campaign = started(make_campaign, vendor_account, n=6)
    m = pks(campaign)
    take_off(campaign, m)
    lifecycle.record_unknown(m[:4], "HTTP 500")
    lifecycle.record_unknown(m[4:], "Timeout")
    kept_equals_a_recount(campaign)
    assert campaign_stats.kept(campaign.pk)[2] == [
        (Status.UNKNOWN, "HTTP 500", 4, 4),
        (Status.UNKNOWN, "Timeout", 2, 2),
    ]
    lifecycle.end_wait(m[:2], "No report in time", timezone.now())
    lifecycle.resend(m[4:5], "Sent again")
    kept_equals_a_recount(campaign)
    assert campaign_stats.kept(campaign.pk)[2] == [
        (Status.NO_REPORT, "No report in time", 2, 2),
        (Status.UNKNOWN, "HTTP 500", 2, 2),
        (Status.UNKNOWN, "Timeout", 1, 1),
    ]


def test_rebuild_repairs_and_the_command_rebuilds(make_campaign, vendor_account):
    campaign = started(make_campaign, vendor_account, n=4)
    m = pks(campaign)
    take_off(campaign, m)
    lifecycle.record_refused(m[:2], "E:1", "Refused", timezone.now())
    lifecycle.record_unknown(m[2:], "HTTP 500")
    expected = campaign_stats.recount(campaign.pk)
    assert campaign_stats.kept(campaign.pk) == expected
    version = Campaign.objects.get(pk=campaign.pk).stats_version
    for model in (CampaignCodeCount, CampaignTimeline, CampaignUnresolved):
        model.objects.all().delete()  # data made before the tables existed
    assert campaign_stats.kept(campaign.pk) == ([], [], [])
    call_command("rebuild_campaign_stats", str(campaign.pk))
    assert campaign_stats.kept(campaign.pk) == expected
    assert Campaign.objects.get(pk=campaign.pk).stats_version > version
    CampaignTimeline.objects.all().delete()
    call_command("rebuild_campaign_stats", "--all")
    assert campaign_stats.kept(campaign.pk) == expected


# --------------------------------------------------------------------------- the page


@pytest.fixture
def reported(make_campaign, vendor_account):
    """A completed campaign of 12: delivered, undelivered, refused, unknown, awaiting."""

    def make(n=12):
        campaign = started(make_campaign, vendor_account, n=n)
        m = pks(campaign)
        take_off(campaign, m)
        lifecycle.record_submitted([(pk, f"v{campaign.pk}-{pk}", "") for pk in m[:-3]])
        lifecycle.record_refused(m[-3:-2], "E:17", "Refused", timezone.now())
        lifecycle.record_unknown(m[-2:], "HTTP 500")
        events = [report(f"v{campaign.pk}-{pk}", Status.DELIVERED, "DELIVRD") for pk in m[: n // 2]]
        events.append(report(f"v{campaign.pk}-{m[n // 2]}", Status.UNDELIVERED, "MK:1"))
        apply_status_events(campaign.vendor_account, events, source="push")
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.State.COMPLETED, finished_at=timezone.now()
        )
        campaign.refresh_from_db()
        return campaign

    return make


def queries_of(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_stats_and_page_read_no_message_and_a_bounded_number_of_queries(
    admin_client, reported, django_assert_max_num_queries
):
    small, large = reported(12), reported(40)
    counts = {}
    for campaign in (small, large):
        for name in ("portal:campaign_stats", "portal:campaign"):
            sql = queries_of(admin_client, reverse(name, args=[campaign.pk]))
            assert not [q for q in sql if MESSAGE_TABLE in q], name
            counts.setdefault(name, set()).add(len(sql))
    # The same number of queries whatever the campaign's size.
    assert all(len(sizes) == 1 for sizes in counts.values()), counts
    with django_assert_max_num_queries(10):
        admin_client.get(reverse("portal:campaign_stats", args=[large.pk]))
    stats = admin_client.get(reverse("portal:campaign_stats", args=[large.pk])).json()
    assert [(c["code"], c["n"]) for c in stats["codes"]] == [
        ("DELIVRD", 20),
        ("E:17", 1),
        ("MK:1", 1),
    ]
    assert sum(stats["timeline"]["delivered"]) == 20 and sum(stats["timeline"]["failed"]) == 2
    assert [(r["status"], r["n"]) for r in stats["unresolved"]["reasons"]] == [(Status.UNKNOWN, 2)]
    assert stats["counters"]["unresolved_segments"] == 2


def test_unchanged_stats_answer_304(admin_client, reported, django_assert_max_num_queries):
    campaign = reported(12)
    url = reverse("portal:campaign_stats", args=[campaign.pk])
    first = admin_client.get(url)
    etag = first["ETag"]
    assert etag and "no-cache" in first["Cache-Control"]
    # The session, the user and its permissions (5), then the campaign row: nothing else.
    with django_assert_max_num_queries(6):
        again = admin_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag
    # The page hands its version to the refresh.
    page = admin_client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert 'data-stats-etag="' + etag.replace('"', "&quot;") + '"' in page
    # A message moves: a new answer.
    unknown = pks(campaign, Status.UNKNOWN)[0]
    lifecycle.record_refused([unknown], "E:9", "Refused late", timezone.now())
    moved = admin_client.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved["ETag"] != etag
    # Another language is another answer.
    other = admin_client.get(url, headers={"If-None-Match": moved["ETag"], "Accept-Language": "en"})
    assert other.status_code in (200, 304)


def test_the_page_needs_no_message_rows(admin_client, reported):
    """A campaign whose messages are gone (archived) shows its figures and charts from the
    campaign row and the kept stats alone."""
    campaign = reported(12)
    before = admin_client.get(reverse("portal:campaign_stats", args=[campaign.pk])).json()
    Message.objects.filter(campaign=campaign).delete()
    after = admin_client.get(reverse("portal:campaign_stats", args=[campaign.pk])).json()
    for key in ("counters", "codes", "timeline", "funnel", "unresolved"):
        assert after[key] == before[key], key
    # A rebuild has nothing to recount from: the kept stats stay.
    kept = campaign_stats.kept(campaign.pk)
    call_command("rebuild_campaign_stats", str(campaign.pk))
    assert campaign_stats.kept(campaign.pk) == kept and kept[0]
    page = admin_client.get(reverse("portal:campaign", args=[campaign.pk]))
    assert page.status_code == 200


def test_the_timeline_draws_minutes_hours_and_days(make_campaign, vendor_account):
    """From the kept minutes, or hours summed by local day (the portal's Asia/Shanghai)."""
    campaign = make_campaign(vendor_account, n=1)
    start = datetime(2026, 3, 1, 15, 58, 30, tzinfo=UTC)  # 23:58 in Shanghai

    def final(minutes, status=Status.DELIVERED):
        return (campaign.pk, status, "", "", start + timedelta(minutes=minutes))

    campaign_stats.record_finals([final(0), final(0), final(1, Status.FAILED), final(3)])
    line = delivery_timeline(campaign)
    assert line["unit"] == "minute"
    assert line["labels"] == ["23:58", "23:59", "00:01"]
    assert line["delivered"] == [2, 0, 1] and line["failed"] == [0, 1, 0]

    campaign_stats.record_finals([final(8 * 60)])  # 07:58 the next day: hours
    line = delivery_timeline(campaign)
    assert line["unit"] == "hour"
    assert line["labels"] == ["03-01 23:00", "03-02 00:00", "03-02 07:00"]
    assert line["delivered"] == [2, 1, 1] and line["failed"] == [1, 0, 0]

    campaign_stats.record_finals([final(5 * 24 * 60, Status.REJECTED)])  # days
    line = delivery_timeline(campaign)
    assert line["unit"] == "day"
    assert line["labels"] == ["03-01", "03-02", "03-06"]
    assert line["delivered"] == [2, 2, 0] and line["failed"] == [1, 0, 1]
