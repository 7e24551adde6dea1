"""django-q2 entry points.  Thin: each calls a service and enqueues what comes next."""

from __future__ import annotations

import logging
import time

from django.db import connection, reset_queries

from .models import SendBatch
from .services import (
    alerts,
    archive,
    campaign_commands,
    compliance,
    polling,
    retention,
    schedules,
    send_count,
    sending,
)

log = logging.getLogger(__name__)


def enqueue_batches(batch_ids: list[int]) -> None:
    campaign_commands.enqueue_batches(batch_ids)


def start_campaign(campaign_id: int, exclude_missing: bool | None = None) -> str:
    """Start a campaign the marketer confirmed (``starting``).  A duplicate task, or one for a
    campaign paused or cancelled meanwhile, changes nothing."""
    try:
        # Each chunk's batches are enqueued as soon as it commits: they are sent while the
        # next chunks are written.
        result = sending.start_campaign(
            campaign_id, exclude_missing=exclude_missing, on_chunk=enqueue_batches
        )
    except sending.CampaignError as exc:
        campaign_commands.fail_start(campaign_id, exc.stored)
        log.warning("campaign=%s start refused: %s", campaign_id, exc)
        return f"not started: {exc}"
    finally:
        _forget_queries()
    if result is None:
        return "not started: nothing to start"
    summary = f"{result.messages} messages in {len(result.batches)} batches"
    log.info("campaign=%s started: %s", campaign_id, summary)
    return summary


def start_scheduled_campaign(campaign_id: int) -> str:
    """A scheduled campaign's one-off schedule: start it with the choices made when it was
    scheduled."""
    if not campaign_commands.start_if_due(campaign_id):
        return "not due or no longer scheduled"
    return start_campaign(campaign_id)


def send_batch(batch_id: int) -> str:
    # The query count goes into the task's result (visible in the admin's task list, read by
    # bench/send_bench.py): a batch's cost in queries must not grow with its size.
    queries = QueryCounter()
    with connection.execute_wrapper(queries):
        outcome = sending.send_batch(batch_id)
        # A retry the vendor wants soon is waited out here, to the second, rather than left
        # to the dispatcher's next minute.
        while outcome.requeued:
            wait = sending.retry_due_in(batch_id)
            if wait is None or wait > sending.INLINE_RETRY_S:
                break
            time.sleep(max(0.0, wait))
            outcome = sending.send_batch(batch_id)
    _recover_now_and_then()
    _forget_queries()
    summary = (
        f"{outcome.state}: {outcome.submitted} submitted, {outcome.failed} failed, "
        f"{outcome.unknown} unknown, {outcome.requeued} requeued; {queries.count} queries"
    )
    _log_batch(batch_id, summary, outcome)
    return summary


def _log_batch(batch_id: int, summary: str, outcome) -> None:
    """One line per batch an operator can grep: batch=, campaign=, account= (ids only; never
    a secret, a phone or a text)."""
    ids = SendBatch.objects.filter(pk=batch_id).values_list(
        "campaign_id", "campaign__vendor_account_id"
    )
    campaign_id, account_id = ids.first() or (None, None)
    level = logging.WARNING if outcome.unknown or outcome.error else logging.INFO
    log.log(level, "batch=%s campaign=%s account=%s %s", batch_id, campaign_id, account_id, summary)


def _forget_queries() -> None:
    """With ``DEBUG`` on (development, the benchmarks) Django logs every query a process runs
    until a web request resets the log, which in a worker never comes: a batch's statements
    carry its 25,000 ids and texts, and a worker grew by megabytes per batch."""
    reset_queries()


RECOVER_EVERY_S = 10.0
_last_recovery = 0.0


def _recover_now_and_then() -> None:
    """While campaigns send, every worker looks for batches dead workers left at most every
    ``RECOVER_EVERY_S``: they are taken over within seconds of their lease running out, not
    at the next minutely dispatch."""
    global _last_recovery
    now = time.monotonic()
    if now - _last_recovery < RECOVER_EVERY_S:
        return
    _last_recovery = now
    enqueue_batches(sending.recover(full=False).enqueue or [])


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def dispatch() -> str:
    """Every minute: start due scheduled campaigns, take over what dead workers left, enqueue
    batches nobody holds (``services.sending.recover``)."""
    due = campaign_commands.due_scheduled()
    started = [start_campaign(pk) for pk in due]
    # Campaigns the send window paused go on once it opens (their batches are enqueued).
    resumed = campaign_commands.resume_due(compliance.clock())
    recovery = sending.recover()
    enqueue_batches(recovery.enqueue or [])
    polled = polling.apply_pending()
    return (
        f"started {len(started)}; resumed {len(resumed)}; {recovery}; "
        f"poll items applied late {polled}"
    )


POLL_RUN_SECONDS = 50
"""How long one minutely run keeps polling: it ends before the next run is due."""


def poll_vendors() -> str:
    """Every minute: poll reports and replies of every account with polling on, for about
    ``POLL_RUN_SECONDS`` (see ``services.polling.run``)."""
    summaries = polling.run(POLL_RUN_SECONDS)
    return "; ".join(str(s) for s in summaries) or "nothing polled"


def purge_old_data() -> str:
    """Daily: remove what is older than its retention window, in batches, and queue the
    archives that are due (``services.retention``)."""
    return str(retention.purge())


def archive_campaign(campaign_id: int, language: str | None = None) -> str:
    """Write a finished campaign's archive and remove its messages (``services.archive``);
    run again, it continues where a killed run stopped."""
    return archive.archive_campaign(campaign_id, language=language)


def count_send(count_id: int) -> str:
    """Count a long list's send for the pages that show it (``services.send_count``)."""
    return send_count.run(count_id)


def send_notification(message_pk: int) -> str:
    """A message outside any campaign (an opt-out confirmation), sent once."""
    message = sending.send_notification(message_pk)
    return f"notification {message_pk}: {message.status if message else 'already sent'}"


def notify_alert(alert_pk: int) -> str:
    """E-mail and webhook for a new alert (``services.alerts.notify``)."""
    return alerts.notify(alert_pk)


def check_alerts() -> str:
    """Every minute: raise and resolve the alerts the database shows."""
    opened, closed = alerts.sweep()
    return f"{opened} alert conditions hold, {closed} resolved"


def refresh_balances() -> str:
    """Every ``PortalSettings.balance_refresh_minutes``: the accounts' balances, then alerts.
    The schedule follows a changed interval from its next run."""
    asked = alerts.refresh_balances()
    schedules.sync_balance_schedule()
    return f"{asked} balances refreshed"
