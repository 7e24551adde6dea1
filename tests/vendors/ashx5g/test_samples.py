"""ashx5g: the document's samples as test vectors (no network)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from messaging.services import outcomes
from messaging.vendors.ashx5g import VENDOR, codes
from messaging.vendors.ashx5g.client import (
    CHINA,
    Ashx5gClient,
    md5_password,
)
from messaging.vendors.base import (
    AccountProblem,
    ContentRejected,
    InsufficientBalance,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    RateLimited,
    Refused,
    UnexpectedReply,
    VendorAuthError,
)
from tests.harness.samples import sample

from .support import (
    FREQUENCY_DENY,
    KEY,
    documented_field_names,
    messages,
    replay,
    reply_body,
    report_reply,
)


def test_md5_example_gives_the_documented_digest():
    text = sample(KEY, "md5_example.txt").decode()
    account, password, ts = re.search(
        r"account=(\d+)\) 明文密码\(pswd=(\d+)\) 时间串\(ts=(\d+)\)", text
    ).groups()
    digest = text.split()[-1]
    assert md5_password(account, password, ts) == digest == "8a60338ac9a95db42a1edc59ce9014c5"


def test_auth_fields_plain_and_md5():
    plain, plain_transport = replay(sample(KEY, "balance_reply.json"))
    plain.balance()
    assert {k: plain_transport.calls[0]["data"][k] for k in ("account", "pswd")} == {
        "account": "123456",
        "pswd": "secret",
    }
    assert "ts" not in plain_transport.calls[0]["data"]

    signed, signed_transport = replay(sample(KEY, "balance_reply.json"), auth_mode="md5")
    signed.balance()
    sent = signed_transport.calls[0]["data"]
    assert re.fullmatch(r"\d{14}", sent["ts"])
    assert sent["pswd"] == md5_password("123456", "secret", sent["ts"])


@pytest.mark.parametrize(
    ("request_sample", "reply_sample", "path", "operation"),
    [
        (
            "mt_request.txt",
            "mt_reply.json",
            "/mt.ashx",
            lambda c: c.send_single(messages("13900000001")[0]),
        ),
        (
            "mts_request.txt",
            "mts_reply.json",
            "/mts.ashx",
            lambda c: c.send_same(messages("13900000001", "13900000002"), "内容"),
        ),
        ("rpt_request.txt", "poll_empty_reply.json", "/rpt.ashx", lambda c: c.poll_reports()),
        ("mo_request.txt", "poll_empty_reply.json", "/mo.ashx", lambda c: c.poll_mo()),
        ("bi_request.txt", "bi_reply.json", "/bi.ashx", lambda c: c.account_info()),
        ("balance_request.txt", "balance_reply.json", "/balance.ashx", lambda c: c.balance()),
    ],
)
def test_requests_carry_the_documented_fields(request_sample, reply_sample, path, operation):
    client, transport = replay(sample(KEY, reply_sample))
    operation(client)
    (call,) = transport.calls
    assert call["method"] == "POST"
    assert call["url"] == "http://vendor.test/ashx5g" + path
    assert documented_field_names(request_sample) <= set(call["data"])


def test_variable_send_request_matches_the_sample():
    body = sample(KEY, "mts_var_request.txt").decode().splitlines()[-1].partition("[POST Body] ")[2]
    documented = dict(parse_qsl(body))
    client, transport = replay(sample(KEY, "mts_var_reply.json"))
    client.send_personalised(messages("13900000001", "13900000002"))
    call = transport.calls[0]
    assert call["url"].endswith("/mts_var.ashx")
    # Sent as the JSON body of 7.2.2 (same fields as the form sample), vars as a JSON text.
    assert call["headers"]["Content-Type"].startswith("application/json")
    sent = json.loads(call["data"].decode("utf-8"))
    assert set(documented) <= set(sent)
    sent_vars, documented_vars = json.loads(sent["vars"]), json.loads(documented["vars"])
    assert len(sent_vars) == len(documented_vars) == 2
    assert all(set(d) <= set(s) for s, d in zip(sent_vars, documented_vars, strict=True))
    assert [v["smsid"] for v in sent_vars] == ["m1", "m2"]


@pytest.mark.parametrize(
    ("body", "seq"),
    [
        (sample(KEY, "mt_reply.json"), "50821420000350650"),
        (sample(KEY, "mt_reply_kv.txt"), "50821390000350643"),
        (reply_body("http_get_mt_response.txt"), "111619420000000031"),
        (reply_body("http_post_form_mt_exchange.txt"), "111619420000000030"),
        (sample(KEY, "http_post_json_mt_response.json"), "111619520000000032"),
    ],
)
def test_single_send_reply_samples(body, seq):
    client, transport = replay(body)
    result = client.send_single(OutgoingMessage("c-1", "8613980000000", "Hello,Thunder 5G"))
    assert (result.accepted, result.vendor_message_id, result.custom_id) == (True, seq, "c-1")
    assert result.raw == body.decode()
    assert transport.calls[0]["data"]["smsid"] == "c-1"


@pytest.mark.parametrize(
    ("name", "batch_id", "seqs"),
    [
        # The JSON sample answers "1390000002" for 13900000002: matched by position.
        ("mts_reply.json", "50923430000350673", ["50923430000350674", "50923430000350675"]),
        ("mts_reply_kv.txt", "50823410000350667", ["50823410000350668", "50823410000350669"]),
    ],
)
def test_group_send_reply_samples(name, batch_id, seqs):
    client, _ = replay(sample(KEY, name))
    results = client.send_same(messages("13900000001", "13900000002"), "内容")
    assert [r.custom_id for r in results] == ["m1", "m2"]
    assert [r.vendor_message_id for r in results] == seqs
    assert all(r.accepted and r.batch_id == batch_id for r in results)


@pytest.mark.parametrize(
    ("name", "batch_id"),
    [("mts_var_reply.json", "50821450000350651"), ("mts_var_reply_kv.txt", "50821460000350660")],
)
def test_variable_send_reply_samples(name, batch_id):
    client, _ = replay(sample(KEY, name))
    results = client.send_personalised(messages("13900000002", "13900000001"))
    # Matched by phone, not by position: our order is the reverse of the vendor's.
    assert [(r.custom_id, r.vendor_message_id) for r in results] == [
        ("m1", "50823410200350669"),
        ("m2", "50823410100350668"),
    ]
    assert all(r.accepted and r.batch_id == batch_id for r in results)


def test_numbers_match_with_or_without_country_code():
    client, _ = replay(sample(KEY, "mts_reply_kv.txt"))
    results = client.send_same(messages("13900000002", "+8613900000001"), "内容")
    assert [r.vendor_message_id for r in results] == ["50823410000350669", "50823410000350668"]


@pytest.mark.parametrize(
    ("name", "seqs", "statuses"),
    [
        # Not valid JSON: its 2nd and 3rd items open with `{uid"`.
        (
            "rpt_reply.json",
            ["50821410000350644", "50821410000350645", "50821410000350646"],
            ["undelivered", "delivered", "undelivered"],
        ),
        # Its records lost their \r\n separators ("...&help=uid=2&...").
        (
            "rpt_reply_kv.txt",
            ["50821350000123456", "50821350000123457", "50821350000123458"],
            ["delivered", "undelivered", "delivered"],
        ),
    ],
)
def test_report_poll_samples(name, seqs, statuses):
    client, _ = replay(sample(KEY, name))
    result = client.poll_reports()
    assert [e.vendor_message_id for e in result.items] == seqs
    assert [e.status for e in result.items] == statuses
    first = result.items[0]
    assert first.phone == "13900030003"
    assert first.vendor_code in codes.REPORT_CODES
    assert first.description_zh in ("成功", "失败")
    assert first.batch_id == seqs[0]
    assert (first.part_index, first.part_count) == (1, 1)
    assert first.done_at.utcoffset() == timedelta(hours=8)
    assert first.done_at.strftime("%Y%m%d%H%M%S") in first.raw
    assert result.more_waiting is False


def test_report_poll_sample_times_are_shanghai_local():
    client, _ = replay(sample(KEY, "rpt_reply.json"))
    first = client.poll_reports().items[0]
    assert first.done_at == datetime(2020, 5, 8, 21, 42, 0, tzinfo=CHINA)


@pytest.mark.parametrize("name", ["poll_empty_reply.json", "poll_empty_reply_kv.txt"])
def test_empty_poll_samples(name):
    for operation in (Ashx5gClient.poll_reports, Ashx5gClient.poll_mo):
        client, _ = replay(sample(KEY, name))
        result = operation(client)
        assert (result.items, result.more_waiting) == ([], False)


def test_account_info_sample():
    client, _ = replay(sample(KEY, "bi_reply.json"))
    info = client.account_info()
    assert (info.amount, info.unit) == (Decimal("199999"), "messages")
    assert info.details["Status"] == "Pause"
    assert info.details["Report"] == "399042"
    assert info.details["Today Moln"] == "7"
    assert info.details["rt"].startswith("RT 监控:用户运维专用账号")


def test_balance_sample():
    client, _ = replay(sample(KEY, "balance_reply.json"))
    balance = client.balance()
    assert (balance.amount, balance.unit) == (Decimal("199989"), "messages")
    assert balance.raw == sample(KEY, "balance_reply.json").decode()


@pytest.mark.parametrize(
    "body",
    [
        '{"ct":"20211014120723","result":"0","balance":"余额"}'.encode("gbk"),  # not UTF-8
        b"<html><body>Server Error</body></html>",
        b'["result", "0"]',
        b'{"ct":"20211014120723","balance":"1"}',  # no result
        b'{"ct":"20211014120723","result":"0","balance":"lots"}',
        b"OK",
    ],
)
def test_replies_unlike_the_document_are_unexpected(body):
    client, _ = replay(body)
    with pytest.raises(UnexpectedReply) as raised:
        client.balance()
    assert raised.value.raw


def test_unexpected_send_replies():
    echo_mismatch = b'{"ct":"20200508214244","result":"0","seq":"1","smsid":"other"}'
    with pytest.raises(UnexpectedReply):
        replay(echo_mismatch)[0].send_single(OutgoingMessage("mine", "13800000001", "x"))
    no_seqs = b'{"ct":"20200508214516","result":"0","sid":"1"}'
    with pytest.raises(UnexpectedReply):
        replay(no_seqs)[0].send_personalised(messages("13800000001"))


def test_code_tables():
    assert len(codes.ERROR_CODES) == 22 and all(c.zh and c.en for c in codes.ERROR_CODES.values())
    assert VENDOR.key == KEY and VENDOR.client is Ashx5gClient
    assert VENDOR.capabilities.max_personalised_per_request == 50_000
    # Every kind the table gives says something to the outcome table (no silent "unknown").
    kinds = {c.meaning for code, c in codes.ERROR_CODES.items() if code != codes.SUCCESS}
    assert kinds <= set(outcomes.DISPOSITION_BY_KIND)


def test_error_code_table_matches_the_document():
    """Section 6, byte for byte: every code with the document's own words."""
    rows = sample(KEY, "error_codes.txt").decode().splitlines()[1:]
    documented = dict(row.split("\t") for row in rows)
    assert documented == {code: row.zh for code, row in codes.ERROR_CODES.items()}


