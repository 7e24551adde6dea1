"""Re-encrypt every vendor secret with the newest key (the first of FIELD_ENCRYPTION_KEYS).

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS, keep the old one after it, restart,
run this command, then remove the old key.  See README.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from messaging.models import VendorAccount


class Command(BaseCommand):
    help = "Re-encrypt vendor secrets with the first key of FIELD_ENCRYPTION_KEYS."

    @transaction.atomic
    def handle(self, *args, **options):
        count = 0
        # Loading decrypts with whichever key matches; saving encrypts with the first key.
        for account in VendorAccount.objects.select_for_update().only("pk", "secret"):
            account.save(update_fields=["secret"])
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} vendor secrets."))
