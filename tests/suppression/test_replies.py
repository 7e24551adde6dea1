"""Re-subscribe replies and the opt-out confirmation, through the vendor simulator: the
handset's reply is injected into the simulator, polled, and the confirmation arrives back at
the simulator."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from messaging.models import InboundMessage, Message, PortalSettings, Suppression, VendorAccount
from messaging.services import polling, suppressions
from messaging.services.replies import is_resubscribe, record_replies, resubscribe_keywords
from messaging.statuses import Status
from messaging.vendors.base import InboundReply

pytestmark = pytest.mark.django_db

PHONE = "13800000002"
POLLING = {"polling_enabled": True, "poll_interval_s": 10}


def reply(sim, account, content, phone=PHONE):
    """The handset answers; the portal polls (at once: the vendor's interval is not waited)."""
    sim.configure(enforce_poll_interval=False)
    VendorAccount.objects.filter(pk=account.pk).update(
        replies_polled_at=None, reports_polled_at=None
    )
    sim.inject_reply(vendor="ashx5g", account_id=account.account_id, phone=phone, content=content)
    assert polling.poll_once(account, polling.REPLIES).items == 1
    return InboundMessage.objects.order_by("-pk").first()


def confirmations(sim):
    return [row for row in sim.accepted(vendor="ashx5g") if "退订" in row["content"]]


def turn_confirmation_on(text="已退订，回复订阅可恢复"):
    portal = PortalSettings.load()
    portal.opt_out_confirmation = True
    portal.opt_out_confirmation_text = text
    portal.save()


@pytest.mark.e2e
def test_opt_out_confirmation_reaches_the_handset_once(
    sim, sim_account, sync_tasks, django_capture_on_commit_callbacks
):
    turn_confirmation_on()
    account = sim_account("ashx5g", **POLLING)
    with django_capture_on_commit_callbacks(execute=True):
        opt_out = reply(sim, account, "TD")
    suppression = Suppression.objects.active().get(phone=PHONE)
    assert suppression.inbound_message == opt_out

    message = suppression.confirmation
    assert message is not None and message.campaign_id is None
    message.refresh_from_db()
    assert (
        message.status == Status.SUBMITTED
        and message.content == "【测试商城】已退订，回复订阅可恢复"
    )
    sent = confirmations(sim)
    assert [(row["phone"], row["content"]) for row in sent] == [(PHONE, message.content)]

    # The same phone answering "退订" again: still one suppression, no second confirmation.
    with django_capture_on_commit_callbacks(execute=True):
        reply(sim, account, "退订")
    assert Suppression.objects.filter(phone=PHONE).count() == 1
    assert Message.objects.filter(campaign__isnull=True, phone=PHONE).count() == 1
    assert len(confirmations(sim)) == 1


def test_confirmation_is_off_by_default(sim, sim_account, sync_tasks):
    account = sim_account("ashx5g", **POLLING)
    reply(sim, account, "TD")
    assert Suppression.objects.get().confirmation is None
    assert not Message.objects.exists() and not sim.accepted(vendor="ashx5g")


def test_a_second_send_of_the_confirmation_sends_nothing(vendor_account, monkeypatch):
    from messaging.services import sending

    turn_confirmation_on()
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("messaging.services.replies.transaction.on_commit", lambda fn, *a, **k: fn())
        record_replies(vendor_account, [InboundReply(phone=PHONE, content="TD")])
    assert queued == [
        ("messaging.tasks.send_notification", Suppression.objects.get().confirmation_id)
    ]
    message = Suppression.objects.get().confirmation
    # Taken off the queue by a first run: a second run (a duplicate task) sends nothing.
    Message.objects.filter(pk=message.pk).update(status=Status.SUBMITTED)
    assert sending.send_notification(message.pk) is None


def test_a_vendor_that_takes_no_single_message_gets_no_confirmation(vendor_account, monkeypatch):
    from messaging.vendors.ashx5g.client import Ashx5gClient

    turn_confirmation_on()
    capabilities = Ashx5gClient.capabilities
    monkeypatch.setattr(
        Ashx5gClient,
        "capabilities",
        type(capabilities)(**{**capabilities.__dict__, "single_sends": False}),
    )
    record_replies(vendor_account, [InboundReply(phone=PHONE, content="TD")])
    assert Suppression.objects.active().get().confirmation is None
    assert not Message.objects.exists()


@pytest.mark.parametrize("text", ["订阅", "恢复", "start", "ＳＴＡＲＴ", " 订阅。"])
def test_resubscribe_keywords_compare_like_opt_outs(text):
    assert is_resubscribe(text, ("订阅", "恢复", "START"))


def test_resubscribe_keywords_come_from_the_portal_settings(db):
    portal = PortalSettings.load()
    portal.resubscribe_keywords = "订阅， 恢复 ,,YES"
    portal.save()
    assert resubscribe_keywords() == ("订阅", "恢复", "YES")
    assert not is_resubscribe("我要订阅", resubscribe_keywords())


def test_resubscribe_reply_lifts_an_opt_out_and_keeps_the_evidence(sim, sim_account):
    account = sim_account("ashx5g", **POLLING)
    opt_out = reply(sim, account, "退订")
    again = reply(sim, account, "订阅")
    assert not Suppression.objects.active().filter(phone=PHONE).exists()
    row = Suppression.objects.get(phone=PHONE)
    assert row.inbound_message == opt_out and row.lifting_reply == again
    assert row.lifted_at is not None and "订阅" in row.lifted_reason
    assert "退订" in row.evidence
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.SUPPRESSION_REMOVED, object_id=str(row.pk)
    ).exists()

    # Opting out once more: a new suppression; the lifted one stays as history.
    reply(sim, account, "TD")
    assert Suppression.objects.filter(phone=PHONE).count() == 2
    lookup = suppressions.look_up(PHONE)
    assert lookup.active.inbound_message.content == "TD" and lookup.history == [row]


def test_resubscribe_does_not_lift_a_suppression_added_by_a_person(vendor_account):
    suppressions.add(PHONE, note="complained to the hotline")
    record_replies(vendor_account, [InboundReply(phone=PHONE, content="订阅")])
    assert Suppression.objects.active().get(phone=PHONE).reason == Suppression.Reason.MANUAL


def test_a_late_delivered_earlier_resubscribe_does_not_undo_an_opt_out(vendor_account):
    now = timezone.now()
    record_replies(vendor_account, [InboundReply(phone=PHONE, content="TD", received_at=now)])
    earlier = now - timedelta(minutes=5)
    record_replies(vendor_account, [InboundReply(phone=PHONE, content="订阅", received_at=earlier)])
    assert Suppression.objects.active().filter(phone=PHONE).exists()
