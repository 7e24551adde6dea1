"""Replies (MO), every vendor's, from one table: what a poll answer or a push carries, and the
phones, texts and times read from it (or the error it is).

Each row is one case: the vendor, how the replies come (``poll``: a recorded answer to
``poll_mo`` through the real transport; ``push``: a push handed to the vendor's
``parse_push``), the bytes, and what must come out.  Only the fields a row names are
compared."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from messaging.vendors.base import AccountConfig, UnexpectedReply
from messaging.vendors.registry import vendor
from tests.harness.push import push_request
from tests.harness.replay import replay
from tests.harness.samples import sample, sample_text

from .smsadmin.support import ACCOUNT as SMSADMIN_ACCOUNT
from .smsadmin.support import REPLY_VALUES, fill, push_from_sample
from .smsadmin.support import SECRET as SMSADMIN_SECRET

CHINA = timezone(timedelta(hours=8))
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class ReplyCase:
    name: str
    vendor: str
    via: str
    """``poll`` or ``push``."""
    body: bytes
    account: AccountConfig
    replies: tuple[dict, ...] = ()
    """Per reply, the fields to compare; ``raw_has`` / ``raw_starts``: a text its ``raw`` holds
    / begins with."""
    error: type[Exception] | None = None
    content_type: str = "application/json"
    answer: dict = field(default_factory=dict)
    """What else the poll result (``raw``, ``more_waiting``) or the push outcome
    (``reply_body``, ``reply_status``, ``reply_content_type``, ``reports``, ``errors``) is."""


def doc_account(account_id: str = "123456", secret: str = "secret") -> AccountConfig:
    return AccountConfig(base_url="http://vendor.test", account_id=account_id, secret=secret)


SMSADMIN_REVE = sample_text("smsadmin", "reve_reply_success.txt")
SMSADMIN_REVE_FILLED = fill(
    SMSADMIN_REVE, REPLY_VALUES | {"回复内容": ["收到/好的", "第二条", "3", "最后 一条"]}
)
SMSADMIN_REVE_TIMES = [datetime(2017, 9, 28, 10, 0, s, tzinfo=CHINA) for s in (1, 2, 3)] + [None]
ACTIONGW_TIME = datetime(2017, 4, 12, 1, 38, 21, tzinfo=CHINA)

CASES = [
    ReplyCase(
        "ashx5g poll, JSON sample",
        "ashx5g",
        "poll",
        sample("ashx5g", "mo_reply.json"),
        doc_account(),
        replies=(
            {
                "phone": "13900030003",
                "content": "联通 1",
                "extension": "123",
                "received_at": datetime(2020, 5, 8, 23, 14, 49, tzinfo=CHINA),
            },
            {"phone": "13900030004", "content": "联通 2", "extension": "123"},
        ),
    ),
    ReplyCase(
        # The document prints the two records as two blocks; on the wire \r\n separates them.
        # kv records have no time of their own: the header's ct is the reply time (3.6).
        "ashx5g poll, kv sample",
        "ashx5g",
        "poll",
        sample("ashx5g", "mo_reply_kv_record1.txt")
        + b"\r\n"
        + sample("ashx5g", "mo_reply_kv_record2.txt"),
        doc_account(),
        replies=(
            {"phone": "13900030003", "content": "上行 1", "raw_has": "北京:北京"},
            {
                "phone": "13900030004",
                "content": "上行 2",
                "received_at": datetime(2020, 5, 8, 23, 34, 17, tzinfo=CHINA),
            },
        ),
    ),
    ReplyCase(
        "ashx5g push sample",
        "ashx5g",
        "push",
        sample("ashx5g", "mo_push.json"),
        AccountConfig("", "123456", ""),
        replies=(
            {"phone": "13900030003", "content": "联通 1"},
            {"phone": "13900030004", "content": "联通 2"},
        ),
        answer={"reports": [], "errors": [], "reply_body": "0"},
    ),
    ReplyCase(
        # The sample's second item has a line without indentation; it is still valid JSON.
        "actiongw poll sample",
        "actiongw",
        "poll",
        sample("actiongw", "mo_response.json"),
        AccountConfig("http://gw.test", "922011", "s3cret", extension="10690123"),
        replies=(
            {
                "phone": "18983437010",
                "content": "上行内容1",
                "extension": "10690",
                "vendor_message_id": "4C36654382720005",
                "received_at": ACTIONGW_TIME,
                "raw_has": "18983437010",
            },
            {
                "phone": "18983437011",
                "content": "上行内容2",
                "extension": "10690",
                "vendor_message_id": "4C36654382720006",
                "received_at": ACTIONGW_TIME,
                "raw_has": "18983437011",
            },
        ),
    ),
    ReplyCase(
        # The sample is a pattern, not a reply: placeholders are no phone numbers.
        "smsadmin poll, the document's pattern",
        "smsadmin",
        "poll",
        SMSADMIN_REVE.encode("gb2312"),
        doc_account(SMSADMIN_ACCOUNT, SMSADMIN_SECRET),
        error=UnexpectedReply,
    ),
    ReplyCase(
        "smsadmin poll, the pattern filled in",
        "smsadmin",
        "poll",
        SMSADMIN_REVE_FILLED.encode("gb2312"),
        doc_account(SMSADMIN_ACCOUNT, SMSADMIN_SECRET),
        replies=tuple(
            {
                "phone": phone,
                "content": content,
                "link_id": link_id,
                "extension": extension,
                "received_at": at,
                "raw_starts": f"{phone}/",
            }
            for phone, content, link_id, extension, at in zip(
                REPLY_VALUES["手机号"],
                ["收到/好的", "第二条", "3", "最后 一条"],  # "无" is no time
                REPLY_VALUES["流水号"],
                REPLY_VALUES["子码"],
                SMSADMIN_REVE_TIMES,
                strict=True,
            )
        ),
        answer={"raw": SMSADMIN_REVE_FILLED.strip(), "more_waiting": False},
    ),
    ReplyCase(
        # The example wraps LinkId over two lines and writes "& RevertTime" with a space;
        # its time 0000-00-00 00:00:00 is none.
        "smsadmin push sample, POSTed as a form",
        "smsadmin",
        "push",
        push_from_sample("push_mo_example.txt").encode("gb2312"),
        AccountConfig("http://x", "ID", "pw"),
        content_type=FORM,
        replies=(
            {
                "phone": "13802102102",
                "content": "test",
                "link_id": "123456789",
                "received_at": None,
            },
        ),
        answer={
            "reply_body": "",
            "reply_status": 200,
            "errors": [],
            "reply_content_type": "text/plain; charset=gb2312",
        },
    ),
    ReplyCase(
        "smscn poll sample",
        "smscn",
        "poll",
        sample_text("smscn", "rx_response.txt").encode("gbk"),
        AccountConfig("http://gateway.test", "test", "123123"),
        replies=(
            {
                "phone": "13912341234",
                "content": "短信测试回复",
                "received_at": datetime(2008, 5, 27, 12, 10, 11, tzinfo=CHINA),
                "extension": "1068112227282",
                "raw": "13912341234||短信测试回复||2008-05-27 12:10:11||1068112227282",
            },
            {
                "phone": "15912343333",
                "content": "短信测试回复2",
                "received_at": datetime(2009, 5, 27, 13, 11, 11, tzinfo=CHINA),
                "extension": "106811222728200",
                "raw": "15912343333||短信测试回复2||2009-05-27 13:11:11||106811222728200",
            },
        ),
    ),
]


def receive(case: ReplyCase):
    """The replies of ``case`` and the poll result or push outcome they came in."""
    adapter = vendor(case.vendor)
    if case.via == "poll":
        client, _ = replay(adapter.client, case.account, case.body)
        result = client.poll_mo()
        return result.items, result
    outcome = adapter.parse_push(
        push_request(case.body, content_type=case.content_type), case.account
    )
    return outcome.replies, outcome


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reply_case(case):
    if case.error is not None:
        with pytest.raises(case.error):
            receive(case)
        return
    replies, result = receive(case)
    assert len(replies) == len(case.replies)
    for reply, expected in zip(replies, case.replies, strict=True):
        if "raw_has" in expected:
            assert expected["raw_has"] in reply.raw
        if "raw_starts" in expected:
            assert reply.raw.startswith(expected["raw_starts"])
        fields = {k: v for k, v in expected.items() if k not in ("raw_has", "raw_starts")}
        assert {k: getattr(reply, k) for k in fields} == fields
        if "received_at" in fields and reply.received_at is not None:
            assert reply.received_at.utcoffset() == timedelta(hours=8)
    assert {k: getattr(result, k) for k in case.answer} == case.answer
