"""The five vendors, by key.  Adding a vendor: see ``ADDING_VENDORS.md``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import (
        AccountConfig,
        AccountOption,
        PushInstruction,
        PushOutcome,
        PushRequest,
        VendorClient,
    )
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
    simulator_path: str
    """The simulator class by dotted path (``messaging.vendors.<key>.simulator.<Class>``),
    imported only when a test, the demo or ``run_simulators`` asks for it: production processes
    never load simulator code."""

    @property
    def simulator(self) -> type[VendorSimulator]:
        module, _, name = self.simulator_path.rpartition(".")
        return getattr(import_module(module), name)

    @property
    def capabilities(self):
        return self.client.capabilities

    @property
    def options(self) -> tuple[AccountOption, ...]:
        return self.client.options

    @property
    def push_instructions(self) -> tuple[PushInstruction, ...]:
        return self.client.push_instructions


@cache
def all_vendors() -> dict[str, Vendor]:
    """Every vendor by key, imported on first use (model choices never need adapter code)."""
    return {key: import_module(f"messaging.vendors.{key}").VENDOR for key in VENDOR_KEYS}


def vendor(key: str) -> Vendor:
    return all_vendors()[key]
