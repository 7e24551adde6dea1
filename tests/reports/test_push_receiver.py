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
