"""montnets: the document's samples as test vectors (no network)."""

import json
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote

import pytest

from messaging.services.outcomes import DISPOSITION_BY_KIND, Disposition, decide
from messaging.statuses import Status
from messaging.vendors.base import (
    ERROR_KINDS,
    AccountProblem,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    RateLimited,
    Refused,
    SubmitResult,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
)
from messaging.vendors.montnets import VENDOR
from messaging.vendors.montnets.client import (
    CHINA,
    FIXED_STRING,
    SEND_BATCH_PATH,
    SEND_SINGLE_PATH,
    MontnetsClient,
    decode_text,
    encode_content,
    loads_lenient,
    parse_report,
    password_digest,
    vendor_id,
)
from messaging.vendors.montnets.codes import ERROR_CODES, REPORT_CODES, error_for
from messaging.vendors.montnets.push import parse_push
from tests.harness.samples import sample

from .support import (
    DOC_ACCOUNT,
    DOC_CONTENT,
    KEY,
    ODD_SUCCESS_REPLIES,
    ReplayTransport,
    documented_request,
    replay,
    reply_with,
    sent_json,
)


def test_vendor_is_registered_with_documented_capabilities():
    caps = VENDOR.capabilities
    assert VENDOR.key == "montnets" and VENDOR.parse_push is parse_push
    assert (caps.max_numbers_per_request, caps.max_personalised_per_request) == (1000, 0)
    assert (caps.max_reports_per_poll, caps.min_poll_interval_s) == (500, 5.0)
    assert caps.pushes == {"report"} and caps.international and not caps.poll_mo
    assert caps.auth_modes == ("md5",)


def test_signing_example_gives_the_documented_digest():
    text = sample(KEY, "pwd_signing_example.txt").decode()
    userid = re.search(r"Account(\w+)", text)[1]
    password = re.search(r"Password(\w+)", text)[1]
    fixed = re.search(r"Fixed string(\w+)", text)[1]
    timestamp = re.search(r"Timestamp(\d+)", text)[1]
    pre_image = re.search(r"before MD5 encryption:\s+(\w+)", text)[1]
    digest = re.search(r"after MD5 encryption: (\w{32})", text)[1]
    assert fixed == FIXED_STRING
    assert userid + fixed + password + timestamp == pre_image
    assert password_digest(userid, password, timestamp) == digest
    # 3.1: the userid is upper-cased before hashing.
    assert password_digest(userid.lower(), password, timestamp) == digest


def test_content_example_is_url_encoded_utf8():
    encoded = sample(KEY, "content_urlencode_example.txt").decode().split()[-1]
    assert unquote(encoded) == "“您本次登录的验证码是1234”"
    assert encode_content(unquote(encoded)) == encoded


@pytest.mark.parametrize(
    "name", ["desc_urlencode_example_send_single.txt", "desc_urlencode_example_get_rpt.txt"]
)
def test_desc_examples_decode(name):
    # Both tables show the same UTF-8 bytes, although get_rpt's claims GB2312.
    assert decode_text(sample(KEY, name).decode().split()[-1]) == "鉴权失败"
    assert decode_text(quote("鉴权失败", encoding="gb2312")) == "鉴权失败"
    assert decode_text("success") == "success"


def test_send_single_sample_request_and_success_reply(doc_clock):
    client, transport = replay("send_single_reply_success_json.txt")
    result = client.send_single(OutgoingMessage("b3d0a2783d31b21b8573", "85292041234", DOC_CONTENT))
    assert transport.calls[-1]["url"] == "http://gateway.test" + SEND_SINGLE_PATH
    sent = sent_json(transport)
    documented = documented_request("send_single_request_post_json.txt", "svrtype", "exdata")
    # The samples write the escapes in lower case, the parameter table in upper case.
    assert sent.pop("content").lower() == documented.pop("content")
    assert sent == documented
    assert result == SubmitResult(
        custom_id="b3d0a2783d31b21b8573",
        phone="85292041234",
        accepted=True,
        vendor_message_id="9223372036854775808",
        raw=sample(KEY, "send_single_reply_success_json.txt").decode(),
    )


def test_send_single_sample_failure_reply():
    client, _ = replay("send_single_reply_failure_json.txt")
    with pytest.raises(TransientError) as caught:
        client.send_single(OutgoingMessage("c1", "85292041234", "hello"))
    assert caught.value.code == "-100999"
    assert str(caught.value).startswith("系统内部错误")
    assert caught.value.raw == sample(KEY, "send_single_reply_failure_json.txt").decode()


