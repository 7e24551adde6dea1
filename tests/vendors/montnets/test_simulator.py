"""montnets: the client against the simulator over real HTTP."""

import json
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import pytest
import requests

from messaging.services.outcomes import Disposition, decide
from messaging.statuses import Status
from messaging.vendors.base import (
    AccountConfig,
    AmbiguousOutcome,
    ContentRejected,
    InvalidNumber,
    InvalidRequest,
    OutgoingMessage,
    RateLimited,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
)
from messaging.vendors.montnets import client as montnets_client
from messaging.vendors.montnets.client import (
    CHINA,
    GET_RPT_PATH,
    SEND_BATCH_PATH,
    SEND_SINGLE_PATH,
    MontnetsClient,
)
from tests.harness.samples import sample

from .support import (
    DOC_CONTENT,
    DOC_PASSWORD,
    DOC_USERID,
    KEY,
    send_one,
    signed_post,
)

pytestmark = pytest.mark.e2e


def test_simulator_accepts_the_documented_requests(sim):
    sim.add_account(vendor="montnets", account_id=DOC_USERID, secret=DOC_PASSWORD)
    sim.vendor_action("montnets", "freeze_clock", now="2024-08-03 19:20:20")
    base = sim.url("montnets")

    def post(path, body, content_type):
        return requests.post(
            base + path, data=body, headers={"Content-Type": content_type}, timeout=5
        ).json()

    form = "application/x-www-form-urlencoded"
    single_form = sample(KEY, "send_single_request_post_urlencode.txt").strip()
    assert post(SEND_SINGLE_PATH, single_form, form)["result"] == -100001  # no timestamp
    repaired = single_form.replace("×tamp".encode(), b"&timestamp")
    assert post(SEND_SINGLE_PATH, repaired, form)["result"] == 0
    query = sample(KEY, "send_single_request_get_urlencode.txt").decode().strip()
    query = query.replace("×tamp", "&timestamp")
    get = requests.get(base + SEND_SINGLE_PATH, params=parse_qsl(query), timeout=5)
    assert get.json()["result"] == 0
    answer = post(
        SEND_SINGLE_PATH, sample(KEY, "send_single_request_post_json.txt"), "application/json"
    )
    assert answer["result"] == 0 and answer["custid"] == "b3d0a2783d31b21b8573"
    batch = post(
        SEND_BATCH_PATH, sample(KEY, "send_batch_request_post_json.txt"), "application/json"
    )
    assert [m["mobile"] for m in batch["messages"]] == ["85292041234", "85292041235", "85292041236"]
    # The XML samples lost their element names: the gateway cannot read them.
    xml = sample(KEY, "send_single_request_post_xml.txt")
    assert post(SEND_SINGLE_PATH, xml, "application/xml")["result"] == -100100
    get_rpt = sample(KEY, "get_rpt_request_post_json.txt")
    assert post(GET_RPT_PATH, get_rpt, "application/json")["result"] == 0

    accepted = sim.accepted(vendor="montnets")
    assert len(accepted) == 6
    assert {m["content"] for m in accepted} == {DOC_CONTENT}
    assert accepted[0]["custom_id"] == "b3d0a2783d31b21b8573"
    assert accepted[0]["extension"] == "0006"
    assert accepted[0]["extra"] == {"exdata": "exdata000002"}


def test_header_sample_path_is_not_an_operation(sim, client):
    request_line = sample(KEY, "http_request_header_example.txt").decode().split()
    assert request_line[:2] == ["POST", "/sms/v2/std/single_send"]
    response = requests.post(sim.url("montnets") + request_line[1], data=b"", timeout=5)
    assert response.status_code == 404
    # 2.1.1 names the path send_single, which is what the adapter calls.
    assert client.send_single(OutgoingMessage("c1", "85292041234", "hi")).accepted


