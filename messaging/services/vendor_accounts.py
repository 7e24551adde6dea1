"""Vendor account operations: connection test and balance refresh."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import VendorAccount
from ..vendors.base import Balance, RateLimited, TransientError, VendorError
from .polling import IN_FLIGHT
from .reports import apply_status_events, retry_on_deadlock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    balance: Balance | None = None
    error: VendorError | None = None
    reports: int = 0
    """Reports the probe of a vendor without a balance query fetched (and applied)."""


def refresh_balance(
    account: VendorAccount, *, sleep: Callable[[float], None] = time.sleep
) -> ConnectionCheck:
    """Ask the vendor for the balance; record it, or record the vendor's error in words.  A
    vendor without a balance query is probed instead (``probe_connection``)."""
    client = account.client()
    if not client.capabilities.balance_query:
        return probe_connection(account, client, sleep=sleep)
    try:
        balance = client.balance()
    except VendorError as exc:
        _record_error(account, exc)
        return ConnectionCheck(ok=False, error=exc)
    now = timezone.now()
    VendorAccount.objects.filter(pk=account.pk).update(
        balance=balance.amount, balance_unit=balance.unit, balance_checked_at=now, last_error=""
    )
    account.balance, account.balance_unit, account.balance_checked_at = (
        balance.amount,
        balance.unit,
        now,
    )
    account.last_error = ""
    return ConnectionCheck(ok=True, balance=balance)


def probe_connection(
    account: VendorAccount, client=None, *, sleep: Callable[[float], None] = time.sleep
) -> ConnectionCheck:
    """Prove the credentials of a vendor that has no balance query, without sending a message.

    The client's ``probe()`` makes a harmless signed call and returns a ``PollResult``: for a
    vendor whose only such call is its report poll (montnets get_rpt), the reports it hands
    out are handed out once, so they are applied here exactly as a poll's.  The call counts as
    a report poll: it waits for the vendor's minimum interval after the last one (the vendor
    refuses faster polls), never overlaps a poll in flight, and the poller waits after it."""
    client = client or account.client()
    probe = getattr(client, "probe", None)
    if probe is None:
        exc = VendorError(_("This vendor offers no balance query."))
        return ConnectionCheck(ok=False, error=exc)
    gap = timedelta(seconds=client.capabilities.min_poll_interval_s)
    if not _claim_report_poll(account, gap, sleep):
        exc = TransientError(
            _("The account's reports are being fetched right now: test the connection again later.")
        )
        return ConnectionCheck(ok=False, error=exc)
    try:
        result = probe()
    except RateLimited as exc:
        now = timezone.now()
        _end_report_poll(account, now, backoff_until=now + timedelta(seconds=exc.retry_after))
        _record_error(account, exc)
        return ConnectionCheck(ok=False, error=exc)
    except VendorError as exc:
        _end_report_poll(account, timezone.now())
        _record_error(account, exc)
        return ConnectionCheck(ok=False, error=exc)
    except BaseException:
        _end_report_poll(account, timezone.now())
        raise
    events = list(result.items)
    try:
        if events:
            retry_on_deadlock(lambda: apply_status_events(account, events, source="poll"))
    except Exception:
        # The vendor has handed these over and will not give them again: keep them in the log.
        log.exception(
            "%s connection probe: could not apply reports; raw answer: %s", account, result.raw
        )
        _end_report_poll(account, timezone.now())
        raise
    now = timezone.now()
    _end_report_poll(account, now)
    VendorAccount.objects.filter(pk=account.pk).update(last_error="")
    account.last_error = ""
    return ConnectionCheck(ok=True, reports=len(events))


def _claim_report_poll(
    account: VendorAccount, gap: timedelta, sleep: Callable[[float], None]
) -> bool:
    """Take the account's report-poll slot as ``services.polling`` does (one conditional
    UPDATE), whether or not the account polls.  When the last poll is less than ``gap`` ago,
    wait for the rest of it once."""
    for attempt in (1, 2):
        now = timezone.now()
        won = (
            VendorAccount.objects.filter(pk=account.pk)
            .filter(Q(reports_polled_at__isnull=True) | Q(reports_polled_at__lte=now - gap))
            .filter(Q(poll_backoff_until__isnull=True) | Q(poll_backoff_until__lte=now))
            .update(reports_polled_at=now + IN_FLIGHT)
        )
        if won:
            return True
        if attempt == 2:
            return False
        last, backoff = (
            VendorAccount.objects.filter(pk=account.pk)
            .values_list("reports_polled_at", "poll_backoff_until")
            .get()
        )
        due = max(filter(None, [last + gap if last else None, backoff]), default=now)
        wait = (due - now).total_seconds()
        if wait > gap.total_seconds():
            return False  # a poll in flight, or a long back-off: do not hold the page
        sleep(max(0.0, wait) + 0.05)
    return False


def _end_report_poll(account: VendorAccount, when, *, backoff_until=None) -> None:
    changes: dict = {"reports_polled_at": when}
    if backoff_until is not None:
        changes["poll_backoff_until"] = backoff_until
    VendorAccount.objects.filter(pk=account.pk).update(**changes)
    for name, value in changes.items():
        setattr(account, name, value)


def _record_error(account: VendorAccount, exc: VendorError) -> None:
    VendorAccount.objects.filter(pk=account.pk).update(last_error=str(exc))
    account.last_error = str(exc)
