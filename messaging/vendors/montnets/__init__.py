"""Montnets (梦网) International SMS API v5.13."""

from ..registry import Vendor
from .client import MontnetsClient
from .push import parse_push

VENDOR = Vendor(
    key="montnets",
    client=MontnetsClient,
    parse_push=parse_push,
    simulator_path=f"{__name__}.simulator.MontnetsSimulator",
)
