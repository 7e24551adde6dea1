"""The push receiver view: authentication, raw keeping, vendor answers, application."""

from pathlib import Path

import pytest

from messaging.models import DeliveryReport, InboundMessage, Message, PushRecord, VendorAccount
from messaging.statuses import Status

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"


@pytest.fixture
def actiongw_account(db):
    return VendorAccount.objects.create(
        vendor="actiongw",
        name="gw",
        base_url="http://127.0.0.1:9/actiongw",
        account_id="demo",
        secret="x",
        signature="【测试商城】",
    )


def test_unknown_token_gets_404_and_is_kept(client, actiongw_account):
    response = client.post(
        f"/vendor/push/{actiongw_account.pk}/wrong-token/",
        data=b"[]",
        content_type="application/json",
    )
    assert response.status_code == 404
    record = PushRecord.objects.get()
    assert record.outcome == PushRecord.Outcome.UNAUTHENTICATED
    assert record.vendor_account == actiongw_account


def test_malformed_push_gets_4xx_never_500_and_is_kept(client, actiongw_account):
    response = client.post(
        actiongw_account.push_path, data=b"{not json", content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    record = PushRecord.objects.get()
    assert record.outcome == PushRecord.Outcome.REJECTED
    assert bytes(record.body) == b"{not json"


def test_disabled_pushes_are_refused(client, actiongw_account):
    actiongw_account.push_enabled = False
    actiongw_account.save()
    response = client.post(actiongw_account.push_path, data=b"[]", content_type="application/json")
    assert response.status_code == 403


def test_document_push_sample_is_answered_ok_and_applied(client, actiongw_account):
    body = (FIXTURES / "actiongw" / "push_request.json").read_bytes()
    response = client.post(actiongw_account.push_path, data=body, content_type="application/json")
    assert response.status_code == 200
    assert (
        response.content.decode() == (FIXTURES / "actiongw" / "push_reply.txt").read_text().strip()
    )
    record = PushRecord.objects.get()
    assert record.outcome in (PushRecord.Outcome.ACCEPTED, PushRecord.Outcome.PARTIAL)
    assert DeliveryReport.objects.count() + InboundMessage.objects.count() == record.item_count
    assert record.item_count > 0
    # Kept byte for byte, with where and when it came.
    assert bytes(record.body) == body
    assert (record.method, record.path) == ("POST", actiongw_account.push_path)
    assert record.vendor_account == actiongw_account and record.received_at is not None


def test_report_moves_a_message_forward_only(client, actiongw_account):
    from messaging.services.reports import apply_status_events
    from messaging.vendors.base import StatusEvent

    message = Message.objects.create(
        vendor_account=actiongw_account,
        phone="13800000001",
        content="x",
        custom_id="c1",
        vendor_message_id="-123456789012345678901",
        status=Status.SUBMITTED,
    )
    delivered = StatusEvent("-123456789012345678901", Status.DELIVERED, "DELIVRD")
    late = StatusEvent("-123456789012345678901", Status.UNDELIVERED, "UNDELIV")
    result = apply_status_events(actiongw_account, [delivered, delivered, late], "push")
    assert (result.stored, result.matched) == (3, 3)
    message.refresh_from_db()
    assert message.status == Status.DELIVERED and message.vendor_status_code == "DELIVRD"


def test_report_before_submit_answer_is_matched_later(actiongw_account):
    from messaging.services.reports import apply_status_events, match_waiting_reports
    from messaging.vendors.base import StatusEvent

    apply_status_events(actiongw_account, [StatusEvent("v-1", Status.DELIVERED, "DELIVRD")], "push")
    message = Message.objects.create(
        vendor_account=actiongw_account,
        phone="13800000001",
        content="x",
        custom_id="c1",
        vendor_message_id="v-1",
        status=Status.SUBMITTED,
    )
    assert match_waiting_reports(actiongw_account, ["v-1"]) == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


# --------------------------------------------------------------------------- robustness


def vendor_account_for(vendor: str, account_id: str = "demo") -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=vendor,
        name=f"{vendor} robust",
        base_url=f"http://127.0.0.1:9/{vendor}",
        account_id=account_id,
        secret="x",
        signature="【测试商城】",
    )