def test_number_formats_of_section_3_2(sim, client):
    # The section is typeset with no-break spaces, hence \s rather than " ".
    numbers = re.findall(r"such\s+as\s+(\S+)", sample(KEY, "mobile_number_formats.txt").decode())
    assert numbers == ["85292041234", "0085292041234", "+85292041234"]
    results = [client.send_single(OutgoingMessage(f"c{i}", n, "hi")) for i, n in enumerate(numbers)]
    assert all(r.accepted for r in results)
    results = client.send_same([OutgoingMessage(f"b{i}", n) for i, n in enumerate(numbers)], "hi")
    # Numbers in a form of 3.2 go as they are, but the "+" of E.164 goes as "00".
    sent = ["85292041234", "0085292041234", "0085292041234"]
    assert [m["phone"] for m in sim.accepted(vendor="montnets")] == sent * 2
    assert [r.phone for r in results] == numbers  # our form, kept
    assert [r.vendor_message_id for r in results] == [
        m["vendor_message_id"] for m in sim.accepted(vendor="montnets")[3:]
    ]


def test_send_single_round_trip(sim, client):
    result = client.send_single(OutgoingMessage("order-42_a", "85292041234", "验证码 1234 ok"))
    (accepted,) = sim.accepted(vendor="montnets")
    assert result.accepted and result.custom_id == "order-42_a"
    assert result.vendor_message_id == accepted["vendor_message_id"]
    assert int(result.vendor_message_id) > 2**63 - 1  # kept exactly as text
    assert (accepted["content"], accepted["custom_id"], accepted["extension"]) == (
        "验证码 1234 ok",
        "order-42_a",
        "0006",
    )


def test_send_same_batch_matches_numbers_in_order(sim, client):
    messages = [
        OutgoingMessage("a", "85292041234"),
        OutgoingMessage("b", "+85292041235"),
        OutgoingMessage("c", "85292041234"),
    ]
    results = client.send_same(messages, "Same text for everyone")
    accepted = sim.accepted(vendor="montnets")
    assert [r.custom_id for r in results] == ["a", "b", "c"]
    assert [r.vendor_message_id for r in results] == [m["vendor_message_id"] for m in accepted]
    assert {m["content"] for m in accepted} == {"Same text for everyone"}
    assert len({r.vendor_message_id for r in results}) == 3


def test_send_same_with_one_message_keeps_our_custid(sim, client):
    (result,) = client.send_same([OutgoingMessage("only-1", "85292041234", "ignored")], "real")
    (accepted,) = sim.accepted(vendor="montnets")
    assert (accepted["custom_id"], accepted["content"]) == ("only-1", "real")
    assert result.accepted


def test_poll_reports_after_tick(sim, client):
    outcomes = {
        "85200000001": "delivered",
        "85200000002": "undelivered",
        "85200000003": "expired",
        "85200000004": "rejected",
    }
    sim.state.phone_outcomes.update(outcomes)
    sent = {
        client.send_single(OutgoingMessage(f"c{p}", p, "hi")).vendor_message_id: p for p in outcomes
    }
    sim.state.tick()
    result = client.poll_reports()
    assert result.more_waiting
    assert {e.vendor_message_id: e.status for e in result.items} == {
        msgid: outcomes[phone] for msgid, phone in sent.items()
    }
    event = result.items[0]
    # The gateway writes the number as 852…; ours is E.164 for an international number.
    assert event.phone == "+" + event.custom_id[1:] and event.done_at.tzinfo == CHINA
    assert client.poll_reports().items == []  # right after a non-empty poll: allowed


def test_get_rpt_serves_at_most_500_per_call(sim, client):
    sim.state.enforce_poll_interval = False
    phones = [f"8529{i:07d}" for i in range(501)]
    client.send_same([OutgoingMessage(f"c{i}", p) for i, p in enumerate(phones)], "bulk")
    sim.state.tick()
    first, second, third = client.poll_reports(), client.poll_reports(), client.poll_reports()
    assert (len(first.items), first.more_waiting) == (500, True)
    assert (len(second.items), second.more_waiting) == (1, True)
    assert (len(third.items), third.more_waiting) == (0, False)


