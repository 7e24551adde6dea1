"""actiongw: the document's samples as test vectors (no network)."""

import json
import re
from decimal import Decimal

import pytest

from messaging.services.outcomes import Disposition, decide
from messaging.statuses import REPORT_STATUSES
from messaging.vendors.actiongw import VENDOR
from messaging.vendors.actiongw.client import ActionGwClient
from messaging.vendors.actiongw.codes import (
    RESULT_CODES,
    STAT_CODES,
    STATUS_CODES,
    UPSTREAM_CODE,
    error_for,
    report_code,
)
from messaging.vendors.actiongw.push import parse_push
from messaging.vendors.actiongw.simulator import ActionGwSimulator
from messaging.vendors.base import (
    ERROR_KINDS,
    OutgoingMessage,
    StatusEvent,
    UnexpectedReply,
    VendorError,
)
from tests.harness.samples import sample

from .support import (
    EXTNO,
    KEY,
    SAMPLE_TIME,
    SECRET,
    md5,
    messages,
    replay_client,
    sample_params,
    sent_fields,
    table_rows,
)


def test_send_request_is_the_documents_example():
    client = replay_client(
        sample(KEY, "send_response.json"), account_id="账号", secret="密码", extension="1069012345"
    )
    client.send_same(messages("15023239810", "13527576163"), "内容")
    assert sent_fields(client) == [sample_params("send_request.url.txt")]


def test_send_response_sample_is_matched_back_by_phone():
    client = replay_client(sample(KEY, "send_response.json"))
    # Given in the reverse order of the reply: matching is by phone, not by position alone.
    results = client.send_same(messages("18983437011", "18983437010"), "hi")
    assert [(r.custom_id, r.phone, r.accepted, r.vendor_message_id) for r in results] == [
        ("c0", "18983437011", True, "4C2CA88382720004"),
        ("c1", "18983437010", True, "4C2CA88382720003"),
    ]
    assert json.loads(results[0].raw) == {
        "mid": "4C2CA88382720004",
        "mobile": "18983437011",
        "result": 0,
    }


def test_p2p_request_is_the_documents_example():
    """The example's list ends every line with %0d (CR), the last one included."""
    client = replay_client(
        sample(KEY, "p2p_response.json"),
        account_id="922011",
        secret="123456",
        extension="10690231221",
    )
    phones = [f"1380000000{i}" for i in range(1, 5)]
    client.send_personalised(
        [OutgoingMessage(f"c{i}", phone, f"下发内容{i}") for i, phone in enumerate(phones, 1)]
    )
    assert sent_fields(client) == [sample_params("p2p_request.url.txt")]


def test_p2p_response_sample():
    client = replay_client(sample(KEY, "p2p_response.json"))
    phones = [f"1380000000{i}" for i in range(1, 5)]
    results = client.send_personalised(
        [OutgoingMessage(f"c{i}", phone, "x") for i, phone in enumerate(phones)]
    )
    assert [r.vendor_message_id for r in results] == [
        "4C372C4382720007",
        "4C372C4382720008",
        "4C372C4382720009",
        "4C372C438272000A",
    ]
    assert all(r.accepted for r in results)


def test_balance_sample():
    client = replay_client(sample(KEY, "balance_response.json"), account_id="账号", secret="密码")
    balance = client.balance()
    assert sent_fields(client) == [sample_params("balance_request.url.txt")]
    # -153278040 厘, post-paid: the sample's status is the number 0, not "0".
    assert balance.amount == Decimal("-153278.04")
    assert balance.unit == "yuan"
    assert balance.details["chargeType"] == "POSTCHARGE"
    assert balance.raw == sample(KEY, "balance_response.json").decode()


@pytest.mark.parametrize(("action", "name"), [("report", "report"), ("mo", "mo")])
def test_poll_requests_follow_the_documents_examples(action, name):
    client = replay_client(
        sample(KEY, f"{name}_response_empty.json"), account_id="账号", secret="密码"
    )
    result = client.poll_reports() if action == "report" else client.poll_mo()
    assert result.items == [] and not result.more_waiting
    # The report example repeats action=report; the MO table misspells size as "szie".
    sent, documented = sent_fields(client)[0], sample_params(f"{name}_request.url.txt")
    assert sent.keys() == documented.keys()
    assert {k: v for k, v in sent.items() if k != "size"} == {
        k: v for k, v in documented.items() if k != "size"
    }
    assert 10 <= int(sent["size"]) <= 1000


def test_report_sample():
    result = replay_client(sample(KEY, "report_response.json")).poll_reports()
    assert result.items == [
        StatusEvent(
            "4C36654382720005",
            "rejected",
            "MA:0029",
            "通道黑名单号段",
            "Number range on the channel's blacklist",
            phone="18983437010",
            done_at=SAMPLE_TIME,
            raw=result.items[0].raw,
        ),
        StatusEvent(
            "4C36654382720006",
            "rejected",
            "MA:0029",
            "通道黑名单号段",
            "Number range on the channel's blacklist",
            phone="18983437011",
            done_at=SAMPLE_TIME,
            raw=result.items[1].raw,
        ),
    ]
    assert json.loads(result.items[0].raw)["accessCode"] == "106901234"
    assert result.raw == sample(KEY, "report_response.json").decode()


