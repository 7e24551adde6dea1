"""Vendor account operations: connection test and balance refresh, how an account's
delivery reports reach the portal (push, poll), and the vendor's account options and push
instructions as the administrator sees them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from ..models import VendorAccount
from ..vendors.base import (
    PUSH_KIND_LABELS,
    AccountOption,
    Balance,
    PushInstruction,
    RateLimited,
    TransientError,
    VendorError,
)
from ..vendors.registry import VENDOR_CHOICES, vendor
from . import polling
from .deadlocks import retry_on_deadlock
from .polling import IN_FLIGHT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    balance: Balance | None = None
    error: VendorError | None = None
    reports: int = 0
    """Reports the probe of a vendor without a balance query fetched (and applied)."""

    @property
    def probed(self) -> bool:
        """Proved by a probe (the vendor has no balance query): no balance to show."""
        return self.ok and self.balance is None


def balance_unit_label(unit: str) -> str:
    """A balance's unit in the UI language ("messages" / "yuan" as the adapters say it)."""
    if unit in ("messages", "条"):
        return pgettext("balance unit", "messages")
    if unit in ("yuan", "元"):
        return pgettext("balance unit", "yuan")
    return unit


def probe_summary(account: VendorAccount, check: ConnectionCheck) -> str:
    """What a successful check of a vendor without a balance query says (the admin's test
    action and the portal's balance refresh): connected, and the reports the probe fetched
    and applied; "" for a check that read a balance or failed."""
    if not check.probed:
        return ""
    return ngettext(
        "%(account)s: connected (no balance query; %(n)d report fetched and applied)",
        "%(account)s: connected (no balance query; %(n)d reports fetched and applied)",
        check.reports,
    ) % {"account": account.name, "n": check.reports}


def refresh_balance(
    account: VendorAccount, *, sleep: Callable[[float], None] = time.sleep
) -> ConnectionCheck:
    """Ask the vendor for the balance; record it, or record the vendor's error in words.  A
    vendor without a balance query is probed instead (``probe_connection``)."""
    client = account.client()
    if not client.capabilities.balance_query:
        return probe_connection(account, client, sleep=sleep)
    shared = client.capabilities.poll_interval_shared
    if shared:
        # ashx5g: "请求状态报告、上行和余额接口的频率小于 5 秒, 则返回错误码 920": a balance
        # call takes its turn among the account's polls.
        gap = timedelta(seconds=client.capabilities.min_poll_interval_s)
        if not _claim_report_poll(account, gap, sleep, shared=True):
            exc = TransientError(
                _("The account's reports are being fetched right now: try again later.")
            )
            return ConnectionCheck(ok=False, error=exc)
    try:
        balance = client.balance()
    except VendorError as exc:
        _record_error(account, exc)
        return ConnectionCheck(ok=False, error=exc)
    finally:
        if shared:
            _end_report_poll(account, timezone.now())
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
            # Handed out once: kept before it is applied, as every poll answer is.
            record = polling.keep_answer(account, polling.REPORTS, result.raw, events)
            retry_on_deadlock(lambda: polling.apply_record(record.pk))
    except Exception:
        log.exception("%s connection probe: reports kept, not applied yet", account)
        _end_report_poll(account, timezone.now())
        raise
    now = timezone.now()
    _end_report_poll(account, now)
    VendorAccount.objects.filter(pk=account.pk).update(last_error="")
    account.last_error = ""
    return ConnectionCheck(ok=True, reports=len(events))


def _claim_report_poll(
    account: VendorAccount,
    gap: timedelta,
    sleep: Callable[[float], None],
    *,
    shared: bool = False,
) -> bool:
    """Take the account's report-poll slot as ``services.polling`` does (one conditional
    UPDATE), whether or not the account polls.  When the last poll is less than ``gap`` ago,
    wait for the rest of it once.  ``shared``: the replies poll must be ``gap`` back too."""
    for attempt in (1, 2):
        now = timezone.now()
        free = (
            VendorAccount.objects.filter(pk=account.pk)
            .filter(Q(reports_polled_at__isnull=True) | Q(reports_polled_at__lte=now - gap))
            .filter(Q(poll_backoff_until__isnull=True) | Q(poll_backoff_until__lte=now))
        )
        if shared:
            free = free.filter(
                Q(replies_polled_at__isnull=True) | Q(replies_polled_at__lte=now - gap)
            )
        if free.update(reports_polled_at=now + IN_FLIGHT):
            return True
        if attempt == 2:
            return False
        last, replies, backoff = (
            VendorAccount.objects.filter(pk=account.pk)
            .values_list("reports_polled_at", "replies_polled_at", "poll_backoff_until")
            .get()
        )
        moments = [last + gap if last else None, backoff]
        if shared:
            moments.append(replies + gap if replies else None)
        due = max(filter(None, moments), default=now)
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