def test_polling_again_within_5s_of_an_empty_answer_is_refused(sim, client):
    assert client.poll_reports().more_waiting is False
    with pytest.raises(RateLimited) as caught:
        client.poll_reports()
    assert caught.value.code == "-100056" and caught.value.retry_after == 5.0
    assert "连接数超限" in str(caught.value)  # the GB2312 desc of get_rpt was decoded


def test_no_mo_and_no_balance_operations(client):
    with pytest.raises(NotImplementedError):
        client.poll_mo()
    with pytest.raises(NotImplementedError):
        client.balance()
    with pytest.raises(NotImplementedError):
        client.send_personalised([OutgoingMessage("a", "85292041234", "x")])


def test_wrong_password_is_an_auth_error(sim, account):
    client = MontnetsClient(
        AccountConfig(base_url=account.base_url, account_id=DOC_USERID, secret="wrong")
    )
    with pytest.raises(VendorAuthError) as caught:
        send_one(client)
    assert caught.value.code == "-100001" and caught.value.retry_safe
    assert "鉴权不通过" in str(caught.value)
    assert sim.accepted(vendor="montnets") == []


def test_misbehaving_auth_answers_the_vendor_code(sim, client):
    sim.misbehave("montnets", "auth_error")
    with pytest.raises(VendorAuthError) as caught:
        client.poll_reports()
    assert caught.value.code == "-100001"


def test_stale_timestamp_is_refused(sim, client, monkeypatch):
    an_hour_ago = (datetime.now(CHINA) - timedelta(hours=1)).strftime("%m%d%H%M%S")
    monkeypatch.setattr(montnets_client, "signing_timestamp", lambda: an_hour_ago)
    with pytest.raises(VendorAuthError) as caught:
        send_one(client)
    assert caught.value.code == "-100268"


def test_rate_limit_is_the_connection_limit_code(sim, client):
    sim.misbehave("montnets", "rate_limit", remaining=1)
    with pytest.raises(RateLimited) as caught:
        send_one(client)
    assert caught.value.code == "-100056"
    assert send_one(client).accepted  # only one request misbehaved


def test_no_credit_fails_in_the_report(sim, client):
    # The document has no balance error code: its only word on credit is the report errdesc
    # example "outstanding bill".
    sim.misbehave("montnets", "no_balance")
    result = send_one(client)
    sim.state.tick()
    (report,) = client.poll_reports().items
    assert report.vendor_message_id == result.vendor_message_id
    assert report.status == Status.REJECTED
    assert json.loads(report.raw)["errdesc"] == "outstanding%20bill"


def test_empty_account_is_not_charged(sim, client):
    sim.state.account("montnets", DOC_USERID).balance = 0
    send_one(client)
    sim.state.tick()
    assert client.poll_reports().items[0].status == Status.REJECTED
    assert sim.state.account("montnets", DOC_USERID).balance == 0


@pytest.mark.parametrize(
    ("phone", "code"), [("12ab", "-100274"), ("", "-100012"), ("+0123456789", "-100274")]
)
def test_invalid_number(sim, client, phone, code):
    with pytest.raises(InvalidNumber) as caught:
        send_one(client, phone=phone)
    assert caught.value.code == code


def test_one_invalid_number_fails_the_whole_batch_so_each_goes_alone(sim, client):
    # 3.2: one illegal number fails the whole send_batch; nothing was taken, and every number
    # is sent again on its own so that only the bad one fails.
    messages = [OutgoingMessage("a", "85292041234", "hi"), OutgoingMessage("b", "x1", "hi")]
    results = client.send_same(messages, "hi")
    assert sim.accepted(vendor="montnets") == []
    assert [(r.custom_id, r.accepted, r.error_kind, r.error_code) for r in results] == [
        ("a", False, "needs_single", "-100274"),
        ("b", False, "needs_single", "-100274"),
    ]
    assert decide(results[0]).disposition == Disposition.RESEND_SINGLE
    assert client.send_single(messages[0]).accepted
    with pytest.raises(InvalidNumber):
        client.send_single(messages[1])