@pytest.mark.parametrize(
    ("operation", "signed"),
    [
        # send: MD5(password+extno+content+mobile)
        (
            lambda c: c.send_same(messages("13800000001", "13800000002"), "您好"),
            SECRET + EXTNO + "您好" + "13800000001,13800000002",
        ),
        # p2p: MD5(password+extno+mobileContentList), line breaks removed
        (
            lambda c: c.send_personalised(
                [
                    OutgoingMessage("a", "13800000001", "一"),
                    OutgoingMessage("b", "13800000002", "二"),
                ]
            ),
            SECRET + EXTNO + "13800000001#一13800000002#二",
        ),
        # balance, report, mo: MD5(password)
        (lambda c: c.balance(), SECRET),
        (lambda c: c.poll_reports(), SECRET),
        (lambda c: c.poll_mo(), SECRET),
    ],
    ids=["send", "p2p", "balance", "report", "mo"],
)
def test_md5_password_per_action(operation, signed):
    """The document gives no digest samples: these are md5 of its concatenation rules."""
    client = replay_client(b'{"status":"0","balance":0,"list":[]}', auth_mode="md5")
    operation(client)
    assert sent_fields(client)[0]["password"] == md5(signed)


def test_plain_password_is_sent_as_is():
    client = replay_client(sample(KEY, "balance_response.json"))
    client.balance()
    assert sent_fields(client)[0]["password"] == SECRET


def test_code_tables_map_to_known_meanings():
    assert {code.meaning for code in STAT_CODES.values()} <= REPORT_STATUSES
    for table in (STATUS_CODES, RESULT_CODES):
        assert {code.meaning for code in table.values()} - {"ok"} <= ERROR_KINDS.keys()
    assert len(STATUS_CODES) == 11 and len(RESULT_CODES) == 4 and len(STAT_CODES) == 28
    assert all(
        code.zh and code.en for t in (STATUS_CODES, RESULT_CODES, STAT_CODES) for code in t.values()
    )


@pytest.mark.parametrize(
    ("name", "table"),
    [("status_codes_table.txt", STATUS_CODES), ("result_codes_table.txt", RESULT_CODES)],
)
def test_error_tables_are_the_documents(name, table):
    assert table_rows(name) == {code: row.zh for code, row in table.items()}


def test_stat_table_is_the_documents():
    rows = table_rows("stat_codes_table.txt")
    assert rows.pop("MO:NNNN") == UPSTREAM_CODE.zh
    assert rows == {code: row.zh for code, row in STAT_CODES.items()}
    assert STAT_CODES["EXPIRED"].meaning == "expired"


def test_common_errors_section_is_what_the_result_codes_mean():
    """Section 10: 10 (接入码) and 17 (签名) are fixed in the account's settings, 15 by a top-up."""
    text = sample(KEY, "common_errors.txt").decode()
    assert re.findall(r"错误码(\d+)", text) == ["10", "17", "15"]
    assert [RESULT_CODES[code].meaning for code in ("10", "17", "15")] == [
        "account",
        "account",
        "balance",
    ]


@pytest.mark.parametrize("code", [c for c in STATUS_CODES if c != "0"])
def test_every_status_code_raises_its_typed_error(code):
    client = replay_client(json.dumps({"status": code}).encode())
    with pytest.raises(VendorError) as caught:
        client.balance()
    assert type(caught.value) is ERROR_KINDS[STATUS_CODES[code].meaning]
    assert caught.value.code == code and caught.value.description_zh == STATUS_CODES[code].zh


def test_report_codes_outside_the_table():
    assert report_code("MA:0029 ") == ("MA:0029", STAT_CODES["MA:0029"])
    stat, code = report_code("MO:0999")
    assert (stat, code.meaning) == ("MO:0999", "undelivered") and "上级网关" in code.zh
    assert report_code("UNDELIV")[1].meaning == "undelivered"


def test_unlisted_codes_say_nothing_either_way():
    """Sections 7 and 8 do not say what other values mean: "vendor_error", maybe taken."""
    for table in (STATUS_CODES, RESULT_CODES):
        error = error_for("99", "raw", table)
        assert (type(error), error.kind, error.code) == (VendorError, "vendor_error", "99")
    with pytest.raises(VendorError) as caught:
        replay_client(b'{"status":"99"}').balance()
    assert caught.value.kind == "vendor_error" and caught.value.raw == '{"status":"99"}'
    body = b'{"status":"0","list":[{"mid":"","mobile":"13800000001","result":99}]}'
    [result] = replay_client(body).send_same(messages("13800000001"), "x")
    assert (result.accepted, result.error_code, result.error_kind) == (False, "99", "vendor_error")
    assert decide(result).disposition == Disposition.UNKNOWN


