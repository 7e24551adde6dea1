"""ashx5g"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests

from messaging.models import TemplateFile
from messaging.services import outcomes
from messaging.vendors.ashx5g.client import (
    CHINA,
    TEMPLATE_FILE_TYPES,
    Ashx5gClient,
    title_length,
)
from messaging.vendors.ashx5g.push import parse_push
from messaging.vendors.base import (
    AccountConfig,
    InvalidRequest,
    OutgoingMessage,
    TemplateFrame,
    VendorError,
)
from tests.harness.samples import sample

from .support import (
    ACCOUNT,
    KEY,
    SECRET,
    TEXT_FRAME,
    mms_create,
    push,
    replay,
    sent_vars,
    sim_client,
)


def test_template_upload_sample_request_and_reply():
    client, transport = replay(
        sample(KEY, "mms_create_reply.json"),
        account_id="100001",
        secret="123456",
        extension="00307",
        push_url="http://ip:8888/mms_report.ashx",
    )
    frames = [
        TemplateFrame(1, 1, "text/plain", b"test it 1"),
        TemplateFrame(1, 2, "text/plain", b"test it 2"),
        TemplateFrame(2, 1, "text/plain", b"abcccccccccccccc"),
    ]
    upload = client.upload_template(
        title="标题", signature="【签名】", frames=frames, has_variables=False
    )
    assert upload.vendor_template_id == "2122"
    (call,) = transport.calls
    assert call["url"].endswith("/mms_create.ashx")
    assert call["headers"]["Content-Type"].startswith("application/json")
    documented = json.loads(sample(KEY, "mms_create_request.json"))
    assert json.loads(call["data"].decode("utf-8")) == {**documented, "isvar": "0"}


def test_template_review_push_sample():
    outcome = parse_push(push(sample(KEY, "template_review_push.json")), AccountConfig("", "", ""))
    (review,) = outcome.reviews
    assert (review.vendor_template_id, review.approved, review.reason) == ("2122", True, "审核成功")
    assert review.reviewed_at == datetime(2021, 1, 1, 0, 0, 1, tzinfo=CHINA)
    assert outcome.reply_body == "0"  # "客户接收响应：0 表示成功"


def test_template_upload_review_push_and_template_send(sim, receiver):
    sim.add_account(vendor=KEY, account_id=ACCOUNT, secret=SECRET)
    client = sim_client(sim, push_url=receiver.url, signature="【测试】")
    upload = client.upload_template(
        title="验证码",
        signature="",
        has_variables=True,
        frames=[
            TemplateFrame(1, 1, "text/plain", "您好{var1}，验证码{var2}".encode()),
            TemplateFrame(1, 2, "image/png", b"\x89PNG"),
        ],
    )
    template_id = upload.vendor_template_id
    recipients = [
        OutgoingMessage("t1", "13800000001", variables=("张三", "1234")),
        OutgoingMessage("t2", "13800000002", variables=("李四", "5678")),
    ]
    with pytest.raises(VendorError) as pending:  # not reviewed yet
        client.send_template(template_id, recipients)
    assert pending.value.code == "-1"

    answer = sim.vendor_action(KEY, "template_review", mms_id=template_id, approved=True)
    assert answer["acknowledged"] is True
    (review,) = receiver.wait_for("reviews", 1)
    assert (review.vendor_template_id, review.approved) == (template_id, True)

    results = client.send_template(template_id, recipients)
    rows = sim.accepted(vendor=KEY)
    assert [r.vendor_message_id for r in results] == [row["vendor_message_id"] for row in rows]
    assert [row["content"] for row in rows] == ["张三|1234", "李四|5678"]
    assert {row["extra"]["mms_id"] for row in rows} == {template_id}
    with pytest.raises(InvalidRequest) as missing:
        client.send_template(
            template_id, [OutgoingMessage("t3", "13800000003", variables=("王五",))]
        )
    assert missing.value.code == "919"


def test_template_review_refusal_is_pushed(sim, receiver):
    sim.add_account(vendor=KEY, account_id=ACCOUNT, secret=SECRET)
    client = sim_client(sim, push_url=receiver.url)
    upload = client.upload_template(
        title="t",
        signature="【签】",
        has_variables=False,
        frames=[TemplateFrame(1, 1, "text/plain", b"hello")],
    )
    sim.vendor_action(
        KEY,
        "template_review",
        mms_id=upload.vendor_template_id,
        approved=False,
        reason="图片不清晰",
    )
    (review,) = receiver.wait_for("reviews", 1)
    assert (review.approved, review.reason) == (False, "图片不清晰")


@pytest.mark.parametrize(
    ("title", "frames"),
    [
        ("一" * 16, TEXT_FRAME),  # "长度小于等于 15" (5.1)
        ("一" * 14 + "😀", TEXT_FRAME),  # 16 UTF-16 units, as the .NET gateway counts
        ("", TEXT_FRAME),  # title "必填"
        ("t", []),  # files "必填"
        ("t", [TemplateFrame(1, 1, "application/pdf", b"%PDF")]),  # not in 5.3
        ("t", [TemplateFrame(1, 1, "image/png", b"")]),  # content "必填"
    ],
)
def test_template_upload_limits_are_checked_before_sending(title, frames):
    client, transport = replay(b"")
    with pytest.raises(InvalidRequest):
        client.upload_template(title=title, signature="", frames=frames, has_variables=False)
    assert transport.calls == []


def test_template_title_length_counts_utf16_units():
    assert title_length("标题") == 2
    assert title_length("一" * 14 + "😀") == 16
    assert Ashx5gClient.capabilities.template_title_max_chars == 15


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "一" * 16},
        {"title": "一" * 14 + "😀"},
        {"title": ""},
        {"files": []},
        {"files": [{"index": "1", "id": "1", "content_type": "application/pdf", "content": "25"}]},
        {"files": [{"index": "1", "id": "1", "content_type": "image/png", "content": ""}]},
        {"files": [{"index": "1", "id": "1", "content_type": "image/png", "content": "zz"}]},
        {"files": [{"index": "", "id": "1", "content_type": "image/png", "content": "00"}]},
        # A text file that is not UTF-8 ("编码格式:UTF-8"): "短信" in GBK.
        {"files": [{"index": "1", "id": "1", "content_type": "text/plain", "content": "b6ccd0c5"}]},
        {"isvar": "3"},
    ],
)
def test_simulator_refuses_a_malformed_upload(sim, client, fields):
    answer = mms_create(sim, **fields)
    assert (answer["code"], answer["status"]) == ("-1", "提交失败 或 认证失败")
    assert "mms_id" not in answer
    assert mms_create(sim, title="一" * 15)["code"] == "0"


def test_a_template_value_with_the_separator_is_refused_alone():
    client, transport = replay(sample(KEY, "mts_var_reply.json"))
    batch = [
        OutgoingMessage("m1", "13900000001", variables=("张三", "1")),
        OutgoingMessage("m2", "13900000009", variables=("A|B", "2")),
        OutgoingMessage("m3", "13900000002", variables=("李四", "3")),
    ]
    results = client.send_template("2122", batch)
    assert [(r.custom_id, r.accepted) for r in results] == [
        ("m1", True),
        ("m2", False),
        ("m3", True),
    ]
    refused = results[1]
    # No request shape carries it (5.1: values joined by "|", mt / mts / mts_var alike), so
    # it is refused for good - not "needs_single" - and never sent.
    assert (refused.error_kind, refused.vendor_message_id) == ("invalid_request", "")
    assert "'|'" in refused.error_description
    assert outcomes.decide(refused).disposition == outcomes.Disposition.FAILED
    assert [(v["pn"], v["msg"]) for v in sent_vars(transport)] == [
        ("13900000001", "张三|1"),
        ("13900000002", "李四|3"),
    ]


def test_template_send_refuses_only_the_value_with_a_separator(sim):
    sim.add_account(vendor=KEY, account_id=ACCOUNT, secret=SECRET)
    client = sim_client(sim)
    template_id = client.upload_template(
        title="验证码",
        signature="",
        has_variables=True,
        frames=[TemplateFrame(1, 1, "text/plain", "您好{var1}，验证码{var2}".encode())],
    ).vendor_template_id
    sim.vendor_action(KEY, "template_review", mms_id=template_id, approved=True)
    batch = [
        OutgoingMessage("t1", "13800000001", variables=("张三", "1234")),
        OutgoingMessage("t2", "13800000002", variables=("李|四", "5678")),
        OutgoingMessage("t3", "13800000003", variables=("王五", "9012")),
    ]
    results = client.send_template(template_id, batch)
    rows = sim.accepted(vendor=KEY)
    assert [r.accepted for r in results] == [True, False, True]
    assert [(row["custom_id"], row["content"]) for row in rows] == [
        ("t1", "张三|1234"),
        ("t3", "王五|9012"),
    ]
    assert [results[0].vendor_message_id, results[2].vendor_message_id] == [
        row["vendor_message_id"] for row in rows
    ]
    # Sent as is, the value would shift the others: the gateway refuses the extra value.
    fields = {"account": ACCOUNT, "pswd": SECRET, "pn": "13800000002", "mms_id": template_id}
    answer = requests.post(
        sim.url(KEY) + "/mt.ashx", data={**fields, "msg": "李|四|5678"}, timeout=5
    )
    assert answer.json()["result"] == "-1"


def test_file_content_type_table_matches_the_document():
    """5.3: the content types a template file may have, here, in the simulator and in the
    model's choices."""
    rows = sample(KEY, "file_content_types.txt").decode().splitlines()[1:]
    documented = {row.split("\t")[1] for row in rows}
    assert len(documented) == 12
    assert documented == TEMPLATE_FILE_TYPES
    assert documented == {code for code, _ in TemplateFile.CONTENT_TYPES}