@pytest.mark.parametrize(
    "name",
    [
        "send_single_reply_success_xml.txt",
        "send_single_reply_failure_xml.txt",
        "get_rpt_reply_success_xml.txt",
        "get_rpt_reply_failure_xml.txt",
    ],
)
def test_xml_samples_are_unexpected_for_json_requests(name):
    # We send JSON, and the document says JSON requests get JSON back.
    client, _ = replay(name)
    operation = (
        client.poll_reports
        if name.startswith("get_rpt")
        else (lambda: client.send_single(OutgoingMessage("c1", "85292041234", "hello")))
    )
    with pytest.raises(UnexpectedReply) as caught:
        operation()
    assert caught.value.raw == sample(KEY, name).decode()


def test_send_batch_sample_request_and_success_reply(doc_clock):
    client, transport = replay("send_batch_reply_success_json.txt")
    messages = [OutgoingMessage(f"c{i}", f"8529204123{i}", "") for i in (4, 5, 6)]
    results = client.send_same(messages, DOC_CONTENT)
    assert transport.calls[-1]["url"].endswith(SEND_BATCH_PATH)
    sent = sent_json(transport)
    documented = documented_request("send_batch_request_post_json.txt", "svrtype", "exdata")
    assert sent.pop("content").lower() == documented.pop("content")
    # Our custid for the batch is marked as a batch's (every report of the batch carries it).
    assert (sent.pop("custid"), documented.pop("custid")) == ("batch-c4", "b3d0a2783d31b21b8573")
    assert sent == documented
    assert {r.batch_id for r in results} == {"batch-c4"}
    assert [(r.custom_id, r.accepted, r.vendor_message_id) for r in results] == [
        ("c4", True, "9223372036854775808"),
        ("c5", True, "9675808854733720223"),  # above the signed 64-bit range
        ("c6", False, ""),  # the sample answers only two of the three numbers
    ]
    assert results[2].error_kind == "ambiguous"
    assert json.loads(results[0].raw) == {"mobile": "85292041234", "msgid": 9223372036854775808}


def test_send_batch_messages_field_example():
    fragment = sample(KEY, "send_batch_messages_field_example.txt")
    transport = ReplayTransport(b'{"result":0,"desc":"","messages":' + fragment + b"}")
    client = MontnetsClient(DOC_ACCOUNT, transport=transport)
    results = client.send_same(
        [OutgoingMessage("a", "+85292041235", ""), OutgoingMessage("b", "0085292041234", "")], "x"
    )
    assert [r.vendor_message_id for r in results] == ["9675808854733720223", "9223372036854775808"]


def test_send_batch_sample_failure_reply():
    client, _ = replay("send_batch_reply_failure_json.txt")
    with pytest.raises(TransientError) as caught:
        client.send_same(
            [OutgoingMessage("a", "85292041234"), OutgoingMessage("b", "85292041235")], "hello"
        )
    assert caught.value.code == "-100999"


def test_get_rpt_sample_request_and_success_reply(doc_clock):
    client, transport = replay("get_rpt_reply_success_json.txt")
    result = client.poll_reports()
    sent = sent_json(transport)
    documented = documented_request("get_rpt_request_post_json.txt")
    assert (sent.pop("retsize"), documented.pop("retsize")) == (500, 300)  # we take the maximum
    assert sent == documented
    assert result.more_waiting  # 5.2: reports came back, so fetch again at once
    first, second = result.items
    # The second report is part 2 of 2: its message is the id part 1 would carry, msgid -
    # 2**34 (the sample's parts, with two custids, do not follow that rule: two messages).
    assert (first.vendor_message_id, second.vendor_message_id) == (
        "9223372045854775808",
        str(9223372045854875809 - 2**34),
    )
    assert first.status == second.status == Status.DELIVERED
    assert (first.vendor_code, first.custom_id, first.phone) == (
        "DELIVRD",
        "b3d0a2783d31b21b8573",
        "138xxxxxxxx",
    )
    assert first.done_at == datetime(2016, 8, 4, 17, 38, 59, tzinfo=CHINA)
    assert first.done_at.utcoffset() == timedelta(hours=8)
    assert [(e.part_index, e.part_count) for e in result.items] == [(1, 2), (2, 2)]
    assert json.loads(first.raw)["exdata"] == "exdata0002"
    assert result.raw == sample(KEY, "get_rpt_reply_success_json.txt").decode()


