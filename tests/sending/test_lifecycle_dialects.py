"""Each PostgreSQL statement of the message lifecycle beside its generic twin: both run on
PostgreSQL on identical data and must leave identical rows and report identical moves."""

import pytest
from django.db import connection
from django.utils import timezone

from messaging.models import Campaign, Message, RecipientList, Template
from messaging.services import lifecycle
from messaging.services.campaigns import refresh_counters
from messaging.statuses import Status

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the PostgreSQL twins"),
]

STATUSES = [
    Status.SUBMITTING,
    Status.UNKNOWN,
    Status.SUBMITTED,
    Status.DELIVERED,
    Status.QUEUED,
    Status.NO_REPORT,
]
FIELDS = (
    "status",
    "vendor_message_id",
    "batch_id",
    "vendor_status_code",
    "vendor_status_description",
    "final_at",
)


@pytest.fixture
def twin_campaigns(vendor_account, administrator):
    """Two campaigns with the same messages, in every status a move may meet."""
    template = Template.objects.create(name="t", body="x", created_by=administrator)
    recipients = RecipientList.objects.create(name="l")
    made = []
    for name in ("generic", "postgresql"):
        campaign = Campaign.objects.create(
            name=name,
            template=template,
            vendor_account=vendor_account,
            recipient_list=recipients,
        )
        Message.objects.bulk_create(
            Message(
                campaign=campaign,
                vendor_account=vendor_account,
                phone=f"1380000{i:04d}",
                content="x",
                segments=1 + i % 2,
                custom_id=f"{name[0]}{i}",
                vendor_message_id="known" if status == Status.DELIVERED else "",
                status=status,
            )
            for i, status in enumerate(STATUSES * 3)
        )
        refresh_counters([campaign.pk])
        made.append(campaign)
    return made


def rows(campaign):
    return [
        tuple(str(v) for v in row)
        for row in Message.objects.filter(campaign=campaign).order_by("pk").values_list(*FIELDS)
    ]


def counters(campaign):
    campaign.refresh_from_db()
    return (
        campaign.pending_count,
        campaign.submitted_count,
        campaign.unknown_count,
        campaign.delivered_count,
        campaign.no_report_count,
        campaign.segment_count,
    )


def test_recording_submit_answers_is_the_same_both_ways(twin_campaigns):
    generic, postgresql = twin_campaigns

    def answers(campaign):
        pks = Message.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
        return [(pk, f"v{n}", "b1") for n, pk in enumerate(pks)]

    moved_generic = lifecycle.record_submitted_generic(answers(generic))
    moved_postgresql = lifecycle.record_submitted_postgresql(answers(postgresql))
    lifecycle._count(moved_generic)
    lifecycle._count(moved_postgresql)
    assert rows(generic) == rows(postgresql)
    assert sorted((m[2], m[3], m[4]) for m in moved_generic) == sorted(
        (m[2], m[3], m[4]) for m in moved_postgresql
    )
    assert counters(generic) == counters(postgresql)


def test_saving_report_moves_is_the_same_both_ways(twin_campaigns):
    from messaging.services.reports import _Target

    now = timezone.now()

    def targets(campaign):
        found = []
        for n, (pk, status) in enumerate(
            Message.objects.filter(campaign=campaign).order_by("pk").values_list("pk", "status")
        ):
            new = [Status.DELIVERED, Status.UNDELIVERED, Status.SUBMITTED][n % 3]
            found.append(
                _Target(
                    pk=pk,
                    vendor_message_id=f"r{n}",
                    custom_id="",
                    phone="",
                    status=new,
                    campaign_id=campaign.pk,
                    segments=1,
                    old_status=status,
                    code="DELIVRD" if new == Status.DELIVERED else "X",
                    description="words",
                    final_at=now if new != Status.SUBMITTED else None,
                )
            )
        return found

    lifecycle.save_report_moves_generic(targets(generic := twin_campaigns[0]))
    lifecycle.save_report_moves_postgresql(targets(postgresql := twin_campaigns[1]))
    assert rows(generic) == rows(postgresql)
    # Forward only, both ways: a delivered message stays delivered.
    assert Message.objects.filter(campaign=generic, vendor_message_id="known").exists()


def test_taking_off_is_the_same_both_ways(twin_campaigns, monkeypatch):
    from messaging.models import SendBatch

    now = timezone.now()
    taken = {}
    for campaign, vendor in zip(twin_campaigns, ("sqlite", "postgresql"), strict=True):
        batch = SendBatch.objects.create(campaign=campaign, number=1, size=18)
        Message.objects.filter(campaign=campaign).update(send_batch=batch)
        pks = list(Message.objects.filter(campaign=campaign).values_list("pk", flat=True))
        monkeypatch.setattr(lifecycle, "_is_postgresql", lambda v=vendor: v == "postgresql")
        taken[vendor] = sorted(row[1:5] for row in lifecycle.take_off(batch.pk, pks, now))
    assert taken["sqlite"] == taken["postgresql"] and len(taken["sqlite"]) == 3
    for campaign in twin_campaigns:
        assert Message.objects.filter(campaign=campaign, status=Status.SUBMITTING).count() == 6
    assert connection.vendor == "postgresql"
