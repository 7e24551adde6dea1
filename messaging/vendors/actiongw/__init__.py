"""actiongw: a generic CMPP-backed HTTP gateway (``/sms?action=...``)."""

from ..registry import Vendor
from .client import ActionGwClient
from .push import parse_push

VENDOR = Vendor(
    key="actiongw",
    client=ActionGwClient,
    parse_push=parse_push,
    simulator_path=f"{__name__}.simulator.ActionGwSimulator",
)
