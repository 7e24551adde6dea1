"""The pipeline's state at a glance, for operators (``manage.py pipeline_status``): which task
clusters are alive, how deep the queue is, which batches are stalled or waiting, how many
reports wait for their message, and when each account was last polled.

Read-only, and cheap at any size: batches are a thousandth of the messages, and the unmatched
reports are counted through their partial index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from ..models import DeliveryReport, SendBatch, VendorAccount


@dataclass(frozen=True)
class Cluster:
    name: str
    host: str
    status: str
    workers: int
    uptime_s: float


@dataclass(frozen=True)
class AccountPolling:
    name: str
    vendor: str
    polling_enabled: bool
    reports_polled_at: datetime | None
    replies_polled_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class PipelineStatus:
    now: datetime
    broker: str
    clusters: list[Cluster]
    queued_tasks: int | None
    batches: dict[str, int]
    stalled_batches: list[int]
    oldest_pending: tuple[int, int, datetime | None] | None
    """(batch id, campaign id, since when it waits) of the longest-waiting pending batch."""
    unmatched_reports: int
    accounts: list[AccountPolling] = field(default_factory=list)


def _clusters() -> list[Cluster]:
    from django_q.status import Stat

    return [
        Cluster(
            name=str(stat.cluster_id),
            host=str(stat.host),
            status=str(stat.status),
            workers=len(stat.workers or ()),
            uptime_s=float(stat.uptime() or 0),
        )
        for stat in Stat.get_all()
    ]


def _queue() -> tuple[str, int | None]:
    from django_q.brokers import get_broker

    broker = get_broker()
    try:
        return broker.info(), broker.queue_size()
    except Exception:  # a broker that cannot say
        return broker.info(), None


def pipeline_status(now: datetime | None = None) -> PipelineStatus:
    now = now or timezone.now()
    held = (SendBatch.State.CLAIMED, SendBatch.State.SENDING)
    counts = {state: 0 for state in SendBatch.State.values if state != SendBatch.State.DONE}
    counts.update(
        SendBatch.objects.filter(state__in=list(counts))
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    stalled = list(
        SendBatch.objects.filter(state__in=held, lease_until__lt=now)
        .order_by("lease_until")
        .values_list("pk", flat=True)[:50]
    )
    oldest = (
        SendBatch.objects.filter(state=SendBatch.State.PENDING)
        .order_by("enqueued_at", "pk")
        .values_list("pk", "campaign_id", "enqueued_at")
        .first()
    )
    broker, queued = _queue()
    return PipelineStatus(
        now=now,
        broker=broker,
        clusters=_clusters(),
        queued_tasks=queued,
        batches=counts,
        stalled_batches=stalled,
        oldest_pending=oldest,
        unmatched_reports=DeliveryReport.objects.filter(message__isnull=True).count(),
        accounts=[
            AccountPolling(
                name=account.name,
                vendor=account.vendor,
                polling_enabled=account.polling_enabled,
                reports_polled_at=account.reports_polled_at,
                replies_polled_at=account.replies_polled_at,
                last_error=account.last_error[:200],
            )
            for account in VendorAccount.objects.filter(is_active=True).order_by("name")
        ],
    )
