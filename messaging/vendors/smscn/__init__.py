"""sms.cn (GBK plain-text HTTP API): sends, report / reply polling, counters, send records and
the ``cmd=res`` reply push."""

from ..registry import Vendor
from .client import SmscnClient
from .push import parse_push

VENDOR = Vendor(
    key="smscn",
    client=SmscnClient,
    parse_push=parse_push,
    simulator_path=f"{__name__}.simulator.SmscnSimulator",
)
