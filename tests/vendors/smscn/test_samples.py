"""smscn: the document's samples as test vectors (no network)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from decimal import Decimal
from importlib import import_module

import pytest

from messaging.services.outcomes import Disposition, decide
from messaging.vendors.base import (
    Balance,
    InvalidRequest,
    OutgoingMessage,
    StatusEvent,
    UnexpectedReply,
    VendorAuthError,
    VendorError,
)
from messaging.vendors.registry import VENDOR_KEYS
from messaging.vendors.smscn import VENDOR
from messaging.vendors.smscn.client import (
    SentCount,
    sign,
    urlencode_value,
)
from messaging.vendors.smscn.codes import REPORT_CODES, STAT_CODES, error_for
from tests.harness.samples import sample_text

from .support import (
    CHINA,
    KEY,
    messages,
    replay_client,
    sample_url_fields,
)


def test_vendor_is_registered():
    assert VENDOR.key == "smscn"
    assert VENDOR.capabilities.max_numbers_per_request == 2000
    assert VENDOR.capabilities.request_encoding == VENDOR.capabilities.reply_encoding == "gbk"
    # What registry.all_vendors() imports (not called here: it needs every other vendor package).
    assert "smscn" in VENDOR_KEYS
    assert import_module("messaging.vendors.smscn").VENDOR is VENDOR


@pytest.mark.parametrize("name", ["signing_example.txt", "signing_example_mt_table.txt"])
def test_signing_examples(name):
    text = sample_text(KEY, name)
    assert "123123" in text and "test" in text
    expected = re.search(r"pwd=([0-9a-f]{32})", text)[1]
    assert sign("123123", "test") == expected == "b9887c5ebb23ebb294acab183ecf0769"


def test_stat_code_table_is_complete():
    # The table puts some descriptions on the line after their code ("112\n号码错误").
    table = re.findall(r"^(1\d\d)\s+(\S+)$", sample_text(KEY, "stat_codes_table.txt"), re.MULTILINE)
    assert len(table) == 17
    assert {code: zh for code, zh in table} == {code: row.zh for code, row in STAT_CODES.items()}
    assert all(row.en for row in STAT_CODES.values())


def test_send_request_matches_the_sample():
    _, documented = sample_url_fields("mt_request_get.txt")
    assert sample_text(KEY, "mt_request_get.txt").splitlines()[1].endswith("发送测试")
    client, transport = replay_client(sample_text(KEY, "mt_response_success.txt"))
    # The sample's middle number/id "1390000test12869461937" is not digits, which the document
    # requires of mobileids: only the two valid ones can be sent.
    sent = [
        OutgoingMessage("1390000888812869461937", "13900008888"),
        OutgoingMessage("1310000666612869461937", "13100006666"),
    ]
    results = client.send_same(sent, "发送测试")
    path, fields = transport.sent_fields("gbk")
    assert path == "/mt/"
    assert transport.calls[-1]["method"] == "POST"
    assert fields["uid"] == documented["uid"] and fields["pwd"] == documented["pwd"]
    assert fields["mobile"] == "13900008888,13100006666"
    assert fields["mobileids"] == "1390000888812869461937,1310000666612869461937"
    assert fields["content"] == "发送测试"
    # The sample's content has a stray space on each side; its GBK bytes are ours exactly.
    raw_content = re.search(r"content=([^&]*)", sample_text(KEY, "mt_request_get.txt"))[1]
    assert raw_content.strip() in transport.calls[-1]["data"].decode("ascii")
    assert raw_content.strip() == "%B7%A2%CB%CD%B2%E2%CA%D4"
    assert [r.vendor_message_id for r in results] == [m.custom_id for m in sent]
    assert all(r.accepted and r.raw.strip() == "sms&stat=100&message=发送成功" for r in results)


def test_content_is_url_encoded_as_documented():
    # "除了-_.之外的所有非字母数字字符都将被替换成百分号（%）后跟两位十六进制数，空格则编码为加号"
    assert urlencode_value("aZ9 -_.~,发", "gbk") == "aZ9+-_.%7E%2C%B7%A2"
    assert urlencode_value("发", "utf-8") == "%E5%8F%91"


def test_sample_send_with_a_non_digit_mobileid_is_refused_before_sending():
    client, transport = replay_client(sample_text(KEY, "mt_response_success.txt"))
    with pytest.raises(InvalidRequest):
        client.send_same([OutgoingMessage("1390000test12869461937", "1390000test")], "x")
    assert transport.calls == []


@pytest.mark.parametrize(
    ("request_sample", "method"),
    [
        ("st_request.txt", "poll_reports"),
        ("rx_request.txt", "poll_mo"),
        ("rd_request.txt", "send_records"),
        ("mm_balance_request.txt", "balance"),
        ("mm_sent_request.txt", "sent_count"),
    ],
)
def test_poll_and_account_requests_match_the_samples(request_sample, method):
    client, transport = replay_client("")
    # An empty body is no counter reply: only the request matters here.
    with contextlib.suppress(UnexpectedReply):
        getattr(client, method)()
    path, fields = transport.sent_fields("gbk")
    documented_path, documented = sample_url_fields(request_sample)
    assert path == documented_path
    if request_sample.startswith("mm_"):
        # Quirk: the /mm/ samples' pwd fa246d... is not md5("123123test") like the others.
        assert documented.pop("pwd") != fields.pop("pwd")
    assert documented.items() <= fields.items()


def test_report_sample_parses():
    client, _ = replay_client(sample_text(KEY, "st_response.txt"))
    result = client.poll_reports()
    assert result.items == [
        StatusEvent(
            vendor_message_id="188176600011234556789",
            status="delivered",
            vendor_code="100",
            description_zh="成功",
            description_en="Delivered",
            phone="18817660001",
            custom_id="188176600011234556789",
            done_at=dt.datetime(2011, 3, 11, 11, 22, 11, tzinfo=CHINA),
            raw="18817660001,100,188176600011234556789, 2011-03-11 11:22:11",
        ),
        StatusEvent(
            vendor_message_id="188176600021234556311",
            status="delivered",
            vendor_code="100",
            description_zh="成功",
            description_en="Delivered",
            phone="18817660002",
            custom_id="188176600021234556311",
            done_at=dt.datetime(2011, 3, 11, 11, 28, 22, tzinfo=CHINA),
            raw="18817660002,100,188176600021234556311, 2011-03-11 11:28:22",
        ),
    ]
    assert result.raw == sample_text(KEY, "st_response.txt")


def test_counter_samples_parse():
    client, _ = replay_client(sample_text(KEY, "mm_balance_response.txt"))
    assert client.balance() == Balance(
        amount=Decimal(100), unit="messages", raw=sample_text(KEY, "mm_balance_response.txt")
    )
    client, _ = replay_client(sample_text(KEY, "mm_sent_response.txt"))
    assert client.sent_count() == SentCount(count=100, raw=sample_text(KEY, "mm_sent_response.txt"))


def test_records_format_sample_is_a_template_not_a_reply():
    client, _ = replay_client(sample_text(KEY, "rd_response_format.txt"))
    with pytest.raises(UnexpectedReply) as caught:
        client.send_records()
    assert "总记录数" in caught.value.raw


def test_records_in_the_documented_format_parse():
    body = (
        "3||2||2|#|2012-12-12 10:00:01||13900008888||你好||100"
        "|#|2012-12-12 10:00:02||13100006666||a||b||UNDELIV"
    )
    client, _ = replay_client(body)
    records = client.send_records(2)
    assert (records.total, records.count, records.pages) == (3, 2, 2)
    assert [(r.phone, r.content, r.status) for r in records.records] == [
        ("13900008888", "你好", "100"),
        ("13100006666", "a||b", "UNDELIV"),
    ]
    assert records.records[0].sent_at == dt.datetime(2012, 12, 12, 10, 0, 1, tzinfo=CHINA)


def test_every_stat_code_maps_to_its_typed_error():
    for code, row in STAT_CODES.items():
        if row.meaning != "ok":
            error = error_for(code, "raw")
            assert (error.kind, error.code, error.raw) == (row.meaning, code, "raw")
    assert error_for("114", "").retry_after == 600
    assert REPORT_CODES["100"].meaning == "delivered"


def test_unlisted_stat_says_nothing_either_way():
    """Section 四 lists the codes and says nothing of others: "vendor_error", maybe taken."""
    error = error_for("999", "raw", "新错误")
    assert (type(error), error.kind, error.code, error.description_zh) == (
        VendorError,
        "vendor_error",
        "999",
        "新错误",
    )
    body = "sms&stat=999&message=新错误"
    with pytest.raises(VendorError) as caught:
        replay_client(body)[0].send_same(messages("13900008888"), "x")
    assert (caught.value.kind, caught.value.raw) == ("vendor_error", body)
    assert decide(caught.value).disposition == Disposition.UNKNOWN


def test_report_statuses():
    """Only 100 is in the document; failures come as the operators' CMPP words."""
    assert {code: row.meaning for code, row in REPORT_CODES.items()} == {
        "100": "delivered",
        "DELIVRD": "delivered",
        "EXPIRED": "expired",
        "UNDELIV": "undelivered",
        "REJECTD": "rejected",
        "DELETED": "undelivered",
        "UNKNOWN": "undelivered",
    }
    client, _ = replay_client(
        "13900008888,EXPIRED,41, 2024-01-02 03:04:05\n13900008889,MK:0001,42, 2024-01-02 03:04:06"
    )
    events = client.poll_reports().items
    assert [(e.custom_id, e.status) for e in events] == [("41", "expired"), ("42", "undelivered")]