def test_unreadable_reports_are_skipped_but_still_mean_fetch_again():
    transport = ReplayTransport(
        b'{"result":0,"desc":"","rpts":[{"msgid":"x"},{"msgid":1,"status":0}]}'
    )
    result = MontnetsClient(DOC_ACCOUNT, transport=transport).poll_reports()
    assert [e.vendor_message_id for e in result.items] == ["1"] and result.more_waiting
    transport.answer_with(b'{"result":0,"desc":"","rpts":[{"msgid":"x"}]}')
    result = MontnetsClient(DOC_ACCOUNT, transport=transport).poll_reports()
    assert result.items == [] and result.more_waiting
    transport.answer_with(b'{"result":0,"desc":"","rpts":{"msgid":1}}')
    with pytest.raises(UnexpectedReply):
        MontnetsClient(DOC_ACCOUNT, transport=transport).poll_reports()


def test_get_rpt_sample_failure_reply():
    client, _ = replay("get_rpt_reply_failure_json.txt")
    with pytest.raises(TransientError) as caught:
        client.poll_reports()
    assert caught.value.code == "-100999"


@pytest.mark.parametrize(
    "name",
    [
        "send_single_request_post_urlencode.txt",
        "send_single_request_get_urlencode.txt",
        "get_rpt_request_post_urlencode.txt",
        "get_rpt_request_get_urlencode.txt",
    ],
)
def test_form_samples_lost_their_timestamp_to_an_html_entity(name):
    # "&timestamp" was rendered as "×tamp" (the HTML entity &times;) in every form sample.
    text = sample(KEY, name).decode().strip()  # the leading space is the document's indentation
    assert "×tamp" in text and "timestamp" not in dict(parse_qsl(text))
    repaired = dict(parse_qsl(text.replace("×tamp", "&timestamp")))
    json_sample = name.split("_request_")[0] + "_request_post_json.txt"
    assert repaired == {
        k: unquote(str(v)) if k == "content" else str(v)
        for k, v in json.loads(sample(KEY, json_sample)).items()
    }


def test_error_table_maps_every_code_to_its_typed_error():
    # Section 4 rows as -100000 - n, the last row being the range -100100 ~ -100090.
    rows = (1, 2, 4, 11, 12, 14, 56, 57, 999, 807, 268, 269, 270, 271, 272, 273, 274)
    assert set(ERROR_CODES) == {str(-100000 - n) for n in (*rows, *range(90, 101))}
    for code, entry in ERROR_CODES.items():
        error = error_for(code, raw="{}")
        assert type(error) is ERROR_KINDS[entry.meaning]
        assert error.code == code and error.raw == "{}"
        assert (error.description_zh, error.description_en) == (entry.zh, entry.en)
    assert isinstance(error_for("-100056", ""), RateLimited)
    # 2.1.6 / 2.2.6 / 2.4.5: "non 0: failure" and msgid 0 — an unlisted code is a refusal.
    assert type(error_for("-123", "")) is Refused


def test_report_status_follows_the_status_flag():
    base = {"msgid": -42, "mobile": "85292041234", "rtime": "bad time"}
    assert parse_report({**base, "status": 0, "errcode": "DELIVRD"}).status == Status.DELIVERED
    # A failure flag wins over a contradicting DELIVRD.
    assert parse_report({**base, "status": 1, "errcode": "DELIVRD"}).status == Status.UNDELIVERED
    assert parse_report({**base, "status": 1, "errcode": "EXPIRED"}).status == Status.EXPIRED
    assert parse_report({**base, "errcode": "REJECTD"}).status == Status.REJECTED
    odd = parse_report(
        {**base, "status": "2", "errcode": "MK:0001", "errdesc": "%e6%ac%a0%e8%b4%b9"}
    )
    assert (odd.status, odd.vendor_code, odd.description_zh) == (
        Status.UNDELIVERED,
        "MK:0001",
        "欠费",
    )
    assert odd.vendor_message_id == str(2**64 - 42) and odd.done_at is None
    assert set(REPORT_CODES) >= {"DELIVRD"}
    for bad in ([], {"status": 0}, {"msgid": 0, "status": 0}, {"msgid": 1, "errcode": "MK:1"}):
        with pytest.raises(ValueError):
            parse_report(bad)


