"""actiongw: a generic CMPP-backed HTTP gateway (``/sms?action=...``)."""

from ..registry import Vendor
from .client import ActionGwClient
from .push import parse_push
from .simulator import ActionGwSimulator

VENDOR = Vendor(
    key="actiongw", client=ActionGwClient, parse_push=parse_push, simulator=ActionGwSimulator
)
