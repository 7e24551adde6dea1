"""Run every vendor simulator on one port (demo and end-to-end tests; never production).

Accounts are read from the database: every vendor account whose base URL points at this
simulator is registered with its credentials and push URL, and re-read every few seconds so an
account an administrator adds while it runs works at once.
"""

import gc
import logging
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from messaging.models import VendorAccount
from messaging.vendors.simulator import SimAccount, SimulatorServer

log = logging.getLogger(__name__)
_refused: set[tuple[str, str]] = set()


def register_accounts(server: SimulatorServer) -> int:
    """Register every active account pointing at ``server``; an account whose id its vendor
    would never issue is left out (said once), as the real gateway would not know it."""
    count = 0
    for account in VendorAccount.objects.filter(is_active=True):
        prefix = server.vendor_url(account.vendor)
        if not account.base_url.rstrip("/").startswith(prefix):
            continue
        existing = server.state.account(account.vendor, account.account_id)
        sim_account = SimAccount(
            vendor=account.vendor,
            account_id=account.account_id,
            secret=account.secret,
            extension=account.extension,
            push_url=account.push_url if account.push_enabled else "",
            balance=existing.balance if existing else 10_000_000,
        )
        try:
            server.add_account(sim_account)
        except ValueError as exc:
            if (account.vendor, account.account_id) not in _refused:
                _refused.add((account.vendor, account.account_id))
                log.warning("account %r not registered on the simulator: %s", account.name, exc)
            continue
        count += 1
    return count


class Command(BaseCommand):
    help = "Run the vendor simulators (demo and tests only)."

    def add_arguments(self, parser):
        # Where the portal expects it (SIMULATOR_URL, http://127.0.0.1:8025 by default).
        address = urlsplit(settings.SIMULATOR_URL)
        parser.add_argument("--host", default=address.hostname or "127.0.0.1")
        parser.add_argument("--port", type=int, default=address.port or 8025)
        parser.add_argument(
            "--report-delay",
            type=float,
            default=2.0,
            help="seconds before a sent message's delivery report is ready",
        )

    def handle(self, *args, host, port, report_delay, **options):
        server = SimulatorServer(host, port)
        server.state.report_delay_s = report_delay
        count = register_accounts(server)
        server.start()
        self.stdout.write(
            self.style.SUCCESS(
                f"Vendor simulators on {server.base_url}/<vendor> ({count} accounts registered)"
            )
        )

        def refresh():
            while True:
                time.sleep(5)
                close_old_connections()
                try:
                    register_accounts(server)
                except Exception as exc:  # keep serving even if the database is busy
                    self.stderr.write(f"account refresh failed: {exc}")

        def freeze_survivors():
            # The simulators keep every message they accept until the process ends (a
            # million in bench/send_bench.py), and each full run of Python's cycle collector
            # walked all of them again: the longer the run, the more of the simulator's CPU
            # went there.  What has lived a second is moved out of the collector's sight
            # (the accepted messages, mostly); it is freed by reference counting as before.
            while True:
                time.sleep(1)
                gc.freeze()

        threading.Thread(target=refresh, daemon=True).start()
        threading.Thread(target=freeze_survivors, daemon=True).start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