# --------------------------------------------------------------------------- report delivery

VENDOR_LABELS = dict(VENDOR_CHOICES)


def pushes_reports(vendor_key: str) -> bool:
    """The vendor can push delivery reports (its adapter's ``capabilities.pushes``); one
    that cannot (smscn) delivers them only to a poll."""
    return "report" in vendor(vendor_key).capabilities.pushes


def resends_pushed_reports(vendor_key: str) -> bool:
    return vendor(vendor_key).capabilities.pushed_reports_resent


def must_poll_message(vendor_key: str) -> str:
    return _(
        "%(vendor)s cannot push delivery reports: they arrive only by polling, so “poll "
        "reports and replies” must be ticked."
    ) % {"vendor": VENDOR_LABELS.get(vendor_key, vendor_key)}


def not_resent_message(vendor_key: str) -> str:
    return _(
        "%(vendor)s does not push a delivery report again: a report pushed while the portal "
        "could not be reached is lost. Poll for reports, or make sure the push URL is always "
        "reachable."
    ) % {"vendor": VENDOR_LABELS.get(vendor_key, vendor_key)}


def report_delivery_notes(vendor_key: str | None) -> list[str]:
    """What an administrator must know about how this vendor's reports arrive (for every
    vendor when ``vendor_key`` is None: the add form, before a vendor is chosen)."""
    keys = [vendor_key] if vendor_key else list(VENDOR_LABELS)
    notes = []
    for key in keys:
        if key not in VENDOR_LABELS:
            continue
        if not pushes_reports(key):
            notes.append(must_poll_message(key))
        elif not resends_pushed_reports(key):
            notes.append(not_resent_message(key))
    return notes


def report_delivery(account: VendorAccount) -> str:
    """How the account's delivery reports reach the portal, in words; says so when none can."""
    pushed = account.push_enabled and pushes_reports(account.vendor)
    if account.polling_enabled and pushed:
        return _("pushed and polled")
    if account.polling_enabled:
        return _("polled")
    if pushed:
        return _("pushed")
    if not pushes_reports(account.vendor):
        return _("none: this vendor cannot push reports and polling is off")
    return _("none: pushes and polling are off")


def reports_unreachable(account: VendorAccount) -> bool:
    """No delivery report can reach the portal for this account as it is set up."""
    return not account.polling_enabled and not (
        account.push_enabled and pushes_reports(account.vendor)
    )


# --------------------------------------------------------------------------- options and pushes


def vendor_options(vendor_key: str) -> tuple[AccountOption, ...]:
    """The account options the vendor declares (``VendorClient.options``)."""
    return vendor(vendor_key).options


def describe_option(option: AccountOption) -> str:
    """One option in words: what it does, its choices and its default."""
    text = str(option.help)
    if option.choices:
        text += " " + _("Choices: %(choices)s.") % {
            "choices": ", ".join(value for value, _label in option.choices)
        }
    if option.default:
        text += " " + _("Default: %(default)s.") % {"default": option.default}
    return text


def option_help(vendor_key: str | None) -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """(vendor key, vendor label, [(option name, label, description)]) for the account's
    vendor, or for every vendor while none is chosen yet."""
    keys = [vendor_key] if vendor_key else [key for key, _label in VENDOR_CHOICES]
    labels = dict(VENDOR_CHOICES)
    return [
        (
            key,
            labels.get(key, key),
            [(o.name, str(o.label), describe_option(o)) for o in vendor_options(key)],
        )
        for key in keys
    ]


def push_instructions(vendor_key: str) -> list[tuple[str, PushInstruction]]:
    """(what is pushed, in words; the instruction) for each push the vendor makes."""
    return [
        (str(PUSH_KIND_LABELS.get(line.pushes, line.pushes)), line)
        for line in vendor(vendor_key).push_instructions
    ]