def test_content_too_long_is_rejected(sim, client):
    assert send_one(client, content="长" * 1000).accepted
    with pytest.raises(ContentRejected) as caught:
        send_one(client, content="长" * 1001)
    assert caught.value.code == "-100011"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"content": ""}, "-100271"),
        ({"custom_id": "has.dot"}, "-100004"),
        ({"phone": "85292041234,85292041235"}, "-100807"),
    ],
)
def test_invalid_requests(sim, client, kwargs, code):
    with pytest.raises(InvalidRequest) as caught:
        send_one(client, **kwargs)
    assert caught.value.code == code


def test_more_than_1000_numbers_is_refused(sim, client):
    messages = [OutgoingMessage(f"c{i}", f"8529{i:07d}") for i in range(1001)]
    with pytest.raises(InvalidRequest) as caught:
        client.send_same(messages, "hi")
    assert caught.value.code == "-100014"


def test_garbage_reply_is_unexpected(sim, client):
    sim.misbehave("montnets", "garbage")
    with pytest.raises(UnexpectedReply) as caught:
        send_one(client)
    assert "not what the document shows" in caught.value.raw


def test_html_500_is_ambiguous_and_503_transient(sim, client):
    sim.misbehave("montnets", "error", remaining=1)
    with pytest.raises(AmbiguousOutcome) as caught:
        send_one(client)
    assert caught.value.code == "500" and not caught.value.retry_safe
    sim.misbehave("montnets", "unavailable", remaining=1)
    with pytest.raises(TransientError):
        send_one(client)


def test_accept_then_drop_is_ambiguous(sim, client):
    sim.misbehave("montnets", "accept_then_drop", remaining=1)
    with pytest.raises(AmbiguousOutcome):
        send_one(client)
    assert len(sim.accepted(vendor="montnets")) == 1  # it was accepted all the same


def test_numbers_travel_with_their_country_code(sim, client):
    # Mainland mobiles are stored as 11 digits, others in E.164 (messaging.importing.phones).
    (single,) = client.send_same([OutgoingMessage("s1", "13800000001", "hi")], "hi")
    batch = client.send_same(
        [
            OutgoingMessage("b1", "13800000002"),
            OutgoingMessage("b2", "+447700900123"),
            OutgoingMessage("b3", "+85292041234"),
        ],
        "hi",
    )
    accepted = sim.accepted(vendor="montnets")
    assert [m["phone"] for m in accepted] == [
        "8613800000001",
        "8613800000002",
        "00447700900123",
        "0085292041234",
    ]
    assert [r.phone for r in [single, *batch]] == [
        "13800000001",
        "13800000002",
        "+447700900123",
        "+85292041234",
    ]
    assert [r.vendor_message_id for r in [single, *batch]] == [
        m["vendor_message_id"] for m in accepted
    ]


@pytest.mark.parametrize(
    ("path", "mobile"),
    [
        (SEND_SINGLE_PATH, "15805005050"),
        (SEND_BATCH_PATH, "8613800000001,15805005050"),
    ],
)
def test_simulator_refuses_a_number_without_its_country_code(sim, account, path, mobile):
    answer = signed_post(sim, path, mobile=mobile, content="hi")
    assert answer["result"] == -100274  # "Mobile number does not meet the rules" (of 3.2)
    assert sim.accepted(vendor="montnets") == []
    for number in ("8615805005050", "008615805005050", "+8615805005050"):
        assert signed_post(sim, SEND_SINGLE_PATH, mobile=number, content="hi")["result"] == 0


def test_reports_over_http_name_our_numbers(sim, client):
    sent = {
        client.send_single(OutgoingMessage(f"c{i}", phone, "hi")).vendor_message_id: phone
        for i, phone in enumerate(["13800000001", "+447700900123"])
    }
    sim.state.tick()
    reports = client.poll_reports().items
    assert {r.vendor_message_id: r.phone for r in reports} == sent
    raw = {json.loads(r.raw)["mobile"] for r in reports}
    assert raw == {"8613800000001", "447700900123"}  # as the gateway writes them


