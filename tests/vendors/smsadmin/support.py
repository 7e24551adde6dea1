"""What the smsadmin tests share: accounts, messages, replayed answers."""

from urllib.parse import quote

import requests

from messaging.vendors.base import (
    AccountConfig,
    ContentRejected,
    InsufficientBalance,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    VendorAuthError,
)
from messaging.vendors.smsadmin.client import SmsAdminClient, md5_hex
from tests.harness.replay import ReplayTransport
from tests.harness.replay import replay as replay_answer
from tests.harness.samples import sample_names, sample_text

KEY = "smsadmin"


ACCOUNT = "演示账号"  # user IDs may be Chinese, so the uid itself travels in GB2312


SECRET = "s3cret"


FORM = "application/x-www-form-urlencoded"


CONTENT = "您的验证码是1234，5分钟内有效。【测试】"


def outgoing(*phones: str, content: str = CONTENT) -> list[OutgoingMessage]:
    return [OutgoingMessage(f"c{i}", phone, content) for i, phone in enumerate(phones)]


def phones(count: int) -> list[str]:
    return [f"139{n:08d}" for n in range(count)]


def replay(text: str, **config) -> tuple[SmsAdminClient, ReplayTransport]:
    """A client whose every request is answered with ``text``, GB2312-encoded as the gateway
    sends it."""
    settings = {"base_url": "http://gateway.test", "account_id": ACCOUNT, "secret": SECRET}
    config = AccountConfig(**settings | config)
    return replay_answer(SmsAdminClient, config, text.encode("gb2312"))


def sent_fields(transport: ReplayTransport) -> dict[str, str]:
    """The fields of the last request sent (form or query), decoded as GB2312."""
    return transport.sent_fields("gb2312")[1]


ERROR_FOR_CODE = {
    "1": VendorAuthError,
    "2": InsufficientBalance,
    "3": InvalidRequest,
    "4": VendorAuthError,
    "5": InvalidNumber,  # content is never empty, so 5 means no usable number
    "7": ContentRejected,
    "8": VendorAuthError,
}


SEND_SAMPLES = sample_names(KEY, "*send*_reply_*.txt")


def send_for_sample(name: str, client: SmsAdminClient):
    if name.startswith("post_send_ddt"):
        return client.send_personalised(outgoing("13800138000"))
    if name.startswith("post_send"):  # more numbers than GET's 100 go by POST
        return client.send_same(outgoing(*phones(101)), CONTENT)
    return client.send_same(outgoing("13800138000"), CONTENT)


def fill(template: str, values: dict[str, list[str]]) -> str:
    """A concrete reply from the document's pattern ("手机号 1/日期 1/...")."""
    for label, per_record in values.items():
        for n, value in zip((20, 3, 2, 1), reversed(per_record), strict=True):
            template = template.replace(f"{label} {n}", value)
    return template


REPLY_VALUES = {
    "手机号": ["13800138001", "13800138002", "13800138003", "13800138020"],
    "日期": ["2017-09-28 10:00:01", "2017-09-28 10:00:02", "2017-09-28 10:00:03", "无"],
    "流水号": ["ab12", "", "ab12", "cd34"],
    "子码": ["01", "02", "", "20"],
}


def push_from_sample(name: str) -> str:
    # The examples are URLs ("http://pushURL?...", the rpt one inside <>): keep the fields.
    return sample_text(KEY, name).strip("<>").split("?", 1)[1]


def client_for(sim, **config) -> SmsAdminClient:
    settings = {"base_url": sim.url("smsadmin"), "account_id": ACCOUNT, "secret": SECRET}
    return SmsAdminClient(AccountConfig(**settings | config))


COMMA_CONTENTS = ["Hi 张三, 您的订单已发货", "价格;数量", "a,b;c", ","]


def post_ddt(sim, params: str, template: str = "{value1}", linkid: str = "t1") -> str:
    """A 点点通 request as the document describes it, straight to the simulator."""
    form = {
        "uid": ACCOUNT.encode("gb2312"),
        "pwd": md5_hex(SECRET),
        "msg": quote(template, encoding="gb2312"),
        "params": quote(params, encoding="gbk"),
        "dtime": "",
        "linkid": linkid,
    }
    answer = requests.post(
        sim.url("smsadmin") + "/smsmarketing/wwwroot/api/post_send_ddt/", data=form, timeout=5
    )
    return answer.content.decode("gb2312")


OPERATIONS = {
    "send_same": lambda c: c.send_same(outgoing("13800138000"), CONTENT),
    "send_personalised": lambda c: c.send_personalised(outgoing("13800138000")),
    "poll_reports": lambda c: c.poll_reports(),
    "poll_mo": lambda c: c.poll_mo(),
    "balance": lambda c: c.balance(),
    "check_content": lambda c: c.check_content(CONTENT),
}
