"""Vendor account operations: connection test and balance refresh."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import VendorAccount
from ..vendors.base import Balance, VendorError


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    balance: Balance | None = None
    error: VendorError | None = None


def refresh_balance(account: VendorAccount) -> ConnectionCheck:
    """Ask the vendor for the balance; record it, or record the vendor's error in words."""
    client = account.client()
    if not client.capabilities.balance_query:
        # Still prove the connection: the vendor has no balance query to ask.
        exc = VendorError(_("This vendor offers no balance query."))
        return ConnectionCheck(ok=False, error=exc)
    try:
        balance = client.balance()
    except VendorError as exc:
        VendorAccount.objects.filter(pk=account.pk).update(last_error=str(exc))
        account.last_error = str(exc)
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
