"""smsadmin: the document's samples as test vectors (no network)."""

from decimal import Decimal
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit

import pytest

from messaging.services.outcomes import Disposition, decide
from messaging.vendors.base import (
    OutgoingMessage,
    VendorAuthError,
    VendorError,
)
from messaging.vendors.smsadmin import VENDOR
from messaging.vendors.smsadmin.client import SmsAdminClient, md5_hex
from messaging.vendors.smsadmin.codes import REPORT_CODES, error_for
from messaging.vendors.smsadmin.simulator import SmsAdminSimulator
from tests.harness.samples import sample_text

from .support import (
    ACCOUNT,
    CONTENT,
    ERROR_FOR_CODE,
    KEY,
    REPLY_VALUES,
    SECRET,
    SEND_SAMPLES,
    fill,
    outgoing,
    replay,
    send_for_sample,
    sent_fields,
)


def test_every_send_table_row_is_a_sample():
    assert len(SEND_SAMPLES) == 24  # 8 rows in each of the GET, POST and 点点通 tables


@pytest.mark.parametrize("name", SEND_SAMPLES)
def test_send_reply_samples(name):
    text = sample_text(KEY, name)
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
    assert urlsplit(transport.calls[0]["url"]).path == f"/smsmarketing/wwwroot/api/{interface}/"


def test_send_fields_are_the_documented_query_parameters():
    # The document's example writes "dttime" and "linked"; its parameter list (and the
    # gateway) says dtime and linkid.  They travel in the POST body, never in the URL.
    documented = dict(parse_qsl(sample_text(KEY, "get_send_query_example.txt").lstrip("?")))
    client, transport = replay("0 发送成功!", options={"send_method": "get"})
    client.send_same(outgoing("13800138000"), CONTENT)
    method, url = transport.calls[0]["method"], transport.calls[0]["url"]
    assert (method, urlsplit(url).path) == ("POST", "/smsmarketing/wwwroot/api/post_send/")
    assert urlsplit(url).query == ""
    renamed = {"dttime": "dtime", "linked": "linkid"}
    fields = sent_fields(transport)
    assert list(fields) == [renamed.get(name, name) for name in documented]
    assert (fields["uid"], fields["pwd"], fields["msg"]) == (ACCOUNT, SECRET, CONTENT)


def test_md5_password_is_32_lowercase_hex():
    # The document has no digest sample; md5("123456") is the well-known vector.
    assert md5_hex("123456") == "e10adc3949ba59abbe56e057f20f883e"
    client, transport = replay("0 发送成功!", secret="123456", auth_mode="md5")
    client.send_same(outgoing("13800138000"), "换行\n内容")
    assert transport.calls[0]["url"].endswith("/api/post_send_md5/")
    assert sent_fields(transport)["pwd"] == "e10adc3949ba59abbe56e057f20f883e"
    assert sent_fields(transport)["msg"] == "换行\n内容"


def test_urldecode_interface_gets_uid_and_msg_url_encoded_before_the_form():
    client, transport = replay("0 发送成功!")
    client.send_same(outgoing("13800138000"), "第一行\n第二行")
    assert transport.calls[0]["url"].endswith("/api/post_send_urldecode/")
    fields = sent_fields(transport)
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
    fields = sent_fields(transport)
    assert fields["pwd"] == md5_hex(SECRET)
    assert unquote_plus(fields["msg"], encoding="gb2312") == "{value1}"
    assert unquote_plus(fields["params"], encoding="gb2312") == (
        "13712345678,验证码 123456;13745678910,4567"
    )


def test_replies_are_polled_from_reve_urlencode():
    """The poll for replies asks reve_urlencode (what its answer is read to: test_replies.py)."""
    client, transport = replay(fill(sample_text(KEY, "reve_reply_success.txt"), REPLY_VALUES))
    client.poll_mo()
    uid = quote(ACCOUNT, encoding="gb2312")
    assert transport.calls[0]["url"].endswith(f"/api/reve_urlencode/?uid={uid}&pwd={SECRET}")


def test_report_sample_parses_to_status_events():
    pattern = sample_text(KEY, "report_reply_success.txt")
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
    result = getattr(replay(sample_text(KEY, name))[0], operation)()
    assert (result.items, result.more_waiting, result.raw) == ([], False, sample_text(KEY, name))


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
        operation(replay(sample_text(KEY, name))[0])
    assert (caught.value.code, caught.value.raw) == ("1", "1 用户名或密码错误!")


def test_user_info_sample_parses_to_balance():
    text = sample_text(KEY, "user_info_reply_success.txt")
    balance = replay(text)[0].balance()
    # "XXX" is the document's placeholder, not an amount.
    assert (balance.amount, balance.unit, balance.raw) == (None, "messages", text)
    assert balance.details == {"uid": "uid", "剩余资费": "XXX"}
    assert replay(text.replace("XXX", "1234.5"))[0].balance().amount == Decimal("1234.5")
    two_lines = replay("用户ID=爱短信\n剩余资费=91")[0].balance()
    assert (two_lines.amount, two_lines.details["uid"]) == (Decimal(91), "爱短信")


def test_mgz_samples_parse_to_content_checks():
    found = replay(sample_text(KEY, "mgz_reply_words.txt"))[0].check_content("内容")
    assert (found.ok, found.words) == (False, ("敏感字 1", "敏感字 2", "敏感字 3"))
    clean = replay(sample_text(KEY, "mgz_reply_clean.txt"))[0].check_content("内容")
    assert (clean.ok, clean.words, clean.raw) == (True, (), "不含敏感字")


def test_vendor_export():
    assert (VENDOR.key, VENDOR.client, VENDOR.simulator) == (
        "smsadmin",
        SmsAdminClient,
        SmsAdminSimulator,
    )
    assert VENDOR.capabilities.max_reports_per_poll == 20
    assert VENDOR.capabilities.pushes == frozenset({"report", "mo"})


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
