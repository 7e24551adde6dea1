"""A balance known not to cover a send is a blocking warning: the portal's confirmation and the
admin's send page start the campaign only once the marketer ticks the box that says so.  The
balance is compared in its own unit: billed parts for vendors counting messages, the estimated
cost for vendors counting yuan.  The price per part is shown beside the balance."""

from decimal import Decimal

import pytest
from django.urls import reverse

from messaging.models import Campaign, VendorAccount
from messaging.services import compliance
from messaging.services.content_checks import balance_covers

pytestmark = pytest.mark.django_db


def set_balance(account: VendorAccount, amount, unit: str, price="0.05") -> None:
    VendorAccount.objects.filter(pk=account.pk).update(
        balance=Decimal(amount), balance_unit=unit, price_per_part=Decimal(price)
    )


@pytest.mark.parametrize(
    ("balance", "unit", "segments", "price", "covers"),
    [
        ("10", "messages", 10, "0.05", True),
        ("9", "messages", 10, "0.05", False),
        ("9", "条", 10, "0.05", False),
        # Yuan: 10 parts at ¥0.05 cost ¥0.50.
        ("0.50", "yuan", 10, "0.05", True),
        ("0.49", "yuan", 10, "0.05", False),
        ("0.49", "元", 10, "0.05", False),
        ("9", "yuan", 10, "0.05", True),  # 9 yuan is plenty, though fewer than 10 "units"
        ("1000", "points", 10, "0.05", None),
    ],
)
def test_the_balance_is_compared_in_its_own_unit(balance, unit, segments, price, covers):
    assert balance_covers(Decimal(balance), unit, segments, Decimal(price)) is covers


def test_an_unknown_balance_gives_no_verdict():
    assert balance_covers(None, "messages", 10, Decimal("0.05")) is None


def test_confirm_page_shows_the_price_beside_the_balance_and_no_warning_when_covered(
    english_client, draft
):
    campaign = draft()
    set_balance(campaign.vendor_account, 1000, "messages", price="0.045")
    html = english_client.get(reverse("portal:confirm", args=[campaign.pk])).content.decode()
    assert "0.0450 yuan per part" in html
    assert "data-balance-short" not in html and 'name="balance_ok"' not in html


