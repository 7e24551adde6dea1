"""On PostgreSQL a campaign's messages are rendered by the database; the Python path (used on
SQLite) must produce the very same messages.  Both run here on the same tricky recipients."""

import pytest
from django.db import connection

from messaging.models import Campaign, Message, Recipient, RecipientList, Suppression, Template
from messaging.services import sending

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL renders in SQL"),
]

TRICKY = [
    {"name": "张三", "points": "100"},
    {"name": "  ", "points": "5"},  # blank: missing
    {"name": "\u3000", "points": "5"},  # ideographic space only: missing
    {"name": "\u00a0李四", "points": "7"},  # a value with a no-break space is a value
    {"points": "9"},  # no name at all: missing
    {"name": "Bob", "points": 12},  # a number in the JSON
    {"name": "王五回T退订", "points": "1"},  # the suffix already in the text
    {"name": "x" * 200, "points": "2"},  # long Latin in a Chinese text
    {"name": "A", "points": "1" * 150},  # near the Latin limits
    {"name": "😀", "points": "3"},  # outside the BMP
    {"name": "赵六", "points": ""},  # blank points
]


def make(administrator, account, body, *, marketing=True, n_copies=3):
    recipients = RecipientList.objects.create(name=f"tricky {body[:5]}")
    rows = []
    for copy in range(n_copies):
        for i, variables in enumerate(TRICKY):
            rows.append(
                Recipient(
                    recipient_list=recipients,
                    phone=f"139{copy:02d}{i:06d}",
                    variables=variables,
                )
            )
    Recipient.objects.bulk_create(rows)
    Suppression.objects.get_or_create(phone="13900000000")
    template = Template.objects.create(
        name="t", body=body, is_marketing=marketing, created_by=administrator
    )
    return [
        Campaign.objects.create(
            name=f"c{i}",
            template=template,
            vendor_account=account,
            recipient_list=recipients,
            created_by=administrator,
        )
        for i in range(2)
    ]


def messages(campaign):
    prefix = str(campaign.pk)
    return [
        (
            m.phone,
            m.content,
            m.segments,
            m.variables,
            m.status,
            m.error,
            m.custom_id.removeprefix(prefix),
            m.send_batch.number if m.send_batch else None,
        )
        for m in Message.objects.filter(campaign=campaign)
        .select_related("send_batch")
        .order_by("custom_id")
    ]


@pytest.mark.parametrize(
    ("vendor", "body", "marketing"),
    [
        ("ashx5g", "<name>您好，您的积分<points>即将过期", True),
        ("smsadmin", "<name>您好，您的积分<points>即将过期", True),  # counts Latin as Chinese
        ("montnets", "Hi <name>, you have <points> points", False),  # single sends, batches of 50
        ("actiongw", "周末大促，全场五折", True),  # no placeholders: same content
        ("ashx5g", "<name><name>", False),  # a name used twice
    ],
)
def test_database_and_python_render_the_same(
    vendor, body, marketing, administrator, make_campaign, monkeypatch
):
    account = make_campaign(vendor, n=1).vendor_account
    in_database, in_python = make(administrator, account, body, marketing=marketing)

    result_db = sending.start_campaign(in_database.pk)
    monkeypatch.setattr(sending, "renders_in_database", lambda: False)
    result_py = sending.start_campaign(in_python.pk)

    assert (result_db.messages, result_db.skipped) == (result_py.messages, result_py.skipped)
    assert len(result_db.batches) == len(result_py.batches)
    assert messages(in_database) == messages(in_python)
    in_database.refresh_from_db()
    in_python.refresh_from_db()
    for counter in ("total_count", "pending_count", "skipped_count"):
        assert getattr(in_database, counter) == getattr(in_python, counter)


def test_stop_on_missing_values_in_the_database(administrator, make_campaign):
    account = make_campaign("ashx5g", n=1).vendor_account
    campaign, _ = make(administrator, account, "<name>您好")
    with pytest.raises(sending.CampaignError, match="13900000001"):
        sending.start_campaign(campaign.pk, exclude_missing=False)
    assert not Message.objects.filter(campaign=campaign).exists()
