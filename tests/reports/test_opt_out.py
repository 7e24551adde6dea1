"""Opt-out end to end: a campaign is sent, the handset answers "ｔｄ", the phone is
suppressed with the reply as evidence, and the next campaign skips it."""

import pytest

from messaging.models import Campaign, InboundMessage, Message, Suppression
from messaging.services import polling
from messaging.services.replies import is_opt_out
from messaging.statuses import Status

from .conftest import send_campaign

pytestmark = pytest.mark.django_db

POLLING = {"polling_enabled": True, "poll_interval_s": 10}
"""The accounts here poll, every 10 s."""

PHONES = ["13800000001", "13800000002", "13800000003"]


@pytest.mark.parametrize(
    "text",
    ["T", "t", "TD", "ｔｄ", "ＴＤ", " td。", "退订", "N", "取消", "STOP", "stop!", "Ｓｔｏｐ"],
)
def test_opt_out_keywords_any_case_and_width(text):
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["TDD", "不退订", "好的", "STOP it", "", "T D"])
def test_other_replies_are_not_opt_outs(text):
    assert not is_opt_out(text)


def test_keywords_are_configurable(settings):
    settings.OPT_OUT_KEYWORDS = ["R", "拒收"]
    assert is_opt_out("ｒ") and is_opt_out("拒收") and not is_opt_out("TD")


def test_polled_opt_out_suppresses_and_the_next_campaign_skips(sim, sim_account, make_campaign):
    account = sim_account("ashx5g", **POLLING)
    first = send_campaign(make_campaign(account, phones=PHONES, name="first"))
    assert first.submitted_count == 3

    sim.inject_reply(
        vendor="ashx5g", account_id=account.account_id, phone=PHONES[1], content="ｔｄ"
    )
    assert polling.poll_once(account, polling.REPLIES).items == 1

    reply = InboundMessage.objects.get()
    assert reply.is_opt_out and reply.campaign == first
    assert reply.message == Message.objects.get(campaign=first, phone=PHONES[1])
    suppression = Suppression.objects.get(phone=PHONES[1])
    assert suppression.reason == Suppression.Reason.OPT_OUT
    assert suppression.inbound_message == reply
    assert "ｔｄ" in suppression.evidence and account.name in suppression.evidence

    second = send_campaign(make_campaign(account, phones=PHONES, name="second"))
    skipped = Message.objects.get(campaign=second, phone=PHONES[1])
    assert skipped.status == Status.SKIPPED
    assert second.skipped_count == 1 and second.submitted_count == 2
    sent_to = [row["phone"] for row in sim.accepted(vendor="ashx5g")]
    assert sent_to.count(PHONES[1]) == 1  # only the first campaign reached it


def test_pushed_opt_out_suppresses_too(client, sim_account, make_campaign, sim):
    account = sim_account("actiongw", polling_enabled=False, poll_interval_s=10)
    first = send_campaign(make_campaign(account, phones=PHONES, name="first"))
    body = (
        '[{"flag": 0, "mid": "mo-1", "spid": "x", "accessCode": "1069012", '
        f'"mobile": "{PHONES[0]}", "content": "退订", "time": "2024-05-01 10:00:00"}}]'
    ).encode()
    response = client.post(account.push_path, data=body, content_type="application/json")
    assert response.content == b"OK"
    suppression = Suppression.objects.get(phone=PHONES[0])
    assert suppression.inbound_message.campaign == first
    second = make_campaign(account, phones=PHONES, name="second")
    send_campaign(second)
    assert Message.objects.get(campaign=second, phone=PHONES[0]).status == Status.SKIPPED
    assert Campaign.objects.get(pk=second.pk).skipped_count == 1


def test_a_second_opt_out_keeps_the_first_evidence(vendor_account):
    from messaging.services.replies import record_replies
    from messaging.vendors.base import InboundReply

    record_replies(vendor_account, [InboundReply("+8613800000009", "TD", raw="first")])
    record_replies(vendor_account, [InboundReply("13800000009", "退订", raw="second")])
    suppression = Suppression.objects.get()  # one row: the phone is normalized
    assert suppression.phone == "13800000009" and suppression.evidence.endswith("TD")
    assert InboundMessage.objects.filter(is_opt_out=True).count() == 2
