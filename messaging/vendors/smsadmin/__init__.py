"""smsadmin.cn 通用短信平台 (HTTP interface v1.0.5, GB2312)."""

from ..registry import Vendor
from .client import SmsAdminClient
from .push import parse_push

VENDOR = Vendor(
    key="smsadmin",
    client=SmsAdminClient,
    parse_push=parse_push,
    simulator_path=f"{__name__}.simulator.SmsAdminSimulator",
)
