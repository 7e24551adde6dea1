"""smsadmin.cn adapter: the document's samples as test vectors, every operation against the
simulator over real HTTP, and each typed error from the gateway's own answers."""

import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit

import pytest
import requests

from messaging.services.outcomes import Disposition, decide
from messaging.vendors.base import (
    AccountConfig,
    AmbiguousOutcome,
    ContentRejected,
    InsufficientBalance,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    PushRejected,
    PushRequest,
    RateLimited,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
    VendorError,
)
from messaging.vendors.http import HttpReply
from messaging.vendors.smsadmin import VENDOR
from messaging.vendors.smsadmin.client import CHINA, SmsAdminClient, md5_hex
from messaging.vendors.smsadmin.codes import REPORT_CODES, error_for
from messaging.vendors.smsadmin.push import parse_push
from messaging.vendors.smsadmin.simulator import SmsAdminSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "smsadmin"
ACCOUNT = "演示账号"  # user IDs may be Chinese, so the uid itself travels in GB2312
SECRET = "s3cret"
FORM = "application/x-www-form-urlencoded"
CONTENT = "您的验证码是1234，5分钟内有效。【测试】"


def sample(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def outgoing(*phones: str, content: str = CONTENT) -> list[OutgoingMessage]:
    return [OutgoingMessage(f"c{i}", phone, content) for i, phone in enumerate(phones)]


def phones(count: int) -> list[str]:
    return [f"139{n:08d}" for n in range(count)]


# --------------------------------------------------------------------------- replayed samples


class ReplayTransport:
    """Answers every request with one reply, GB2312-encoded as the gateway sends it, and keeps
    the requests made."""

    def __init__(self, text: str):
        self.body = text.encode("gb2312")
        self.calls: list[tuple[str, str, bytes | None]] = []

    def request(self, method, url, *, data=None, encoding=None, **_):
        self.calls.append((method, url, data))
        return HttpReply(200, self.body, self.body.decode(encoding, errors="replace"), {}, url)

    def get(self, url, params=None, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def sent_fields(self) -> dict[str, str]:
        _, url, data = self.calls[-1]
        form = data.decode("ascii") if data else urlsplit(url).query
        return dict(parse_qsl(form, keep_blank_values=True, encoding="gb2312"))


def replay(text: str, **config) -> tuple[SmsAdminClient, ReplayTransport]:
    transport = ReplayTransport(text)
    settings = {"base_url": "http://gateway.test", "account_id": ACCOUNT, "secret": SECRET}
    return SmsAdminClient(AccountConfig(**settings | config), transport=transport), transport


ERROR_FOR_CODE = {
    "1": VendorAuthError,
    "2": InsufficientBalance,
    "3": InvalidRequest,
    "4": VendorAuthError,
    "5": InvalidNumber,  # content is never empty, so 5 means no usable number
    "7": ContentRejected,
    "8": VendorAuthError,
}
SEND_SAMPLES = sorted(p.name for p in FIXTURES.glob("*send*_reply_*.txt"))


def test_every_send_table_row_is_a_sample():
    assert len(SEND_SAMPLES) == 24  # 8 rows in each of the GET, POST and 点点通 tables


def send_for_sample(name: str, client: SmsAdminClient):
    if name.startswith("post_send_ddt"):
        return client.send_personalised(outgoing("13800138000"))
    if name.startswith("post_send"):  # more numbers than GET's 100 go by POST
        return client.send_same(outgoing(*phones(101)), CONTENT)
    return client.send_same(outgoing("13800138000"), CONTENT)


@pytest.mark.parametrize("name", SEND_SAMPLES)
def test_send_reply_samples(name):
    text = sample(name)
    client, transport = replay(text)
    code = text.split(" ")[0]
    if code == "0":
        results = send_for_sample(name, client)
        assert results and all(r.accepted and r.raw == text for r in results)
    else:
        with pytest.raises(ERROR_FOR_CODE[code]) as caught:
            send_for_sample(name, client)
        assert (caught.value.code, caught.value.raw) == (code, text)
        assert caught.value.description_zh and caught.value.description_en
    # Sends always go by POST (the password stays out of URLs): a GET interface's replies are
    # read from its POST twin, which answers with the same texts.
    interface = name.split("_reply")[0].replace("get_send", "post_send")
    assert urlsplit(transport.calls[0][1]).path == f"/smsmarketing/wwwroot/api/{interface}/"


def test_send_fields_are_the_documented_query_parameters():
    # The document's example writes "dttime" and "linked"; its parameter list (and the
    # gateway) says dtime and linkid.  They travel in the POST body, never in the URL.
    documented = dict(parse_qsl(sample("get_send_query_example.txt").lstrip("?")))
    client, transport = replay("0 发送成功!", options={"send_method": "get"})
    client.send_same(outgoing("13800138000"), CONTENT)
    method, url, _ = transport.calls[0]
    assert (method, urlsplit(url).path) == ("POST", "/smsmarketing/wwwroot/api/post_send/")
    assert urlsplit(url).query == ""
    renamed = {"dttime": "dtime", "linked": "linkid"}
    fields = transport.sent_fields()
    assert list(fields) == [renamed.get(name, name) for name in documented]
    assert (fields["uid"], fields["pwd"], fields["msg"]) == (ACCOUNT, SECRET, CONTENT)


def test_md5_password_is_32_lowercase_hex():
    # The document has no digest sample; md5("123456") is the well-known vector.
    assert md5_hex("123456") == "e10adc3949ba59abbe56e057f20f883e"
    client, transport = replay("0 发送成功!", secret="123456", auth_mode="md5")
    client.send_same(outgoing("13800138000"), "换行\n内容")
    assert transport.calls[0][1].endswith("/api/post_send_md5/")
    assert transport.sent_fields()["pwd"] == "e10adc3949ba59abbe56e057f20f883e"
    assert transport.sent_fields()["msg"] == "换行\n内容"


def test_urldecode_interface_gets_uid_and_msg_url_encoded_before_the_form():
    client, transport = replay("0 发送成功!")
    client.send_same(outgoing("13800138000"), "第一行\n第二行")
    assert transport.calls[0][1].endswith("/api/post_send_urldecode/")
    fields = transport.sent_fields()
    assert fields["uid"] == quote(ACCOUNT, encoding="gb2312")
    assert fields["msg"] == quote("第一行\n第二行", encoding="gb2312")


def test_ddt_request_carries_url_encoded_template_and_groups():
    client, transport = replay("0 发送成功!")
    client.send_personalised(
        [
            OutgoingMessage("a", "13712345678", "验证码 123456"),
            OutgoingMessage("b", "13745678910", "4567"),
        ]
    )
    fields = transport.sent_fields()
    assert fields["pwd"] == md5_hex(SECRET)
    assert unquote_plus(fields["msg"], encoding="gb2312") == "{value1}"
    assert unquote_plus(fields["params"], encoding="gb2312") == (
        "13712345678,验证码 123456;13745678910,4567"
    )


def test_ddt_document_example_renders_value_n_as_the_groups_nth_field(sim):
    # The document's own template and groups, posted to the simulator as a customer would: its
    # rendering puts the group's second field where {value1} stands (field 0 is the phone).
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET)
    form = {
        "uid": ACCOUNT,
        "pwd": md5_hex(SECRET),
        "msg": quote(sample("post_send_ddt_msg_template_example.txt"), encoding="gb2312"),
        "params": quote(sample("post_send_ddt_params_example.txt"), encoding="gb2312"),
        "dtime": "",
        "linkid": "doc1",
    }
    answer = requests.post(
        sim.url("smsadmin") + "/smsmarketing/wwwroot/api/post_send_ddt/",
        data={k: v.encode("gb2312") for k, v in form.items()},
        timeout=5,
    )
    assert answer.content.decode("gb2312") == "0 发送成功!"
    sent = {m["phone"]: m["content"] for m in sim.accepted(vendor="smsadmin")}
    assert list(sent) == ["13712345678", "13745678910", "13714782356"]
    assert "您本次的注册验证码  4567, 在  20 分钟内输入有效。" in sent["13745678910"]
    # The document's three renderings, its spaces aside ("模板变量分别为: …").
    rendered = {phone: " ".join(text.split()) for phone, text in sent.items()}
    for phone, code, minutes in [
        ("13712345678", "123456", "10"),
        ("13745678910", "4567", "20"),
        ("13714782356", "78912", "30"),
    ]:
        assert (
            f"您本次的注册验证码 {code}, 在 {minutes} 分钟内输入有效。 【签名内容】"
            in (rendered[phone])
        )


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


def test_reve_sample_parses_to_replies():
    pattern = sample("reve_reply_success.txt")
    # The sample is a pattern, not a reply: placeholders are no phone numbers.
    with pytest.raises(UnexpectedReply):
        replay(pattern)[0].poll_mo()
    contents = ["收到/好的", "第二条", "3", "最后 一条"]
    text = fill(pattern, REPLY_VALUES | {"回复内容": contents})
    client, transport = replay(text)
    result = client.poll_mo()
    uid = quote(ACCOUNT, encoding="gb2312")
    assert transport.calls[0][1].endswith(f"/api/reve_urlencode/?uid={uid}&pwd={SECRET}")
    assert [r.content for r in result.items] == ["收到/好的", "第二条", "3", "最后 一条"]
    assert [r.phone for r in result.items] == REPLY_VALUES["手机号"]
    assert [r.link_id for r in result.items] == REPLY_VALUES["流水号"]
    assert [r.extension for r in result.items] == REPLY_VALUES["子码"]
    first = result.items[0].received_at
    assert (first.isoformat(), first.tzinfo) == ("2017-09-28T10:00:01+08:00", CHINA)
    assert result.items[3].received_at is None  # "无" is no time
    assert result.items[0].raw.startswith("13800138001/") and result.raw == text.strip()
    assert not result.more_waiting


def test_report_sample_parses_to_status_events():
    pattern = sample("report_reply_success.txt")
    codes = ["DELIVRD", "UNDELIV", "EXPIRED", "DTBLACK"]
    client, _ = replay(fill(pattern, REPLY_VALUES | {"状态值": codes}))
    events = client.poll_reports().items
    assert [e.status for e in events] == ["delivered", "undelivered", "expired", "undelivered"]
    assert [e.vendor_code for e in events] == codes
    assert [e.vendor_message_id for e in events] == [
        "ab12:13800138001",
        "",
        "ab12:13800138003",
        "cd34:13800138020",
    ]
    assert events[0].batch_id == "ab12" and events[0].description_zh == "成功送达"
    assert events[0].done_at.isoformat() == "2017-09-28T10:00:01+08:00"


@pytest.mark.parametrize(
    ("name", "operation"),
    [("reve_reply_150_nothing.txt", "poll_mo"), ("report_reply_160_nothing.txt", "poll_reports")],
)
def test_nothing_to_fetch_samples(name, operation):
    result = getattr(replay(sample(name))[0], operation)()
    assert (result.items, result.more_waiting, result.raw) == ([], False, sample(name))


@pytest.mark.parametrize(
    ("name", "operation"),
    [
        ("user_info_reply_1_auth.txt", lambda c: c.balance()),
        ("mgz_reply_1_auth.txt", lambda c: c.check_content("内容")),
        ("reve_reply_1_auth.txt", lambda c: c.poll_mo()),
        ("report_reply_1_auth.txt", lambda c: c.poll_reports()),
    ],
)
def test_auth_error_samples(name, operation):
    with pytest.raises(VendorAuthError) as caught:
        operation(replay(sample(name))[0])
    assert (caught.value.code, caught.value.raw) == ("1", "1 用户名或密码错误!")


def test_user_info_sample_parses_to_balance():
    text = sample("user_info_reply_success.txt")
    balance = replay(text)[0].balance()
    # "XXX" is the document's placeholder, not an amount.
    assert (balance.amount, balance.unit, balance.raw) == (None, "messages", text)
    assert balance.details == {"uid": "uid", "剩余资费": "XXX"}
    assert replay(text.replace("XXX", "1234.5"))[0].balance().amount == Decimal("1234.5")
    two_lines = replay("用户ID=爱短信\n剩余资费=91")[0].balance()
    assert (two_lines.amount, two_lines.details["uid"]) == (Decimal(91), "爱短信")


def test_mgz_samples_parse_to_content_checks():
    found = replay(sample("mgz_reply_words.txt"))[0].check_content("内容")
    assert (found.ok, found.words) == (False, ("敏感字 1", "敏感字 2", "敏感字 3"))
    clean = replay(sample("mgz_reply_clean.txt"))[0].check_content("内容")
    assert (clean.ok, clean.words, clean.raw) == (True, (), "不含敏感字")


def push_from_sample(name: str) -> str:
    # The examples are URLs ("http://pushURL?...", the rpt one inside <>): keep the fields.
    return sample(name).strip("<>").split("?", 1)[1]


def test_mo_push_sample_as_post_form():
    fields = push_from_sample("push_mo_example.txt")
    request = PushRequest("POST", {}, fields.encode("gb2312"), FORM)
    outcome = parse_push(request, AccountConfig("http://x", "ID", "pw"))
    (reply,) = outcome.replies
    # The example wraps LinkId over two lines and writes "& RevertTime" with a space.
    assert (reply.phone, reply.content, reply.link_id) == ("13802102102", "test", "123456789")
    assert reply.received_at is None  # 0000-00-00 00:00:00
    assert (outcome.reply_body, outcome.reply_status, outcome.errors) == ("", 200, [])
    assert outcome.reply_content_type == "text/plain; charset=gb2312"


def test_rpt_push_sample_as_query_string():
    query = dict(parse_qsl(push_from_sample("push_rpt_example.txt")))
    outcome = parse_push(PushRequest("POST", query, b""), AccountConfig("http://x", "ID", "pw"))
    (report,) = outcome.reports
    assert (report.status, report.vendor_code, report.phone) == (
        "delivered",
        "DELIVRD",
        "138xxxxxxx",
    )
    assert (report.vendor_message_id, report.batch_id) == ("123456789:138xxxxxxx", "123456789")
    assert outcome.reply_body == "" and not outcome.errors


def test_push_checks():
    config = AccountConfig("http://x", ACCOUNT, SECRET)

    def push(body: str) -> PushRequest:
        return PushRequest("POST", {}, body.encode("gb2312"), FORM)

    with pytest.raises(PushRejected) as caught:
        parse_push(push("Class=rpt&SmsName=other&Mobile=13800138000&Report=DELIVRD"), config)
    assert caught.value.status == 403
    with pytest.raises(PushRejected) as caught:
        parse_push(push("Class=rpt&Mobile=13800138000&Report=DELIVRD"), config)
    assert caught.value.status == 401
    with pytest.raises(PushRejected) as caught:
        parse_push(PushRequest("POST", {}, b"\xff\xfe<html>{{"), config)
    assert caught.value.status == 400
    uid = quote(ACCOUNT, encoding="gb2312")
    outcome = parse_push(push(f"Class=rpt&SmsName={uid}&Report=DELIVRD"), config)
    assert outcome.reports == [] and "without Mobile" in outcome.errors[0]
    # Raw (unescaped) GB2312 bytes in the form are read too.
    raw = (
        f"Class=mo&SmsName={ACCOUNT}&Mobile=13800138000&Message=你好 世界"
        "& RevertTime=2017-09-28 10:00:00"
    )
    outcome = parse_push(PushRequest("POST", {}, raw.encode("gb2312"), FORM), config)
    (reply,) = outcome.replies
    assert reply.content == "你好 世界"
    assert reply.received_at.isoformat() == "2017-09-28T10:00:00+08:00"  # " RevertTime" read


# --------------------------------------------------------------------------- simulator, HTTP


@pytest.fixture
def account(sim):
    sim.add_account(
        vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, extension="8801", balance=1000
    )
    return sim.state.account("smsadmin", ACCOUNT)


def client_for(sim, **config) -> SmsAdminClient:
    settings = {"base_url": sim.url("smsadmin"), "account_id": ACCOUNT, "secret": SECRET}
    return SmsAdminClient(AccountConfig(**settings | config))


def test_vendor_export():
    assert (VENDOR.key, VENDOR.client, VENDOR.simulator) == (
        "smsadmin",
        SmsAdminClient,
        SmsAdminSimulator,
    )
    assert VENDOR.capabilities.max_reports_per_poll == 20
    assert VENDOR.capabilities.pushes == frozenset({"report", "mo"})


def test_send_same_plain_post(sim, account):
    results = client_for(sim).send_same(outgoing("13800138000", "13800138001"), CONTENT)
    linkid = results[0].batch_id
    assert linkid.isalnum() and len(linkid) <= 32
    assert [(r.custom_id, r.accepted, r.vendor_message_id) for r in results] == [
        ("c0", True, f"{linkid}:13800138000"),
        ("c1", True, f"{linkid}:13800138001"),
    ]
    accepted = sim.accepted(vendor="smsadmin")
    assert [(m["phone"], m["content"], m["batch_id"]) for m in accepted] == [
        ("13800138000", CONTENT, linkid),
        ("13800138001", CONTENT, linkid),
    ]
    assert accepted[0]["extra"]["endpoint"] == "post_send"
    assert account.balance == 998


@pytest.mark.parametrize(
    ("config", "content", "endpoint"),
    [
        ({}, "第一行 A+B 100%\n第二行", "post_send_urldecode"),
        ({"auth_mode": "md5"}, CONTENT, "post_send_md5"),
        ({"auth_mode": "md5"}, "第一行\n第二行", "post_send_md5"),
        # The GET interfaces would carry the password in the URL: never used, whatever the
        # account's options say.
        ({"options": {"send_method": "get"}}, CONTENT, "post_send"),
        ({"options": {"send_method": "get"}}, "a b\r\nc+d%", "post_send_urldecode"),
        ({"options": {"send_method": "GET"}, "auth_mode": "md5"}, CONTENT, "post_send_md5"),
    ],
)
def test_send_variants(sim, account, config, content, endpoint):
    (result,) = client_for(sim, **config).send_same(outgoing("13800138000"), content)
    (message,) = sim.accepted(vendor="smsadmin")
    assert (message["content"], message["extra"]["endpoint"]) == (content, endpoint)
    assert result.accepted and result.vendor_message_id == message["vendor_message_id"]


def test_get_send_over_100_numbers_goes_by_post(sim, account):
    client_for(sim, options={"send_method": "get"}).send_same(outgoing(*phones(150)), CONTENT)
    accepted = sim.accepted(vendor="smsadmin")
    assert len(accepted) == 150 and accepted[0]["extra"]["endpoint"] == "post_send"


def test_simulator_limits_per_interface(sim, account):
    api = sim.url("smsadmin") + "/smsmarketing/wwwroot/api/"
    query = {
        "uid": ACCOUNT.encode("gb2312"),
        "pwd": SECRET,
        "mobile": ";".join(phones(101)),
        "msg": "hi",
    }
    answer = requests.get(api + "get_send/", params=query, timeout=5)
    assert answer.content.decode("gb2312") == "3 超过发送最大量 100 条"
    with pytest.raises(InvalidRequest) as caught:
        client_for(sim).send_same(outgoing(*phones(1001)), CONTENT)
    assert caught.value.raw == "3 超过发送最大量 1000 条"
    assert sim.accepted(vendor="smsadmin") == []


def test_repeated_phone_waits_for_another_request(sim, account):
    results = client_for(sim).send_same(outgoing("13800138000", "13800138000"), CONTENT)
    assert results[0].accepted and not results[1].accepted
    assert (results[1].custom_id, results[1].error_kind) == ("c1", "transient")
    assert len(sim.accepted(vendor="smsadmin")) == 1


def test_send_personalised(sim, account):
    messages = [
        OutgoingMessage("a", "13800138000", "张三您好，您的订单已发货。【测试】"),
        OutgoingMessage("b", "13800138001", "李四 您好\n第二行 100%+1"),
        OutgoingMessage("c", "13800138002", "Hello, Wang"),
        OutgoingMessage("d", "13800138003", "表情😀"),
        OutgoingMessage("e", "13800138004", "王五您好；全角分号照常"),
    ]
    results = client_for(sim).send_personalised(messages)
    assert [(r.custom_id, r.accepted, r.error_kind) for r in results] == [
        ("a", True, ""),
        ("b", True, ""),
        ("c", False, "needs_single"),
        ("d", False, "invalid_request"),
        ("e", True, ""),
    ]
    linkid = results[0].batch_id
    assert results[1].vendor_message_id == f"{linkid}:13800138001"
    accepted = sim.accepted(vendor="smsadmin")
    assert [(m["phone"], m["content"]) for m in accepted] == [
        (m.phone, m.content) for m in (messages[0], messages[1], messages[4])
    ]
    assert {m["extra"]["endpoint"] for m in accepted} == {"post_send_ddt"}


COMMA_CONTENTS = ["Hi 张三, 您的订单已发货", "价格;数量", "a,b;c", ","]


def test_personalised_contents_with_list_separators_need_single_sends(sim, account):
    """ "Hi <name>, …": the ASCII "," or ";" would split the 点点通 list.  Only those recipients
    stay out of the request (not sent); the pipeline sends each on its own, which carries it."""
    messages = [OutgoingMessage("ok1", "13900000001", "您好 张三")]
    messages += [
        OutgoingMessage(f"c{i}", f"1380000000{i}", text) for i, text in enumerate(COMMA_CONTENTS)
    ]
    messages.append(OutgoingMessage("ok2", "13900000002", "您好 李四"))
    client = client_for(sim)
    results = client.send_personalised(messages)
    assert [(r.custom_id, r.accepted, r.error_kind) for r in results] == [
        ("ok1", True, ""),
        *((f"c{i}", False, "needs_single") for i in range(len(COMMA_CONTENTS))),
        ("ok2", True, ""),
    ]
    refused = results[1]
    assert "','" in refused.error_description and refused.vendor_message_id == ""
    assert decide(refused).disposition == Disposition.RESEND_SINGLE
    assert [m["phone"] for m in sim.accepted(vendor="smsadmin")] == ["13900000001", "13900000002"]
    for message in messages[1:-1]:
        assert client.send_single(message).accepted
    singles = sim.accepted(vendor="smsadmin")[2:]
    assert [(m["phone"], m["content"]) for m in singles] == [
        (m.phone, m.content) for m in messages[1:-1]
    ]
    assert all(m["extra"]["endpoint"].startswith("post_send") for m in singles)
    assert "post_send_ddt" not in {m["extra"]["endpoint"] for m in singles}


def test_personalised_content_gb2312_cannot_carry(sim, account):
    """Per recipient, refused for good before sending, in our words; the others go."""
    messages = [
        OutgoingMessage("a", "13800138000", "您好"),
        OutgoingMessage("b", "13800138001", "陶喆您好"),  # 喆 is GBK, not GB2312
        OutgoingMessage("c", "13800138002", "表情😀, 逗号"),
        OutgoingMessage("d", "13800138003", "再见"),
    ]
    results = client_for(sim).send_personalised(messages)
    assert [(r.custom_id, r.accepted, r.error_kind) for r in results] == [
        ("a", True, ""),
        ("b", False, "invalid_request"),
        ("c", False, "invalid_request"),  # a single send could not carry it either
        ("d", True, ""),
    ]
    assert "GB2312" in results[1].error_description and "喆" in results[1].error_description
    assert "😀" in results[2].error_description
    assert decide(results[1]).disposition == Disposition.FAILED
    assert [m["phone"] for m in sim.accepted(vendor="smsadmin")] == ["13800138000", "13800138003"]
    # Nothing to send at all: no request.
    only = client_for(sim).send_personalised(messages[1:3])
    assert [r.error_kind for r in only] == ["invalid_request", "invalid_request"]
    assert len(sim.accepted(vendor="smsadmin")) == 2


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


def test_simulator_splits_personalised_values_on_ascii_separators(sim, account):
    """No escape exists: a "," inside a value gives the group one field too many (格式不符,
    dropped); a ";" cuts the group, whose head goes out truncated and whose tail is dropped."""
    assert post_ddt(sim, "13800138000,Hi Li, hello;13800138001,fine") == "0 发送成功!"
    assert [(m["phone"], m["content"]) for m in sim.accepted(vendor="smsadmin")] == [
        ("13800138001", "fine")
    ]
    assert post_ddt(sim, "13800138002,价格;数量", linkid="t2") == "0 发送成功!"
    assert [(m["phone"], m["content"]) for m in sim.accepted(vendor="smsadmin")][1:] == [
        ("13800138002", "价格")
    ]
    assert post_ddt(sim, "13800138003,a,b", linkid="t3") == "5 手机号或发送信息不能为空!"


def test_simulator_refuses_text_that_is_not_gb2312(sim, account):
    assert post_ddt(sim, "13800138000,陶喆;13800138001,陶吉吉") == "0 发送成功!"
    assert [m["phone"] for m in sim.accepted(vendor="smsadmin")] == ["13800138001"]
    api = sim.url("smsadmin") + "/smsmarketing/wwwroot/api/"
    form = {
        "uid": ACCOUNT.encode("gb2312"),
        "pwd": SECRET,
        "mobile": "13800138002",
        "msg": "陶喆".encode("gbk"),
    }
    answer = requests.post(api + "post_send/", data=form, timeout=5)
    assert answer.content.decode("gb2312") == "5 手机号或发送信息不能为空!"
    assert len(sim.accepted(vendor="smsadmin")) == 1


def test_poll_reports(sim, account):
    outcomes = {
        "13800138000": "delivered",
        "13800138001": "undelivered",
        "13800138002": "expired",
        "13800138003": "rejected",
    }
    sim.state.phone_outcomes = outcomes
    client = client_for(sim)
    sent = {r.vendor_message_id: r for r in client.send_same(outgoing(*outcomes), CONTENT)}
    sim.state.tick()
    result = client.poll_reports()
    assert {e.vendor_message_id for e in result.items} == set(sent)
    assert {e.phone: e.status for e in result.items} == outcomes
    assert {e.vendor_code for e in result.items} == {"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD"}
    assert all(e.done_at.tzinfo == CHINA and e.raw.endswith("/8801") for e in result.items)
    assert not result.more_waiting


def test_poll_reports_twenty_at_a_time(sim, account):
    sim.state.enforce_poll_interval = False
    client = client_for(sim)
    client.send_same(outgoing(*phones(25)), CONTENT)
    sim.state.tick()
    first, second, third = client.poll_reports(), client.poll_reports(), client.poll_reports()
    assert (len(first.items), first.more_waiting) == (20, True)
    assert (len(second.items), second.more_waiting) == (5, False)
    assert third.items == [] and third.raw == "160"


def test_polling_sooner_than_5_s_gets_nothing(sim, account):
    client = client_for(sim)
    client.send_same(outgoing("13800138000"), CONTENT)
    sim.state.tick()
    assert len(client.poll_reports().items) == 1
    client.send_same(outgoing("13800138001"), CONTENT)
    sim.state.tick()
    too_soon = client.poll_reports()
    assert (too_soon.items, too_soon.raw) == ([], "160")
    assert len(sim.state.ready_reports[("smsadmin", ACCOUNT)]) == 1  # still queued
    sim.state.last_poll.clear()  # as if 5 s had passed
    assert [e.phone for e in client.poll_reports().items] == ["13800138001"]


def test_poll_mo(sim, account):
    client = client_for(sim)
    (sent,) = client.send_same(outgoing("13800138000"), CONTENT)
    content = "收到/好的 谢谢\n第二行 100%+1"
    sim.inject_reply(
        vendor="smsadmin",
        account_id=ACCOUNT,
        phone="13800138000",
        content=content,
        extension="8801",
    )
    sim.inject_reply(
        vendor="smsadmin", account_id=ACCOUNT, phone="13900139000", content="TD", extension=""
    )
    result = client.poll_mo()
    first, second = result.items
    assert (first.phone, first.content, first.extension) == ("13800138000", content, "8801")
    assert first.link_id == sent.batch_id and first.received_at.tzinfo == CHINA
    assert (second.phone, second.content, second.link_id) == ("13900139000", "TD", "")
    sim.state.last_poll.clear()
    assert client.poll_mo().raw == "150"


def test_plain_reve_and_user_info_urldecode(sim, account):
    sim.state.enforce_poll_interval = False
    sim.inject_reply(
        vendor="smsadmin",
        account_id=ACCOUNT,
        phone="13800138000",
        content="好的 谢谢",
        extension="01",
    )
    api = sim.url("smsadmin") + "/smsmarketing/wwwroot/api/"
    credentials = {"uid": ACCOUNT.encode("gb2312"), "pwd": SECRET}
    answer = requests.get(api + "reve/", params=credentials, timeout=5)
    phone, _, linkid, content, extension = answer.content.decode("gb2312").split("/")
    assert (phone, linkid, content, extension) == ("13800138000", "", "好的 谢谢", "01")
    encoded_uid = quote(ACCOUNT, encoding="gb2312")
    answer = requests.get(
        api + "user_info_urldecode/", params={**credentials, "uid": encoded_uid}, timeout=5
    )
    assert answer.content.decode("gb2312") == f"用户 ID={ACCOUNT} 剩余资费=1000"


def test_balance(sim, account):
    client = client_for(sim)
    balance = client.balance()
    assert (balance.amount, balance.unit, balance.details["uid"]) == (
        Decimal(1000),
        "messages",
        ACCOUNT,
    )
    client.send_same(outgoing("13800138000"), "x" * 71)  # letters count like 汉字: 2 parts
    assert client.balance().amount == Decimal(998)


def test_check_content(sim, account):
    client = client_for(sim)
    assert client.check_content(CONTENT).ok
    flagged = client.check_content("代开发票，请联系")
    assert (flagged.ok, flagged.words) == (False, ("发票", "代开"))
    emoji = client.check_content("你好😀")
    assert not emoji.ok and "😀" in emoji.message


# --------------------------------------------------------------------------- typed errors


OPERATIONS = {
    "send_same": lambda c: c.send_same(outgoing("13800138000"), CONTENT),
    "send_personalised": lambda c: c.send_personalised(outgoing("13800138000")),
    "poll_reports": lambda c: c.poll_reports(),
    "poll_mo": lambda c: c.poll_mo(),
    "balance": lambda c: c.balance(),
    "check_content": lambda c: c.check_content(CONTENT),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("auth_mode", ["plain", "md5"])
def test_wrong_password(sim, account, operation, auth_mode):
    with pytest.raises(VendorAuthError) as caught:
        OPERATIONS[operation](client_for(sim, secret="wrong", auth_mode=auth_mode))
    assert (caught.value.code, caught.value.raw) == ("1", "1 用户名或密码错误!")


@pytest.mark.parametrize(
    ("options", "code"), [({"frozen": True}, "8"), ({"send_disabled": True}, "4")]
)
def test_account_that_may_not_send(sim, options, code):
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, options=options)
    with pytest.raises(VendorAuthError) as caught:
        OPERATIONS["send_same"](client_for(sim))
    assert caught.value.code == code


def test_insufficient_balance(sim, account):
    account.balance = 1
    with pytest.raises(InsufficientBalance) as caught:
        client_for(sim).send_same(outgoing("13800138000", "13800138001"), CONTENT)
    assert (caught.value.code, caught.value.raw) == ("2", "2 余额不足!")
    assert sim.accepted(vendor="smsadmin") == []


@pytest.mark.parametrize(
    ("mode", "error", "code"),
    [
        ("auth_error", VendorAuthError, "1"),
        ("no_balance", InsufficientBalance, "2"),
        ("rate_limit", RateLimited, "429"),  # the document has no rate-limit answer
        ("unavailable", TransientError, "503"),
        ("error", AmbiguousOutcome, "500"),
    ],
)
def test_misbehaving_gateway(sim, account, mode, error, code):
    sim.misbehave("smsadmin", mode)
    with pytest.raises(error) as caught:
        OPERATIONS["send_same"](client_for(sim))
    assert caught.value.code == code and not isinstance(caught.value, UnexpectedReply)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_garbage_reply_is_unexpected(sim, account, operation):
    sim.misbehave("smsadmin", "garbage")
    with pytest.raises(UnexpectedReply) as caught:
        OPERATIONS[operation](client_for(sim))
    assert "not what the document shows" in caught.value.raw


def test_html_page_is_unexpected(sim, account):
    with pytest.raises(UnexpectedReply) as caught:
        client_for(sim, base_url=sim.url("smsadmin") + "/moved").balance()
    assert caught.value.code == "404" and "<html>" in caught.value.raw


def test_invalid_number(sim, account):
    with pytest.raises(InvalidNumber) as caught:
        client_for(sim).send_same(outgoing("12345"), CONTENT)
    assert caught.value.raw == "5 手机号或发送信息不能为空!"
    with pytest.raises(InvalidNumber):
        client_for(sim).send_personalised(outgoing("0755-1234567"))


def test_content_rejected(sim, account):
    with pytest.raises(ContentRejected) as caught:
        client_for(sim).send_same(outgoing("13800138000"), "长" * 501)
    assert caught.value.raw == "7 超过 500 个字,请修改后发送!"
    with pytest.raises(InvalidRequest) as caught:  # GB2312 has no emoji: not sent
        client_for(sim).send_same(outgoing("13800138000"), "你好😀")
    assert "GB2312" in str(caught.value) and "😀" in str(caught.value)
    with pytest.raises(InvalidRequest):
        client_for(sim).send_same(outgoing("13800138000"), "")
    assert sim.accepted(vendor="smsadmin") == []


def test_unlisted_code_says_nothing_either_way():
    """The document lists its codes and says nothing of others: "vendor_error", maybe taken."""
    error = error_for("9", "9 未知错误")
    assert (error.kind, error.code, error.raw) == ("vendor_error", "9", "9 未知错误")
    client, _ = replay("9 未知错误")
    with pytest.raises(VendorError) as caught:
        client.send_same(outgoing("13800138000"), CONTENT)
    assert caught.value.kind == "vendor_error"
    assert decide(caught.value).disposition == Disposition.UNKNOWN


def test_report_values_map_expired_to_expired():
    assert {value: code.meaning for value, code in REPORT_CODES.items()} == {
        "DELIVRD": "delivered",
        "EXPIRED": "expired",
        "UNDELIV": "undelivered",
        "REJECTD": "rejected",
        "DELETED": "undelivered",
        "UNKNOWN": "undelivered",
    }


@pytest.mark.parametrize("shape", ["send_same", "send_personalised"])
def test_number_refused_for_balance_refuses_the_request(sim, account, shape):
    """One answer per request: a number the gateway cannot pay for is "2 余额不足!" for all."""
    sim.configure(phone_refusals={"13800138001": "no_balance"})
    batch = outgoing("13800138000", "13800138001", content="您好")
    with pytest.raises(InsufficientBalance) as caught:
        getattr(client_for(sim), shape)(*([batch, "您好"] if shape == "send_same" else [batch]))
    assert (caught.value.kind, caught.value.raw) == ("balance", "2 余额不足!")
    assert decide(caught.value).disposition == Disposition.PAUSE
    assert sim.accepted(vendor="smsadmin") == []


@pytest.mark.parametrize("shape", ["send_same", "send_personalised"])
def test_number_refused_as_invalid_is_dropped_silently(sim, account, shape):
    """The gateway filters numbers it will not take and says nothing: the answer is "0 发送成功!"
    for the request, so the adapter can only say accepted; no report ever comes for it."""
    sim.configure(phone_refusals={"13800138001": "invalid_number"})
    sim.state.enforce_poll_interval = False
    client = client_for(sim)
    batch = outgoing("13800138000", "13800138001", content="您好")
    results = (
        client.send_same(batch, "您好")
        if shape == "send_same"
        else (client.send_personalised(batch))
    )
    assert all(r.accepted for r in results)
    assert [m["phone"] for m in sim.accepted(vendor="smsadmin")] == ["13800138000"]
    sim.state.tick()
    assert [e.phone for e in client.poll_reports().items] == ["13800138000"]
    sim.configure(phone_refusals={"13800138000": "invalid_number", "13800138001": "x"})
    with pytest.raises(InvalidNumber):  # every number dropped: 5, as for malformed ones
        client.send_same(batch, "您好")


def test_reports_without_linkid_by_polling(sim, account):
    """ "流水号…有可能有值，有可能为空": a report with an empty linkid keeps its phone."""
    # Pinned: link ids are random, and the simulator's default mix depends on the id.
    sim.configure(
        reports_without_ids=True,
        outcome_weights={"delivered": 1.0},
        phone_outcomes={"13800138001": "expired"},
    )
    client = client_for(sim)
    client.send_same(outgoing("13800138000", "13800138001"), CONTENT)
    sim.state.tick()
    items = client.poll_reports().items
    assert [(e.vendor_message_id, e.custom_id, e.batch_id, e.phone, e.status) for e in items] == [
        ("", "", "", "13800138000", "delivered"),
        ("", "", "", "13800138001", "expired"),
    ]
    assert items[0].raw.split("/")[2] == ""


def test_connection_refused_is_transient(sim):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(TransientError):
        client_for(sim, base_url=f"http://127.0.0.1:{port}/smsadmin").balance()


def test_accept_then_drop_is_ambiguous(sim, account):
    sim.misbehave("smsadmin", "accept_then_drop")
    with pytest.raises(AmbiguousOutcome):
        OPERATIONS["send_same"](client_for(sim))
    assert len(sim.accepted(vendor="smsadmin")) == 1


# --------------------------------------------------------------------------- pushes, HTTP


class Receiver(ThreadingHTTPServer):
    """Our push endpoint in miniature: parse_push, then answer what it says."""

    def __init__(self, config: AccountConfig):
        self.config = config
        self.outcomes = []
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/push/smsadmin"

    def wait(self, count: int) -> list:
        eventually(lambda: len(self.outcomes) >= count)
        return self.outcomes


def eventually(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(check())


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        query = dict(parse_qsl(urlsplit(self.path).query))
        request = PushRequest("POST", query, body, self.headers.get("Content-Type", ""))
        try:
            outcome = parse_push(request, self.server.config)
            status, payload = outcome.reply_status, outcome.reply_body.encode("gb2312")
        except PushRejected as exc:
            outcome, status, payload = exc, exc.status, b""
        self.server.outcomes.append(outcome)
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = Receiver(AccountConfig("http://unused", ACCOUNT, SECRET))
    yield server
    server.shutdown()
    server.server_close()


def test_report_and_reply_pushes(sim, receiver):
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    sim.state.phone_outcomes = {"13800138000": "delivered", "13800138001": "expired"}
    client = client_for(sim)
    sent = client.send_same(outgoing("13800138000", "13800138001"), CONTENT)
    sim.server.push_once()  # the gateway pushes one report per request
    sim.server.push_once()
    outcomes = receiver.wait(2)
    reports = {r.phone: r for outcome in outcomes for r in outcome.reports}
    assert {p: (r.status, r.vendor_message_id) for p, r in reports.items()} == {
        "13800138000": ("delivered", sent[0].vendor_message_id),
        "13800138001": ("expired", sent[1].vendor_message_id),
    }
    assert all(r.done_at.tzinfo == CHINA for r in reports.values())

    sim.inject_reply(
        vendor="smsadmin",
        account_id=ACCOUNT,
        phone="13800138000",
        content="好的 / 谢谢",
        extension="",
    )
    sim.server.push_once()
    (reply,) = receiver.wait(3)[2].replies
    assert (reply.phone, reply.content, reply.link_id) == (
        "13800138000",
        "好的 / 谢谢",
        sent[0].batch_id,
    )
    assert reply.received_at.tzinfo == CHINA
    # The background push loop may have made a push: its record lands after the answer.
    assert eventually(lambda: len(sim.state.pushed_reports) == 3)
    assert [p["acknowledged"] for p in sim.state.pushed_reports] == [True, True, True]


def test_report_push_without_linkid(sim, receiver):
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    sim.configure(reports_without_ids=True, outcome_weights={"delivered": 1.0})
    client_for(sim).send_same(outgoing("13800138000"), CONTENT)
    sim.server.push_once()
    (outcome,) = receiver.wait(1)[:1]
    (report,) = outcome.reports
    assert (report.vendor_message_id, report.batch_id, report.phone, report.status) == (
        "",
        "",
        "13800138000",
        "delivered",
    )
    assert outcome.errors == []


def test_push_refused_by_receiver_is_not_acknowledged(sim, receiver):
    receiver.config = AccountConfig("http://unused", "someone-else", SECRET)
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET, push_url=receiver.url)
    client_for(sim).send_same(outgoing("13800138000"), CONTENT)
    sim.server.push_once()
    (refused,) = receiver.wait(1)[:1]
    assert isinstance(refused, PushRejected) and refused.status == 403
    assert eventually(lambda: sim.state.pushed_reports)
    assert sim.state.pushed_reports[0]["acknowledged"] is False
