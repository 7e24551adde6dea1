"""Poll vendors for delivery reports and replies once, now.

The task cluster does this every minute; operators use the command to catch up by hand (after
an outage, or with the cluster stopped), or to check one account's polling::

    manage.py poll_vendors                  # every polling account that is due
    manage.py poll_vendors --account 3      # only these accounts (id or name), if due
    manage.py poll_vendors --force          # do not wait for the accounts' own intervals

The vendors' minimum intervals and any back-off after a rate-limit answer always apply, and a
poll never overlaps one the cluster is making.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from messaging.models import VendorAccount
from messaging.services import polling


class Command(BaseCommand):
    help = "Poll delivery reports and replies of every due account with polling on, once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account",
            action="append",
            default=[],
            help="Account id or name (repeatable); default: every account with polling on.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Poll now even if the account's own interval has not passed.",
        )

    def handle(self, *args, account, force, **options):
        accounts = None
        if account:
            wanted = Q()
            for value in account:
                wanted |= Q(name=value) | (Q(pk=int(value)) if value.isdigit() else Q())
            accounts = list(
                VendorAccount.objects.filter(wanted, polling_enabled=True, is_active=True)
            )
            if not accounts:
                raise CommandError("No active account with polling on matches.")
        summaries = polling.poll_due(accounts, force=force)
        for summary in summaries:
            style = self.style.WARNING if summary.errors else self.style.SUCCESS
            self.stdout.write(style(str(summary)))
        if not summaries:
            self.stdout.write("Nothing was due.")