@pytest.mark.parametrize(
    ("code", "error", "disposition"),
    [
        # "result=其他代表提交失败" (2.5): an unlisted code is a refusal, final.
        ("999", Refused, outcomes.Disposition.FAILED),
        # Submission *or* authentication failed: nothing taken; the account must be looked at.
        ("-1", AccountProblem, outcomes.Disposition.PAUSE),
        ("901", VendorAuthError, outcomes.Disposition.PAUSE),
        ("904", AccountProblem, outcomes.Disposition.PAUSE),
        ("909", AccountProblem, outcomes.Disposition.PAUSE),
        ("906", InsufficientBalance, outcomes.Disposition.PAUSE),
        ("912", InvalidRequest, outcomes.Disposition.FAILED),
        ("915", ContentRejected, outcomes.Disposition.FAILED),
        ("916", InvalidNumber, outcomes.Disposition.FAILED),
        ("920", RateLimited, outcomes.Disposition.REQUEUE),
    ],
)
def test_error_codes_mean_what_the_document_says(code, error, disposition):
    raised = codes.error_for(code, "raw")
    assert (type(raised), raised.code, raised.raw) == (error, code, "raw")
    assert outcomes.decide(raised).disposition == disposition


def test_report_codes_mean_their_status():
    # The document shows DELIVRD and UNDELIV; sc is "一般为 7 为字符" - the CMPP stat - and
    # DELIVRD is the only success flag (overview 6): anything unlisted is undelivered.
    stats = ["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN", "MK:0001"]
    client, _ = replay(report_reply(*stats))
    events = client.poll_reports().items
    assert [(e.vendor_code, e.status) for e in events] == [
        ("DELIVRD", "delivered"),
        ("UNDELIV", "undelivered"),
        ("EXPIRED", "expired"),
        ("REJECTD", "rejected"),
        ("DELETED", "undelivered"),
        ("UNKNOWN", "undelivered"),
        ("MK:0001", "undelivered"),
    ]
    assert events[2].description_en == "Validity period expired"
    assert all(codes.report_status(e.vendor_code) == e.status for e in events)


