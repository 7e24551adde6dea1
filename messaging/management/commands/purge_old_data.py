"""``manage.py purge_old_data [--dry-run] [--batch N]``: what the daily purge does, by hand."""

from django.core.management.base import BaseCommand

from messaging.services import retention


class Command(BaseCommand):
    help = (
        "Remove raw pushes, poll answers, delivery reports, task results and import files "
        "older than their retention window (RETAIN_*_DAYS), in batches; queue the campaign "
        "archives that are due (ARCHIVE_AFTER_DAYS)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would go; remove nothing"
        )
        parser.add_argument("--batch", type=int, default=retention.BATCH, help="rows per batch")

    def handle(self, *args, dry_run=False, batch=retention.BATCH, **options):
        result = retention.purge(batch=batch, dry_run=dry_run)
        verb = "would go" if dry_run else "removed"
        for kind, count in result.counts.items():
            batches = "" if dry_run else f" in {result.batches.get(kind, 0)} batches"
            self.stdout.write(f"{kind}: {count} {verb}{batches}")
        if not result.counts:
            self.stdout.write("every kind is kept for ever (RETAIN_*_DAYS are 0)")
        archives = "would be queued" if dry_run else "queued"
        self.stdout.write(f"campaign archives {archives}: {result.archives_queued}")
