"""What an account's request encoding cannot carry is known before sending: the preview counts
and lists those recipients, and the start leaves them out (skipped, with the characters) or
stops, as the marketer chose for missing values.  On PostgreSQL the start decides in SQL
(``sql.campaign_start``), elsewhere in Python; ``test_start_in_database`` holds the two equal."""

import pytest
from django.utils import translation

from messaging.models import Campaign, Message, Suppression
from messaging.services import sending, wording
from messaging.services.compose import preview_campaign, request_encoding
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

# The names: GB2312 (smsadmin) has none of these characters; GBK has them all.
RARE = {2: "王堃", 4: "李婳", 6: "陈昇", 8: "张玥", 10: "刘珺", 12: "赵赟", 14: "周镕"}


def phone(i):
    return f"138{i:08d}"


def with_rare_names(campaign):
    """The campaign's list (recipients 1–20 named 用户N) with the RARE names given."""
    for recipient in campaign.recipient_list.recipients.all():
        index = int(recipient.phone[3:])
        if index in RARE:
            recipient.variables = {**recipient.variables, "name": RARE[index]}
            recipient.save()
    return campaign


def send_all(campaign):
    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)
    campaign.refresh_from_db()


@pytest.mark.parametrize(
    ("vendor", "options", "encoding"),
    [
        ("smsadmin", {}, "gb2312"),
        ("smscn", {}, "gbk"),
        ("smscn", {"encode": "utf8"}, "utf-8"),
        ("smscn", {"encode": "UTF-8"}, "utf-8"),
        ("ashx5g", {}, "utf-8"),
        ("montnets", {}, "utf-8"),
    ],
)
def test_the_accounts_request_encoding(vendor, options, encoding, vendor_account):
    vendor_account.vendor, vendor_account.options = vendor, options
    assert request_encoding(vendor_account) == encoding


def test_preview_counts_and_lists_what_gb2312_cannot_carry(make_campaign, sim_account):
    campaign = with_rare_names(make_campaign(sim_account("smsadmin"), n=20))
    preview = preview_campaign(campaign)
    assert preview.encoding == "GB2312"
    assert preview.unencodable_count == 7
    assert preview.unencodable == [(phone(i), [name[1]]) for i, name in RARE.items()]
    assert preview.recipients == 20 and preview.sendable == 13
    assert not any(sample[0] in map(phone, RARE) for sample in preview.samples)

    # "stop": nobody is left out (the start would refuse instead), the list is the same.
    stop = preview_campaign(campaign, exclude_missing=False)
    assert (stop.sendable, stop.unencodable_count) == (20, 7)


def test_preview_counts_a_recipient_once_under_the_first_reason(make_campaign, sim_account):
    campaign = with_rare_names(make_campaign(sim_account("smsadmin"), n=20))
    Suppression.objects.create(phone=phone(2), reason="manual")  # 王堃 opted out
    lacking = campaign.recipient_list.recipients.get(phone=phone(4))  # 李婳 without points
    lacking.variables = {"name": "李婳"}
    lacking.save()
    preview = preview_campaign(campaign)
    assert (preview.suppressed, preview.missing_count, preview.unencodable_count) == (1, 1, 5)
    assert preview.sendable == 13
    # The whole text counts: signature and body too, each character once, in order.
    campaign.template.body = "<name>您好，积分<points>，昇级！"
    campaign.template.save()
    preview = preview_campaign(campaign)
    assert preview.unencodable_count == 18
    assert preview.unencodable[0] == (phone(1), ["昇"])
    assert (phone(6), ["昇"]) in preview.unencodable
    assert (phone(8), ["玥", "昇"]) in preview.unencodable


def test_other_encodings_and_utf8_accounts(make_campaign, sim_account):
    campaign = with_rare_names(make_campaign(sim_account("smscn"), n=20))
    last = campaign.recipient_list.recipients.get(phone=phone(20))
    last.variables = {"name": "Zoë 😀", "points": "1"}
    last.save()
    preview = preview_campaign(campaign)
    assert (preview.encoding, preview.unencodable) == ("GBK", [(phone(20), ["ë", "😀"])])
    account = campaign.vendor_account
    account.options = {"encode": "utf8"}
    account.save()
    campaign.refresh_from_db()
    preview = preview_campaign(campaign)
    assert (preview.encoding, preview.unencodable_count, preview.sendable) == ("", 0, 20)


def test_start_leaves_them_out_and_sends_the_others_to_the_vendor(sim, make_campaign, sim_account):
    campaign = with_rare_names(make_campaign(sim_account("smsadmin"), n=20))
    with translation.override("en"):
        result = sending.start_campaign(campaign.pk)
    assert (result.messages, result.skipped) == (13, 7)
    skipped = dict(
        Message.objects.filter(campaign=campaign, status=Status.SKIPPED).values_list(
            "phone", "error"
        )
    )
    assert {phone: wording.shown(error, "en") for phone, error in skipped.items()} == {
        phone(i): f"The vendor's GB2312 cannot carry: {name[1]}" for i, name in RARE.items()
    }
    send_all(campaign)
    assert campaign.status == Campaign.State.COMPLETED, campaign.status_reason
    assert campaign.submitted_count == 13 and campaign.skipped_count == 7
    accepted = {row["phone"]: row["content"] for row in sim.accepted(vendor="smsadmin")}
    assert sorted(accepted) == [phone(i) for i in range(1, 21) if i not in RARE]
    assert accepted[phone(1)] == "【测试商城】用户1您好，积分10回T退订"


def test_start_stops_with_the_count_and_the_first_recipient(make_campaign, sim_account):
    campaign = with_rare_names(make_campaign(sim_account("smsadmin"), n=20))
    with translation.override("en"), pytest.raises(sending.CampaignError) as refused:
        sending.start_campaign(campaign.pk, exclude_missing=False)
    assert wording.shown(refused.value.stored, "en") == (
        f"7 recipients have characters the vendor's GB2312 cannot carry (first: {phone(2)}: 堃)."
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    assert not Message.objects.filter(campaign=campaign).exists()


def test_the_campaigns_own_choice_stops_it(make_campaign, sim_account):
    campaign = with_rare_names(make_campaign(sim_account("smsadmin"), n=20))
    Campaign.objects.filter(pk=campaign.pk).update(exclude_missing=False)
    with translation.override("en"), pytest.raises(sending.CampaignError, match="7 recipients"):
        sending.start_campaign(campaign.pk)


def test_missing_values_are_counted_in_full_before_the_start_stops(make_campaign, sim_account):
    campaign = with_rare_names(make_campaign(sim_account("smsadmin"), n=20))
    for recipient in campaign.recipient_list.recipients.filter(phone__in=[phone(5), phone(9)]):
        recipient.variables = {"name": "缺积分"}
        recipient.save()
    with translation.override("en"), pytest.raises(sending.CampaignError) as refused:
        sending.start_campaign(campaign.pk, exclude_missing=False)
    assert wording.shown(refused.value.stored, "en") == (
        f"2 recipients lack a value for a placeholder (first: {phone(5)} lacks points)."
    )