@pytest.mark.parametrize(
    "operation",
    [
        lambda c: c.send_single(OutgoingMessage("c", "13800000001", "x")),
        lambda c: c.send_same(messages("13800000001", "13800000002"), "x"),
        lambda c: c.send_personalised(messages("13800000001", "13800000002")),
        lambda c: c.send_template("1", [OutgoingMessage("c", "13800000001", variables=("a",))]),
        lambda c: c.poll_reports(),
        lambda c: c.poll_mo(),
        lambda c: c.balance(),
        lambda c: c.account_info(),
    ],
)
def test_frequency_deny_is_a_rate_limit(operation):
    client, _ = replay(FREQUENCY_DENY)
    with pytest.raises(RateLimited) as raised:
        operation(client)
    assert (raised.value.retry_after, raised.value.raw) == (5.0, FREQUENCY_DENY.decode())
    # Nothing was taken: the batch waits the vendor's seconds and goes again (not "unknown").
    decision = outcomes.decide(raised.value)
    assert (decision.disposition, decision.retry_after) == (outcomes.Disposition.REQUEUE, 5.0)


@pytest.mark.parametrize(
    ("body", "retry_after"),
    [
        (b"frequency deny.please query slowly.f:12sec.", 12.0),
        (b"Frequency Deny.please query slowly.f: 8 sec.\r\n", 8.0),
        (b"frequency deny.please query slowly.", 5.0),  # no figure: the documented 5 s
    ],
)
def test_frequency_deny_names_the_wait(body, retry_after):
    client, _ = replay(body)
    with pytest.raises(RateLimited) as raised:
        client.poll_reports()
    assert raised.value.retry_after == retry_after


def test_other_plain_text_is_still_unexpected():
    client, _ = replay(b"deny")
    with pytest.raises(UnexpectedReply):
        client.poll_reports()


def test_capabilities_declare_one_poll_clock_for_every_manual_call():
    capabilities = Ashx5gClient.capabilities
    assert capabilities.poll_interval_shared is True
    # "操作间隔 5 秒以上, 建议 8 秒" (3, item 4)
    assert capabilities.min_poll_interval_s >= codes.POLL_INTERVAL_S == 5.0


def test_no_request_when_every_recipient_is_refused():
    client, transport = replay(b"")
    results = client.send_template("1", [OutgoingMessage("x", "13800000001", variables=("a|b",))])
    assert [(r.accepted, r.error_kind) for r in results] == [(False, "invalid_request")]
    assert transport.calls == []
