"""Recount campaigns' kept stats from their messages: the repair, and the first fill for
campaigns made before the kept stats existed::

    manage.py rebuild_campaign_stats 12 15     # these campaigns
    manage.py rebuild_campaign_stats --all     # every campaign that has messages

Each campaign is recounted in its own transaction with its row locked (its moves wait
meanwhile), reading every one of its messages once: run it outside busy hours for large ones.
A campaign whose messages are archived has nothing to recount from and is left as it is.
"""

from django.core.management.base import BaseCommand, CommandError

from messaging.models import Campaign
from messaging.services import campaign_stats


class Command(BaseCommand):
    help = "Recount campaigns' status codes, delivery over time and unresolved groups."

    def add_arguments(self, parser):
        parser.add_argument("campaign", nargs="*", type=int, help="Campaign ids.")
        parser.add_argument("--all", action="store_true", help="Every campaign with messages.")

    def handle(self, *args, **options):
        ids = options["campaign"]
        if options["all"]:
            ids = list(Campaign.objects.order_by("pk").values_list("pk", flat=True))
        elif not ids:
            raise CommandError("Name campaign ids, or --all.")
        for campaign_id in ids:
            if not Campaign.objects.filter(pk=campaign_id).exists():
                raise CommandError(f"No campaign {campaign_id}.")
            if campaign_stats.rebuild(campaign_id):
                self.stdout.write(f"campaign {campaign_id}: rebuilt")
            else:
                self.stdout.write(f"campaign {campaign_id}: no messages, left as it is")