@pytest.mark.parametrize(
    ("mobile", "countrycode", "ours"),
    [
        ("8613800000001", 86, "13800000001"),
        ("008613800000001", 86, "13800000001"),
        ("+8613800000001", 86, "13800000001"),
        ("8613800000001", None, "13800000001"),
        ("13800000001", 86, "13800000001"),  # national, as in the samples' "138xxxxxxxx"
        ("13800000001", "", "13800000001"),
        ("138xxxxxxxx", 86, "138xxxxxxxx"),  # the samples' masked number, kept as it came
        ("85292041234", 852, "+85292041234"),
        ("0085292041234", 852, "+85292041234"),
        ("+85292041234", None, "+85292041234"),
        ("92041234", 852, "+85292041234"),  # national beside its countrycode
        ("447700900123", -1, "+447700900123"),  # -1: "invalid number"
        ("+13125550123", 1, "+13125550123"),
        ("13125550123", 1, "+13125550123"),
    ],
)
def test_report_numbers_come_back_in_our_stored_form(mobile, countrycode, ours):
    item = {"msgid": 1, "status": 0, "errcode": "DELIVRD", "mobile": mobile}
    if countrycode is not None:
        item["countrycode"] = countrycode
    assert parse_report(item).phone == ours


def test_batch_answers_match_whichever_form_the_number_comes_back_in():
    body = (
        b'{"result":0,"desc":"","messages":['
        b'{"mobile":"+8613800000002","msgid":12},'
        b'{"mobile":"0085292041234","msgid":13},'
        b'{"mobile":"13800000001","msgid":11}]}'
    )
    results = reply_with(body).send_same(
        [
            OutgoingMessage("a", "13800000001"),
            OutgoingMessage("b", "13800000002"),
            OutgoingMessage("c", "+85292041234"),
        ],
        "hi",
    )
    assert [(r.custom_id, r.vendor_message_id) for r in results] == [
        ("a", "11"),
        ("b", "12"),
        ("c", "13"),
    ]


@pytest.mark.parametrize(
    ("rendered", "ours"),
    [
        ("9323372036875616879", "9323372036875616879"),
        ("-9123372036833934737", "9323372036875616879"),  # the same 64 bits, signed
        (-9123372036833934737, "9323372036875616879"),
        (9223372036854775808, "9223372036854775808"),
        (-1, str(2**64 - 1)),
        (-(2**63), str(2**63)),
        (42, "42"),
        (0, ""),
        (2**64, ""),
        (-(2**63) - 1, ""),
        (9.223372036854776e18, ""),  # a float lost the digits
        (True, ""),
        (None, ""),
        ("12a", ""),
    ],
)
def test_msgids_are_normalized_to_unsigned_decimal(rendered, ours):
    assert vendor_id(rendered) == ours


def test_part_reports_name_the_message_of_the_send_answer():
    base = 9223372036854775809
    for part, rendered in [(1, base), (2, base + 2**34), (3, base + 2 * 2**34 - 2**64)]:
        event = parse_report(
            {"msgid": rendered, "pknum": part, "pktotal": 3, "status": 0, "errcode": "DELIVRD"}
        )
        assert (event.vendor_message_id, event.part_index, event.part_count) == (
            str(base),
            part,
            3,
        )
    # The SDK's sum wraps round 2**64 like Java's long.
    high = 2**64 - 5
    event = parse_report({"msgid": (high + 2**34) % 2**64, "pknum": 2, "pktotal": 2, "status": 0})
    assert event.vendor_message_id == str(high)


@pytest.mark.parametrize("name", ODD_SUCCESS_REPLIES)
def test_a_successful_send_in_the_gateways_own_json_is_accepted(name):
    body = ODD_SUCCESS_REPLIES[name]
    result = reply_with(body).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert (result.accepted, result.vendor_message_id) == (True, "9223372036854775808")
    assert result.raw == body.decode()


def test_a_batch_answer_with_balance_and_trailing_commas_is_accepted():
    body = (
        b'{\n"result":0,\n"desc":%e6%88%90%e5%8a%9f,\n"messages":[\n'
        b'{"mobile":"8613800000001","msgid":11,},\n{"mobile":"8613800000002",\n"msgid":12}\n],\n'
        b'"balance":99885514,\n}'
    )
    results = reply_with(body).send_same(
        [OutgoingMessage("a", "13800000001"), OutgoingMessage("b", "13800000002")], "x"
    )
    assert [(r.accepted, r.vendor_message_id) for r in results] == [(True, "11"), (True, "12")]


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":0,"desc":%e6%88%90%e5%8a%9f,"rpts":""}',
        b'{\n"result":0,\n"desc":%e6%88%90%e5%8a%9f,\n"rpts":"",\n}',
        b'{"result":0,"desc":"","rpts":[]}',
        b'{"result":0,"desc":"","rpts":"[]"}',
    ],
)
def test_an_empty_get_rpt_in_any_rendering(body):
    result = reply_with(body).poll_reports()
    assert (result.items, result.more_waiting) == ([], False)


