"""A reply's phone is read as imported recipients' phones are (``importing.phones``): the forms
a handset or a vendor may give — full-width digits, +86 / 0086 / 86, separators — find the
message sent to the recipient and suppress the very phone the lists hold."""

import pytest
from django.utils import timezone

from messaging.models import Campaign, InboundMessage, Message, RecipientList, Suppression, Template
from messaging.services.replies import record_replies, reply_phone
from messaging.statuses import Status
from messaging.vendors.base import InboundReply

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("13800000009", "13800000009"),
        ("+8613800000009", "13800000009"),
        ("8613800000009", "13800000009"),
        ("008613800000009", "13800000009"),
        ("１３８００００００09", "13800000009"),  # full-width digits
        ("＋８６ １３８-0000-0009", "13800000009"),  # full-width sign, spaces and dashes
        ("+86 (138) 0000 0009", "13800000009"),
        ("+447400123456", "+447400123456"),
        ("00447400123456", "+447400123456"),  # as recipient lists hold international numbers
        ("10690 123", "10690123"),  # a short code: as sent, without spaces
        ("", ""),
    ],
)
def test_reply_phones_are_normalized_as_recipients_are(given, stored):
    assert reply_phone(given) == stored


def test_a_full_width_opt_out_matches_its_message_and_suppresses_the_recipient(
    vendor_account, administrator
):
    template = Template.objects.create(name="t", body="x", created_by=administrator)
    campaign = Campaign.objects.create(
        name="c",
        template=template,
        vendor_account=vendor_account,
        recipient_list=RecipientList.objects.create(name="l"),
    )
    message = Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13800000009",
        content="x",
        custom_id="c1",
        status=Status.DELIVERED,
        submitted_at=timezone.now(),
    )
    stored = record_replies(
        vendor_account,
        [
            InboundReply("＋８６１３８００００００09", "ＴＤ", vendor_message_id="mo-1"),
            InboundReply("0086 138 0000 0009", "好的", vendor_message_id="mo-2"),
        ],
    )
    assert stored == 2
    replies = InboundMessage.objects.order_by("vendor_message_id")
    assert [(r.phone, r.message_id, r.campaign_id) for r in replies] == [
        ("13800000009", message.pk, campaign.pk)
    ] * 2
    suppression = Suppression.objects.get()
    assert suppression.phone == "13800000009"
    assert suppression.inbound_message == replies[0]
