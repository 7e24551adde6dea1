"""On PostgreSQL a campaign's messages are rendered by the database; the Python path (used on
SQLite) must produce the very same messages.  Both run here on the same tricky recipients."""

import pytest
from django.db import connection
from django.utils import translation

from messaging.models import Campaign, Message, Recipient, RecipientList, Suppression, Template
from messaging.services import sending, sql, wording

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
    # Characters an account's request encoding may lack (the 😀 and no-break space above too):
    {"name": "王堃", "points": "8"},  # GBK has 堃, GB2312 not
    {"name": "珺玥珺", "points": "赟"},  # in two values, one twice: each once, in order
    {"name": "李·明", "points": "4"},  # Python's GB2312 lacks the middle dot, GBK has it
    {"name": "镕", "points": " "},  # a missing value comes first
    {"name": "€uro", "points": "6"},  # neither GB2312 nor GBK
]
GB2312 = "The vendor's GB2312 cannot carry: "
GBK = "The vendor's GBK cannot carry: "


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


BODY = "<name>您好，您的积分<points>即将过期"


@pytest.mark.parametrize(
    ("vendor", "body", "marketing", "options", "expected"),
    [
        # expected: the error of some messages of the second copy, by TRICKY index.
        ("ashx5g", BODY, True, {}, {3: "", 9: "", 11: "", 15: ""}),
        (  # counts Latin as Chinese; GB2312
            "smsadmin",
            BODY,
            True,
            {},
            {
                0: "",
                3: GB2312 + "\u00a0",
                9: GB2312 + "😀",
                11: GB2312 + "堃",
                12: GB2312 + "珺, 玥, 赟",
                13: GB2312 + "·",
                14: "Missing values: points",
                15: GB2312 + "€",
            },
        ),
        ("smscn", BODY, True, {}, {3: GBK + "\u00a0", 11: "", 12: "", 13: "", 15: GBK + "€"}),
        ("smscn", BODY, True, {"encode": "utf8"}, {3: "", 9: "", 15: ""}),
        ("montnets", "Hi <name>, you have <points> points", False, {}, {15: ""}),  # batches of 50
        ("actiongw", "周末大促，全场五折", True, {}, {15: ""}),  # no placeholders: same content
        ("ashx5g", "<name><name>", False, {}, {}),  # a name used twice
        # Defaults: a blank or absent value shows the default and is never missing.
        (
            "ashx5g",
            "<name|顾客>您好，您的积分<points|0>即将过期",
            True,
            {},
            {1: "", 2: "", 4: "", 10: "", 14: ""},
        ),
        ("ashx5g", "<name|顾客><name>，<points|>分", False, {}, {1: "", 4: "", 10: ""}),
        (  # a default the encoding cannot carry is a misfit where it shows
            "smsadmin",
            "<name|堃>您好<points>",
            True,
            {},
            {0: "", 1: GB2312 + "堃", 4: GB2312 + "堃", 14: "Missing values: points"},
        ),
    ],
)
def test_database_and_python_render_the_same(
    vendor,
    body,
    marketing,
    options,
    expected,
    administrator,
    make_campaign,
    sim_account,
):
    account = make_campaign(sim_account(vendor, options=options), n=1).vendor_account
    in_database, in_python = make(administrator, account, body, marketing=marketing)

    with translation.override("en"):
        result_db = sending.start_campaign(in_database.pk)
        with sql.forcing(sql.GENERIC):
            result_py = sending.start_campaign(in_python.pk)

    errors = {
        phone: wording.shown(error, "en")
        for phone, error in Message.objects.filter(campaign=in_database).values_list(
            "phone", "error"
        )
    }
    assert {i: errors[f"13901{i:06d}"] for i in expected} == expected
    assert (result_db.messages, result_db.skipped) == (result_py.messages, result_py.skipped)
    assert len(result_db.batches) == len(result_py.batches)
    assert messages(in_database) == messages(in_python)
    in_database.refresh_from_db()
    in_python.refresh_from_db()
    for counter in ("total_count", "pending_count", "skipped_count"):
        assert getattr(in_database, counter) == getattr(in_python, counter)


def test_stop_on_missing_values_in_the_database(administrator, make_campaign, sim_account):
    account = make_campaign(sim_account("ashx5g"), n=1).vendor_account
    campaign, _ = make(administrator, account, "<name>您好")
    with pytest.raises(sending.CampaignError, match="13900000001"):
        sending.start_campaign(campaign.pk, exclude_missing=False)
    assert not Message.objects.filter(campaign=campaign).exists()


def listed(administrator, account, rows, body=BODY):
    """Two campaigns (for the two paths) of ``body`` to a list of ``rows`` of values."""
    recipients = RecipientList.objects.create(name="misfits")
    Recipient.objects.bulk_create(
        Recipient(recipient_list=recipients, phone=f"1370000{i:04d}", variables=variables)
        for i, variables in enumerate(rows)
    )
    template = Template.objects.create(name="m", body=body, created_by=administrator)
    return [
        Campaign.objects.create(
            name=f"m{i}",
            template=template,
            vendor_account=account,
            recipient_list=recipients,
            created_by=administrator,
        )
        for i in range(2)
    ]


def refusals(campaigns, **start):
    """The error each path's start refuses with (database first), having written nothing."""
    errors = []
    with translation.override("en"):
        for in_python, campaign in enumerate(campaigns):
            with (
                sql.forcing(sql.GENERIC if in_python else sql.POSTGRESQL),
                pytest.raises(sending.CampaignError) as refused,
            ):
                sending.start_campaign(campaign.pk, **start)
            errors.append(str(refused.value))
    assert not Message.objects.filter(campaign__in=campaigns).exists()
    return errors


def test_both_paths_stop_on_text_the_encoding_cannot_carry(
    administrator, make_campaign, sim_account
):
    account = make_campaign(sim_account("smsadmin"), n=1).vendor_account
    rows = [{"name": "张三", "points": "1"}, {"name": "王堃", "points": "2"}] * 3
    rows.append({"name": "李玥", "points": "赟"})
    campaigns = listed(administrator, account, rows)
    assert (
        refusals(campaigns, exclude_missing=False)
        == [
            "4 recipients have characters the vendor's GB2312 cannot carry "
            "(first: 13700000001: 堃)."
        ]
        * 2
    )


def test_both_paths_stop_on_missing_values_before_misfits(
    administrator, make_campaign, sim_account
):
    account = make_campaign(sim_account("smsadmin"), n=1).vendor_account
    rows = [{"name": "王堃", "points": "2"}, {"name": "张三"}, {"name": "李四"}]
    campaigns = listed(administrator, account, rows)
    assert (
        refusals(campaigns, exclude_missing=False)
        == ["2 recipients lack a value for a placeholder (first: 13700000001 lacks points)."] * 2
    )


def test_a_signature_the_encoding_cannot_carry_leaves_nobody(
    administrator, make_campaign, sim_account
):
    account = make_campaign(sim_account("smsadmin"), n=1).vendor_account
    account.signature = "【堃记】"
    account.save()
    rows = [{"name": "张三", "points": "1"}, {"name": "李玥", "points": "2"}]
    campaigns = listed(administrator, account, rows)
    assert (
        refusals(campaigns, exclude_missing=False)
        == [
            "2 recipients have characters the vendor's GB2312 cannot carry "
            "(first: 13700000000: 堃)."
        ]
        * 2
    )
    assert refusals(campaigns, exclude_missing=True) == ["No recipient is left to send to."] * 2