@pytest.mark.parametrize(
    ("body", "operation"),
    [
        (b"<html><body>Bad Gateway config</body></html>", "balance"),
        (b"OK", "balance"),
        (b'["status", 0]', "balance"),
        (b'{"status":0,"balance":"lots"}', "balance"),
        (b'{"status":"0","balance":0}', "send"),
        (b'{"status":"0","balance":0,"list":["4C2C"]}', "send"),
        (b'{"status":"0","list":{"mid":"1"}}', "report"),
        ('{"status":"0","list":[]}'.encode("utf-16"), "mo"),
    ],
)
def test_unexpected_replies_keep_the_raw_body(body, operation):
    client = replay_client(body)
    call = {
        "balance": client.balance,
        "send": lambda: client.send_same(messages("13800000001"), "x"),
        "report": client.poll_reports,
        "mo": client.poll_mo,
    }[operation]
    with pytest.raises(UnexpectedReply) as caught:
        call()
    assert caught.value.raw == body.decode("utf-8", errors="replace")


def test_http_error_status_is_an_unexpected_reply():
    with pytest.raises(UnexpectedReply) as caught:
        replay_client(b"<html>Not Found</html>", status=404).balance()
    assert caught.value.code == "404" and "Not Found" in caught.value.raw


def test_number_missing_from_the_reply_is_ambiguous():
    results = replay_client(sample(KEY, "send_response.json")).send_same(
        messages("18983437010", "13900000000", "18983437011"), "x"
    )
    assert [(r.accepted, r.error_kind) for r in results] == [
        (True, ""),
        (False, "ambiguous"),
        (True, ""),
    ]


def test_poll_item_that_cannot_be_read_is_skipped_not_fatal():
    body = json.dumps(
        {
            "status": "0",
            "list": [
                {"flag": 1, "mid": "1", "mobile": "13800000001", "stat": "DELIVRD", "time": "soon"},
                {"flag": 1, "mid": "2"},
                "junk",
            ],
        }
    ).encode()
    result = replay_client(body).poll_reports()
    assert [(r.vendor_message_id, r.done_at) for r in result.items] == [("1", None)]


def test_p2p_number_missing_from_the_reply_is_ambiguous():
    batch = [OutgoingMessage(f"c{i}", f"1380000000{i}", "x") for i in range(1, 6)]
    results = replay_client(sample(KEY, "p2p_response.json")).send_personalised(batch)
    assert [(r.accepted, r.error_kind) for r in results] == [(True, "")] * 4 + [
        (False, "ambiguous")
    ]
    assert decide(results[4]).disposition == Disposition.UNKNOWN


def test_p2p_content_with_a_line_break_needs_a_single_send():
    """Only the recipients whose content has a line break stay out of the p2p list."""
    client = replay_client(sample(KEY, "p2p_response.json"))
    batch = [
        OutgoingMessage("a", "13800000001", "x"),
        OutgoingMessage("b", "13900000001", "one\ntwo"),
        OutgoingMessage("c", "13800000002", "x"),
        OutgoingMessage("d", "13900000002", "one\r\ntwo"),
        OutgoingMessage("e", "13800000003", "x"),
        OutgoingMessage("f", "13800000004", "x"),
    ]
    results = client.send_personalised(batch)
    assert [(r.custom_id, r.accepted, r.error_kind) for r in results] == [
        ("a", True, ""),
        ("b", False, "needs_single"),
        ("c", True, ""),
        ("d", False, "needs_single"),
        ("e", True, ""),
        ("f", True, ""),
    ]
    assert results[1].vendor_message_id == "" and "line break" in results[1].error_description
    assert decide(results[1]).disposition == Disposition.RESEND_SINGLE
    [sent] = sent_fields(client)
    assert sent["mobileContentList"] == "".join(f"1380000000{i}#x\r" for i in range(1, 5))


def test_p2p_with_only_line_breaks_sends_nothing():
    client = replay_client(b"")
    results = client.send_personalised([OutgoingMessage("a", "13800000001", "one\ntwo")])
    assert [(r.custom_id, r.error_kind) for r in results] == [("a", "needs_single")]
    assert sent_fields(client) == []


def test_report_item_without_mid_is_kept():
    body = json.dumps(
        {
            "status": "0",
            "list": [
                {"flag": 1, "mid": "", "mobile": "13800000001", "stat": "DELIVRD"},
                {"flag": 1, "mobile": "13800000002", "stat": "EXPIRED"},
            ],
        }
    ).encode()
    events = replay_client(body).poll_reports().items
    assert [(e.vendor_message_id, e.phone, e.status) for e in events] == [
        ("", "13800000001", "delivered"),
        ("", "13800000002", "expired"),
    ]


def test_vendor_export():
    assert VENDOR.key == "actiongw"
    assert VENDOR.client is ActionGwClient and VENDOR.simulator is ActionGwSimulator
    assert VENDOR.parse_push is parse_push
    assert VENDOR.capabilities.max_numbers_per_request == 500
    assert VENDOR.capabilities.pushes == {"report", "mo"}
