"""The five vendors, by key.  Adding a vendor: see ``ADDING_VENDORS.md``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import AccountConfig, PushOutcome, PushRequest, VendorClient
    from .simulator import VendorSimulator

# Static so that model choices and migrations never import adapter code.
VENDOR_CHOICES: list[tuple[str, str]] = [
    ("ashx5g", "5G SMS (ashx)"),
    ("actiongw", "Action gateway (CMPP HTTP)"),
    ("montnets", "Montnets (梦网)"),
    ("smsadmin", "smsadmin.cn (通用短信平台)"),
    ("smscn", "sms.cn"),
]
VENDOR_KEYS: tuple[str, ...] = tuple(key for key, _ in VENDOR_CHOICES)


@dataclass(frozen=True)
class Vendor:
    """What each ``messaging/vendors/<key>/__init__.py`` exports as ``VENDOR``."""

    key: str
    client: type[VendorClient]
    parse_push: Callable[[PushRequest, AccountConfig], PushOutcome]
    """Parse one push (reports, replies or template reviews) and say what to answer.
    Raises ``PushRejected`` when the whole push is unauthenticated or unreadable."""
    simulator: type[VendorSimulator]

    @property
    def capabilities(self):
        return self.client.capabilities


@cache
def all_vendors() -> dict[str, Vendor]:
    """Every vendor by key, imported on first use (model choices never need adapter code)."""
    return {key: import_module(f"messaging.vendors.{key}").VENDOR for key in VENDOR_KEYS}


def vendor(key: str) -> Vendor:
    return all_vendors()[key]
