"""django-q2 entry points.  Thin: each calls a service and enqueues what comes next."""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django_q.models import Schedule
from django_q.tasks import async_task

from .models import Campaign
from .services import polling, sending

log = logging.getLogger(__name__)

DISPATCH_SCHEDULE = "messaging: dispatch campaigns"
POLL_SCHEDULE = "messaging: poll vendors"


def enqueue_batches(batch_ids: list[int]) -> None:
    for batch_id in batch_ids:
        async_task(
            "messaging.tasks.send_batch",
            batch_id,
            group="send",
            q_options={"task_name": f"send batch {batch_id}"},
        )


def start_campaign(campaign_id: int, exclude_missing: bool = True) -> str:
    try:
        result = sending.start_campaign(campaign_id, exclude_missing=exclude_missing)
    except sending.CampaignError as exc:
        # Only a campaign still waiting to start fails; a duplicate task for one that has
        # started, been paused or cancelled changes nothing.
        Campaign.objects.filter(
            pk=campaign_id, status__in=[Campaign.State.DRAFT, Campaign.State.SCHEDULED]
        ).update(status=Campaign.State.FAILED, status_reason=str(exc))
        return f"not started: {exc}"
    transaction.on_commit(lambda: enqueue_batches(result.batches))
    return f"{result.messages} messages in {len(result.batches)} batches"


def send_batch(batch_id: int) -> str:
    # The query count goes into the task's result (visible in the admin's task list, read by
    # bench/send_bench.py): a batch's cost in queries must not grow with its size.
    queries = QueryCounter()
    with connection.execute_wrapper(queries):
        outcome = sending.send_batch(batch_id)
    return (
        f"{outcome.state}: {outcome.submitted} submitted, {outcome.failed} failed, "
        f"{outcome.unknown} unknown, {outcome.requeued} requeued; {queries.count} queries"
    )


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def dispatch() -> str:
    """Every minute: start due campaigns, sweep stalled batches, re-enqueue batches whose
    back-off has passed (a lost task or a retry)."""
    started = [start_campaign(pk) for pk in sending.due_campaigns()]
    stalled = sending.sweep_stalled_batches()
    pending = sending.pending_batches()
    enqueue_batches(pending)
    return f"started {len(started)}, stalled {stalled}, enqueued {len(pending)}"


def schedule_campaign(campaign: Campaign) -> None:
    """Start on time: a one-off schedule at the campaign's time (the minutely dispatcher is the
    safety net)."""
    Schedule.objects.update_or_create(
        name=f"campaign {campaign.pk}",
        defaults={
            "func": "messaging.tasks.start_campaign",
            "args": str(campaign.pk),
            "schedule_type": Schedule.ONCE,
            "next_run": campaign.scheduled_at,
            "repeats": 1,
        },
    )


def ensure_schedules() -> None:
    Schedule.objects.update_or_create(
        name=DISPATCH_SCHEDULE,
        defaults={
            "func": "messaging.tasks.dispatch",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    # django-q2 schedules fire at most once a minute (its scheduler looks every ~30 s), while
    # vendors allow a poll every 5-8 s.  One minutely schedule runs ``poll_vendors``, which keeps
    # polling every polling account at its own interval for most of the minute (and ends at
    # once when no account polls): one worker serves all accounts, runs never overlap in
    # practice, and the per-call claim in ``services.polling`` keeps them apart if they do.
    Schedule.objects.update_or_create(
        name=POLL_SCHEDULE,
        defaults={
            "func": "messaging.tasks.poll_vendors",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


POLL_RUN_SECONDS = 50
"""How long one minutely run keeps polling: it ends before the next run is due."""


def poll_vendors() -> str:
    """Every minute: poll reports and replies of every account with polling on, for about
    ``POLL_RUN_SECONDS`` (see ``services.polling.run``)."""
    summaries = polling.run(POLL_RUN_SECONDS)
    return "; ".join(str(s) for s in summaries) or "nothing polled"