@pytest.mark.parametrize(
    ("body", "operation", "error"),
    [
        ("<html><body>维护中</body></html>", "poll_reports", UnexpectedReply),
        ("sms&stat=abc", "balance", UnexpectedReply),
        ("sms&stat=100&message=发送成功", "balance", UnexpectedReply),  # no remain
        ("sms&stat=100&remain=abc", "sent_count", UnexpectedReply),
        ("18817660001,100", "poll_reports", UnexpectedReply),
        ("101{&}13912341234||x||2008-05-27 12:10:11||1", "poll_mo", VendorAuthError),
        ("100{&}13912341234||no time||1", "poll_mo", UnexpectedReply),
    ],
)
def test_odd_replies(body, operation, error):
    client, _ = replay_client(body)
    with pytest.raises(error) as caught:
        getattr(client, operation)()
    assert caught.value.raw == body


def test_report_line_without_an_id_keeps_its_phone():
    client, _ = replay_client("18817660001,100,, 2011-03-11 11:22:11\n")
    [event] = client.poll_reports().items
    assert (event.vendor_message_id, event.custom_id, event.phone, event.status) == (
        "",
        "",
        "18817660001",
        "delivered",
    )


def test_one_odd_report_line_does_not_lose_the_others():
    client, _ = replay_client(sample_text(KEY, "st_response.txt") + "garbage line\n")
    assert len(client.poll_reports().items) == 2