def test_simulator_renders_ids_signed_on_request(sim, client):
    sim.vendor_action("montnets", "quirks", signed_ids=True)
    answer = signed_post(sim, SEND_SINGLE_PATH, mobile="8613800000001", content="hi")
    (accepted,) = sim.accepted(vendor="montnets")
    assert answer["msgid"] == int(accepted["vendor_message_id"]) - 2**64 < 0
    result = send_one(client, phone="13800000002")
    assert result.vendor_message_id == sim.accepted(vendor="montnets")[1]["vendor_message_id"]
    sim.state.tick()
    reports = client.poll_reports().items
    assert {json.loads(r.raw)["msgid"] < 0 for r in reports} == {True}
    assert {r.vendor_message_id for r in reports} == {
        m["vendor_message_id"] for m in sim.accepted(vendor="montnets")
    }


@pytest.mark.parametrize(
    ("content", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("长" * 70, 1), ("长" * 71, 2), ("长" * 150, 3)],
)
def test_simulator_reports_each_part_of_a_long_message(sim, client, content, parts):
    sim.vendor_action("montnets", "quirks", signed_ids=True)
    result = send_one(client, content=content)
    sim.state.tick()
    reports = client.poll_reports().items
    assert [(r.vendor_message_id, r.part_index, r.part_count) for r in reports] == [
        (result.vendor_message_id, n, parts) for n in range(1, parts + 1)
    ]
    base = int(result.vendor_message_id)
    assert [json.loads(r.raw)["msgid"] % 2**64 for r in reports] == [
        (base + (n - 1) * 2**34) % 2**64 for n in range(1, parts + 1)
    ]


def test_parts_beyond_retsize_wait_for_the_next_get_rpt(sim, client):
    sim.state.enforce_poll_interval = False
    first = send_one(client, content="长" * 150, custom_id="long")
    second = send_one(client, content="short", custom_id="short")
    sim.state.tick()
    polls = [client._call(GET_RPT_PATH, {"retsize": 2})[1]["rpts"] for _ in range(3)]
    assert [[(r["custid"], r["pknum"]) for r in rpts] for rpts in polls] == [
        [("long", 1), ("long", 2)],
        [("long", 3), ("short", 1)],
        [],
    ]
    assert {int(r["msgid"]) for r in polls[1]} == {
        int(first.vendor_message_id) + 2 * 2**34,
        int(second.vendor_message_id),
    }


def test_simulator_answers_like_the_gateway_on_request(sim, client, account):
    quirks = ("bare_desc", "trailing_comma", "positive_codes", "empty_rpts_string")
    sim.vendor_action("montnets", "quirks", **dict.fromkeys(quirks, True))
    raw = requests.post(sim.url("montnets") + GET_RPT_PATH, json={"userid": "X"}, timeout=5).text
    assert raw.startswith('{\n"result":100001,\n"desc":%') and raw.endswith('"rpts":"",\n}')
    assert client.poll_reports().items == []  # "rpts":""
    result = send_one(client)
    assert result.accepted
    with pytest.raises(RateLimited) as caught:  # within 5 s of the empty answer
        client.poll_reports()
    assert caught.value.code == "-100056"
    sim.state.enforce_poll_interval = False
    assert [r.vendor_message_id for r in client.poll_reports().items] == [result.vendor_message_id]
    wrong = MontnetsClient(
        AccountConfig(base_url=account.base_url, account_id=DOC_USERID, secret="wrong")
    )
    with pytest.raises(VendorAuthError) as caught:
        send_one(wrong)
    assert caught.value.code == "-100001" and "鉴权不通过" in str(caught.value)


def test_batch_reports_carry_our_batch_custid_not_a_message_id(sim, client):
    results = client.send_same(
        [OutgoingMessage("m1", "13800000001"), OutgoingMessage("m2", "13800000002")], "hi"
    )
    sim.state.tick()
    reports = client.poll_reports().items
    assert {(r.custom_id, r.batch_id) for r in reports} == {("", "batch-m1")}
    assert {r.batch_id for r in results} == {"batch-m1"}
