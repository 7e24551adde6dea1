"""smsadmin: the client against the simulator over real HTTP."""

import socket
from decimal import Decimal
from urllib.parse import quote

import pytest
import requests

from messaging.services.outcomes import Disposition, decide
from messaging.vendors.base import (
    AmbiguousOutcome,
    ContentRejected,
    InsufficientBalance,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    RateLimited,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
)
from messaging.vendors.smsadmin.client import CHINA, md5_hex
from tests.harness.samples import sample_text

from .support import (
    ACCOUNT,
    COMMA_CONTENTS,
    CONTENT,
    KEY,
    OPERATIONS,
    SECRET,
    client_for,
    outgoing,
    phones,
    post_ddt,
)

pytestmark = pytest.mark.e2e


def test_ddt_document_example_renders_value_n_as_the_groups_nth_field(sim):
    # The document's own template and groups, posted to the simulator as a customer would: its
    # rendering puts the group's second field where {value1} stands (field 0 is the phone).
    sim.add_account(vendor="smsadmin", account_id=ACCOUNT, secret=SECRET)
    form = {
        "uid": ACCOUNT,
        "pwd": md5_hex(SECRET),
        "msg": quote(sample_text(KEY, "post_send_ddt_msg_template_example.txt"), encoding="gb2312"),
        "params": quote(sample_text(KEY, "post_send_ddt_params_example.txt"), encoding="gb2312"),
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
