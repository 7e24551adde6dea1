"""Print the pipeline's state for an operator: clusters, queue, batches, unmatched reports,
polling per account (``services.pipeline_status``).  Exits 1 when a batch is stalled or no
cluster is alive, so a monitor can run it."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from messaging.services.pipeline_status import pipeline_status


def _ago(when, now) -> str:
    if when is None:
        return "never"
    return (
        f"{(now - when).total_seconds():.0f} s ago ({timezone.localtime(when):%Y-%m-%d %H:%M:%S})"
    )


class Command(BaseCommand):
    help = "Print the state of the sending and reporting pipeline."

    def handle(self, *args, **options):
        status = pipeline_status()
        now = status.now
        out = self.stdout.write
        out(f"broker           {status.broker}")
        out(f"clusters alive   {len(status.clusters)}")
        for cluster in status.clusters:
            out(
                f"  {cluster.name} on {cluster.host}: {cluster.status}, "
                f"{cluster.workers} workers, up {cluster.uptime_s:.0f} s"
            )
        queued = "unknown" if status.queued_tasks is None else status.queued_tasks
        out(f"queued tasks     {queued}")
        out("batches          " + ", ".join(f"{k} {v}" for k, v in status.batches.items()))
        stalled = ", ".join(map(str, status.stalled_batches)) or "none"
        out(f"stalled batches  {stalled}")
        if status.oldest_pending:
            pk, campaign_id, since = status.oldest_pending
            since_text = _ago(since, now)
            out(f"oldest pending   batch {pk} of campaign {campaign_id}, enqueued {since_text}")
        else:
            out("oldest pending   none")
        out(f"unmatched reports {status.unmatched_reports}")
        out("accounts")
        for account in status.accounts:
            polling = "polling" if account.polling_enabled else "no polling"
            out(
                f"  {account.name} ({account.vendor}, {polling}): reports polled "
                f"{_ago(account.reports_polled_at, now)}, replies polled "
                f"{_ago(account.replies_polled_at, now)}"
                + (f"; last error: {account.last_error}" if account.last_error else "")
            )
        if status.stalled_batches or not status.clusters:
            raise SystemExit(1)
