"""A finished campaign with reports and replies, to purge around and to archive."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Campaign, DeliveryReport, InboundMessage, Message
from messaging.services.campaigns import refresh_counters
from messaging.statuses import Status

STATUSES = [
    (Status.DELIVERED, "DELIVRD", "成功"),
    (Status.UNDELIVERED, "MK:0001", "-1 blacklisted"),
    (Status.FAILED, "-4", "号码格式错误"),
    (Status.DELIVERED, "DELIVRD", "成功"),
    (Status.NO_REPORT, "", ""),
    (Status.SKIPPED, "", ""),
    (Status.DELIVERED, "DELIVRD", "成功"),
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def finished_campaign(db, make_campaign, vendor_account):
    """``finished_campaign(name=..., days_ago=4)``: a completed campaign of seven messages in
    final states (one with a formula-like content, one two-part), a delivery report for each
    reported one and a reply to the first, finished ``days_ago`` days ago."""

    def make(name="finished", days_ago=4, state=Campaign.State.COMPLETED):
        campaign = make_campaign(vendor_account, name=name, n=1)
        finished = timezone.now() - timedelta(days=days_ago)
        messages = Message.objects.bulk_create(
            Message(
                campaign=campaign,
                vendor_account=vendor_account,
                phone=f"1380000{i:04d}",
                content='=HYPERLINK("http://evil")' if i == 1 else f"{name} 您好，第{i}条\n回T退订",
                segments=2 if i == 2 else 1,
                custom_id=f"{name}-{i}",
                vendor_message_id=f"v-{name}-{i}" if code else "",
                status=status,
                vendor_status_code=code,
                vendor_status_description=description,
                submitted_at=finished - timedelta(minutes=5),
                final_at=finished if status != Status.SKIPPED else None,
            )
            for i, (status, code, description) in enumerate(STATUSES)
        )
        DeliveryReport.objects.bulk_create(
            DeliveryReport(
                vendor_account=vendor_account,
                source="push",
                vendor_message_id=m.vendor_message_id,
                phone=m.phone,
                status=m.status,
                vendor_code=m.vendor_status_code,
                raw="{}",
                message=m,
                matched_at=finished,
            )
            for m in messages
            if m.status in (Status.DELIVERED, Status.UNDELIVERED)
        )
        InboundMessage.objects.create(
            vendor_account=vendor_account,
            phone=messages[0].phone,
            content="好的",
            received_at=finished + timedelta(minutes=1),
            campaign=campaign,
            message=messages[0],
            raw="{}",
        )
        refresh_counters([campaign.pk])
        Campaign.objects.filter(pk=campaign.pk).update(
            status=state, started_at=finished - timedelta(minutes=10), finished_at=finished
        )
        campaign.refresh_from_db()
        return campaign

    return make


@pytest.fixture
def sync_tasks(monkeypatch):
    """Tasks run where they are enqueued (django-q2's sync mode)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
