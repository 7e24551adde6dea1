"""ashx5g: the "5G SMS Interface" v8.33 gateway (mt / mts / mts_var / rpt / mo / bi / balance /
mms_create .ashx)."""

from ..registry import Vendor
from .client import Ashx5gClient
from .push import parse_push

VENDOR = Vendor(
    key="ashx5g",
    client=Ashx5gClient,
    parse_push=parse_push,
    simulator_path=f"{__name__}.simulator.Ashx5gSimulator",
)