@pytest.mark.parametrize(("amount", "unit"), [(3, "messages"), ("0.19", "yuan")])
def test_portal_confirm_needs_the_box_ticked_when_the_balance_falls_short(
    english_client, draft, sync_tasks, django_capture_on_commit_callbacks, amount, unit
):
    campaign = draft("actiongw")  # 4 messages of one part at ¥0.05: ¥0.20
    set_balance(campaign.vendor_account, amount, unit)
    url = reverse("portal:confirm", args=[campaign.pk])
    html = english_client.get(url).content.decode()
    assert "data-balance-short" in html and 'name="balance_ok"' in html
    assert "The balance does not cover this send." in html

    page = english_client.post(url, {"confirm": "1"})
    assert page.status_code == 200
    assert "does not cover this send" in page.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT

    with django_capture_on_commit_callbacks(execute=True):
        response = english_client.post(url, {"confirm": "1", "balance_ok": "1"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status != Campaign.State.DRAFT


def test_admin_send_page_needs_the_box_ticked_when_the_balance_falls_short(
    marketer_client, make_campaign, sim_account, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = make_campaign(sim_account("actiongw"), n=4)
    set_balance(campaign.vendor_account, 2, "messages", price="0.06")
    url = reverse("admin:messaging_campaign_send", args=[campaign.pk])
    html = marketer_client.get(url).content.decode()
    assert "data-balance-short" in html and 'name="balance_ok"' in html
    assert "data-price-per-part>0.0600<" in html

    page = marketer_client.post(url, {"confirm": "1"})
    assert page.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT

    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(url, {"confirm": "1", "balance_ok": "1"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status != Campaign.State.DRAFT


def test_the_rule_is_the_confirmation_services_for_every_path(
    make_campaign, sim_account, marketer, django_capture_on_commit_callbacks
):
    """``compliance.confirm_send`` holds the rule: a caller that forgets the box cannot start
    a send the balance does not cover."""
    campaign = make_campaign(sim_account("actiongw"), n=4, created_by=marketer)
    set_balance(campaign.vendor_account, 3, "messages")
    campaign = Campaign.objects.select_related("vendor_account").get(pk=campaign.pk)
    with pytest.raises(compliance.BalanceShort):
        compliance.confirm_send(campaign, user=marketer, exclude_missing=True)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    with django_capture_on_commit_callbacks(execute=False):
        outcome, _verdict = compliance.confirm_send(
            campaign, user=marketer, exclude_missing=True, balance_acknowledged=True
        )
    assert outcome == "starting"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING


def test_admin_send_asks_again_when_the_whole_list_falls_short_of_what_the_page_counted(
    marketer_client, make_campaign, sim_account, monkeypatch
):
    """The admin's page counts the first recipients only; the confirmation counts them all,
    and when they fall short the page comes back with the box to tick."""
    from messaging.services import send_count

    monkeypatch.setattr(send_count, "INLINE_ROWS", 2)
    campaign = make_campaign(sim_account("actiongw"), n=4)
    set_balance(campaign.vendor_account, 3, "messages")
    url = reverse("admin:messaging_campaign_send", args=[campaign.pk])
    assert 'name="balance_ok"' not in marketer_client.get(url).content.decode()
    page = marketer_client.post(url, {"confirm": "1"})
    assert page.status_code == 200 and 'name="balance_ok"' in page.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT


def test_admin_send_reads_the_whole_list_count_the_page_made_instead_of_counting_again(
    marketer_client, make_campaign, sim_account, monkeypatch
):
    from messaging.services import compliance as rules
    from messaging.services import send_count

    monkeypatch.setattr(send_count, "INLINE_ROWS", 2)
    campaign = make_campaign(sim_account("actiongw"), n=4)
    set_balance(campaign.vendor_account, 3, "messages")
    url = reverse("admin:messaging_campaign_send", args=[campaign.pk])
    marketer_client.get(url)
    send_count.run(send_count.latest(campaign).pk)

    real = rules.counted_preview

    def first_recipients_only(campaign, exclude_missing, now, limit=None, progress=None):
        assert limit is not None, "the whole list was counted again"
        return real(campaign, exclude_missing, now, limit, progress)

    monkeypatch.setattr(rules, "counted_preview", first_recipients_only)
    page = marketer_client.post(url, {"confirm": "1"})
    assert page.status_code == 200 and 'name="balance_ok"' in page.content.decode()


def test_admin_send_with_a_covering_balance_needs_no_box(
    marketer_client, make_campaign, sim_account, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = make_campaign(sim_account("actiongw"), n=2)
    set_balance(campaign.vendor_account, 100, "messages")
    url = reverse("admin:messaging_campaign_send", args=[campaign.pk])
    assert 'name="balance_ok"' not in marketer_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert marketer_client.post(url, {"confirm": "1"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status != Campaign.State.DRAFT


def test_composer_preview_shows_the_balance_and_warns_when_it_falls_short(english_client, draft):
    campaign = draft()
    set_balance(campaign.vendor_account, 2, "messages")
    data = {
        "recipient_list": campaign.recipient_list.pk,
        "vendor_account": campaign.vendor_account.pk,
        "kind": "sms",
        "body": "<name>您好",
        "is_marketing": "on",
    }
    html = english_client.post(reverse("portal:compose_preview"), data).content.decode()
    assert 'data-figure="balance"' in html and "data-balance-short" in html
    set_balance(campaign.vendor_account, 100, "messages")
    html = english_client.post(reverse("portal:compose_preview"), data).content.decode()
    assert 'data-figure="balance"' in html and "data-balance-short" not in html