@pytest.mark.parametrize(
    ("vendor", "body", "content_type"),
    [
        ("actiongw", b"\xff\xfe not json", "application/json"),
        ("ashx5g", b"<html>nothing readable</html>", "application/json"),
        ("montnets", b'{"cmd": "RPT_REQ"}', "application/json"),
        ("montnets", b"[1, 2", "application/json"),
        ("smsadmin", b"Class=other", "application/x-www-form-urlencoded"),
        ("smscn", b"cmd=nothing", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_pushes_get_4xx_and_are_kept(client, vendor, body, content_type):
    account = vendor_account_for(vendor)
    response = client.post(account.push_path, data=body, content_type=content_type)
    assert 400 <= response.status_code < 500
    record = PushRecord.objects.get()
    assert record.outcome in (PushRecord.Outcome.REJECTED, PushRecord.Outcome.UNAUTHENTICATED)
    assert bytes(record.body) == body and record.error


def test_token_of_another_account_is_refused(client, actiongw_account):
    other = vendor_account_for("actiongw")
    response = client.post(
        f"/vendor/push/{actiongw_account.pk}/{other.push_token}/",
        data=b"[]",
        content_type="application/json",
    )
    assert response.status_code == 404
    assert PushRecord.objects.get().outcome == PushRecord.Outcome.UNAUTHENTICATED


def test_one_bad_item_never_loses_the_good_ones(client, actiongw_account):
    good = Message.objects.create(
        vendor_account=actiongw_account,
        phone="13800000001",
        content="x",
        custom_id="g1",
        vendor_message_id="m-good",
        status=Status.SUBMITTED,
    )
    body = (
        b'[{"flag": 1, "mid": "m-good", "mobile": "13800000001", "stat": "DELIVRD"},'
        b' {"flag": 7, "mid": "odd"}, "not an object",'
        b' {"flag": 0, "mobile": "13800000002", "content": "TD", "time": "2024-05-01 10:00:00"}]'
    )
    response = client.post(actiongw_account.push_path, data=body, content_type="application/json")
    assert (response.status_code, response.content) == (200, b"OK")
    record = PushRecord.objects.get()
    assert record.outcome == PushRecord.Outcome.PARTIAL and record.item_count == 2
    assert record.error.count("\n") == 1  # two unreadable items, each described
    good.refresh_from_db()
    assert good.status == Status.DELIVERED
    assert InboundMessage.objects.get().is_opt_out


def test_broken_item_in_a_json_array_keeps_the_others(client):
    account = vendor_account_for("ashx5g")
    sent = Message.objects.create(
        vendor_account=account,
        phone="13900030004",
        content="x",
        custom_id="a1",
        vendor_message_id="s2",
        status=Status.SUBMITTED,
    )
    body = (
        b'[{"seq": "s1", "sc": "DELIVRD", "pn": "13900030003", "st": "20200508214200"},'
        b' {"seq": "s2", "sc": "DELIVRD", "pn": "13900030004", "st": "20200508214204"},'
        b' {"seq": "s3", "sc": "UNDELIV" "pn": }]'
    )
    response = client.post(account.push_path, data=body, content_type="application/json")
    assert (response.status_code, response.content) == (200, b"0")
    assert PushRecord.objects.get().outcome == PushRecord.Outcome.PARTIAL
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
    assert set(DeliveryReport.objects.values_list("vendor_message_id", flat=True)) == {"s1", "s2"}


def test_duplicate_pushes_change_nothing(client, actiongw_account):
    message = Message.objects.create(
        vendor_account=actiongw_account,
        phone="18983437011",
        content="x",
        custom_id="d1",
        vendor_message_id="4C36654382720006",
        status=Status.SUBMITTED,
    )
    body = (FIXTURES / "actiongw" / "push_request.json").read_bytes()
    for _ in range(2):
        response = client.post(
            actiongw_account.push_path, data=body, content_type="application/json"
        )
        assert response.content == b"OK"
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.reports.count() == 2  # both kept, the second changed nothing
    assert InboundMessage.objects.count() == 1  # the same reply pushed twice is stored once


def test_parser_crash_is_a_4xx_and_kept(client, actiongw_account, monkeypatch):
    from messaging.vendors import registry

    broken = registry.vendor("actiongw")

    def explode(request, config):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(
        registry, "vendor", lambda key: type(broken)(broken.key, broken.client, explode, None)
    )
    monkeypatch.setattr("messaging.services.pushes.vendor", registry.vendor)
    response = client.post(actiongw_account.push_path, data=b"[]", content_type="application/json")
    assert response.status_code == 400
    record = PushRecord.objects.get()
    assert record.outcome == PushRecord.Outcome.REJECTED and "parser bug" in record.error


def test_failure_to_apply_keeps_the_push_and_asks_for_a_retry(client, actiongw_account):
    from unittest import mock

    body = (FIXTURES / "actiongw" / "push_request.json").read_bytes()
    with mock.patch(
        "messaging.services.pushes.apply_status_events", side_effect=RuntimeError("database gone")
    ):
        response = client.post(
            actiongw_account.push_path, data=body, content_type="application/json"
        )
    assert response.status_code == 503  # not a 4xx: the vendor should push it again
    record = PushRecord.objects.get()
    assert "database gone" in record.error and bytes(record.body) == body
    assert not DeliveryReport.objects.exists() and not InboundMessage.objects.exists()