@pytest.mark.parametrize(
    ("result", "error", "code"),
    [
        ("-100001", VendorAuthError, "-100001"),
        ("100001", VendorAuthError, "-100001"),
        ("100999", TransientError, "-100999"),
        ("-100999", TransientError, "-100999"),
        ("100057", AccountProblem, "-100057"),
        ("100095", InvalidRequest, "-100095"),
        ('"-100012"', InvalidNumber, "-100012"),
        ("100123", Refused, "100123"),  # not in the table, with or without its sign
        ("-100123", Refused, "-100123"),
    ],
)
def test_error_codes_with_or_without_the_minus_sign(result, error, code):
    body = f'{{\n"result":{result},\n"desc":%e9%89%b4%e6%9d%83%e5%a4%b1%e8%b4%a5,\n"msgid":0,\n}}'
    with pytest.raises(error) as caught:
        reply_with(body.encode()).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert type(caught.value) is error and caught.value.code == code
    assert caught.value.raw == body


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":0,"desc":%e6 %88,"msgid":1}',  # a bare desc of two words
        b'{"result":0 "msgid":1}',  # a missing comma on one line
        b'{"result":0,"msgid":92233',  # cut short
        b'{"result":0,"msgid":"1}',  # an unterminated string
        b'{"result":0,,"msgid":1}',
        b'{"result":0,"custid":abc,"msgid":1}',  # a bare value other than desc
        b'{"result":ok,"msgid":1}',
        b'{"result":true,"msgid":1}',
        b'{"result":1.5,"msgid":1}',
        b'{"msgid":1}',
        b"[0]",
        b"",
        '{"result":0,"desc":"\u6210\u529f","msgid":1}'.encode("gbk"),
    ],
)
def test_replies_still_unreadable_are_unexpected_with_the_raw_body(body):
    with pytest.raises(UnexpectedReply) as caught:
        reply_with(body).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert caught.value.raw == body.decode("utf-8", "replace")
    assert decide(caught.value).disposition == Disposition.UNKNOWN


def test_lenient_reading_never_touches_strings():
    text = '{"desc":"a,}\\" \\n\\"b",\n"list":["x,]",],\n"n":-1.5e3,\n}'
    assert loads_lenient(text) == {"desc": 'a,}" \n"b', "list": ["x,]"], "n": -1500.0}
    assert loads_lenient('{"desc":%41\n"errdesc":"%42"}') == {"desc": "%41", "errdesc": "%42"}


@pytest.mark.parametrize(
    ("code", "disposition"),
    [
        ("-100001", Disposition.PAUSE),  # auth
        ("-100002", Disposition.PAUSE),  # auth
        ("-100268", Disposition.PAUSE),  # our clock: the signature fails until it is fixed
        ("-100057", Disposition.PAUSE),  # account: the IP list at Montnets
        ("-100056", Disposition.REQUEUE),  # rate_limited
        ("-100999", Disposition.REQUEUE),  # transient: failure, msgid 0
        ("-100012", Disposition.FAILED),
        ("-100274", Disposition.FAILED),
        ("-100011", Disposition.FAILED),
        ("-100004", Disposition.FAILED),
        ("-100100", Disposition.FAILED),
        ("-100123", Disposition.FAILED),  # unlisted: "non 0: failure" (2.1.6)
    ],
)
def test_every_answer_means_what_the_document_says(code, disposition):
    assert decide(error_for(code, raw="")).disposition == disposition


def test_every_code_has_a_kind_of_the_outcome_table():
    assert {entry.meaning for entry in ERROR_CODES.values()} <= set(DISPOSITION_BY_KIND)
    assert ERROR_CODES["-100057"].meaning == "account"


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":0,"desc":"","msgid":0,"custid":"c1"}',
        b'{"result":0,"desc":"","custid":"c1"}',
        b'{"result":0,"desc":"","msgid":"","custid":"c1"}',
    ],
)
def test_result_0_without_a_msgid_is_maybe_taken(body):
    result = reply_with(body).send_single(OutgoingMessage("c1", "13800000001", "x"))
    assert (result.accepted, result.error_kind) == (False, "ambiguous")
    assert decide(result).disposition == Disposition.UNKNOWN
    assert result.raw == body.decode()


@pytest.mark.parametrize("flag", [0, 1, "1", None, ""])
def test_expired_reports_mean_expired(flag):
    item = {"msgid": 1, "errcode": "EXPIRED", "errdesc": "expired"}
    if flag is not None:
        item["status"] = flag
    assert parse_report(item).status == Status.EXPIRED
