"""Who may open the portal's pages, and what a marketer never sees."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from messaging.models import DeliveryReport, InboundMessage
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

PAGES = [
    ("portal:dashboard", []),
    ("portal:campaigns", []),
    ("portal:compose", []),
    ("portal:lists", []),
    ("portal:inbox", []),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_pages_ask_anonymous_visitors_to_log_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_users_without_a_role_are_refused(name, args):
    user = get_user_model().objects.create_user("nobody", password="pw-nobody-123")
    client = Client()
    client.force_login(user)
    assert client.get(reverse(name, args=args)).status_code == 403


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_marketers_and_administrators_use_the_portal(marketer_client, admin_client, name, args):
    assert marketer_client.get(reverse(name, args=args)).status_code == 200
    assert admin_client.get(reverse(name, args=args)).status_code == 200


def test_object_pages_and_endpoints_need_login(client, draft):
    campaign = draft()
    for name in ("portal:campaign", "portal:campaign_stats", "portal:confirm", "portal:list"):
        pk = campaign.recipient_list_id if name == "portal:list" else campaign.pk
        response = client.get(reverse(name, args=[pk]))
        assert response.status_code == 302, name
    for name in ("portal:pause", "portal:resume", "portal:cancel", "portal:test_send"):
        assert client.post(reverse(name, args=[campaign.pk])).status_code == 302, name
    assert client.post(reverse("portal:compose_preview")).status_code == 302


def test_marketer_without_campaign_editing_can_only_look(marketer, draft):
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import MARKETERS

    campaign = draft()
    Group.objects.get(name=MARKETERS).permissions.remove(
        *Permission.objects.filter(codename__in=["add_campaign", "change_campaign"])
    )
    client = Client()
    client.force_login(marketer)
    assert client.get(reverse("portal:campaign", args=[campaign.pk])).status_code == 200
    assert client.get(reverse("portal:compose")).status_code == 403
    # Sending (the confirm page) and pausing are the role's capabilities
    # (``accounts.roles.can``, tests/security/test_roles_matrix.py); editing is the model
    # permission removed here.
    assert client.post(reverse("portal:compose_preview")).status_code == 403


def test_home_sends_marketers_to_the_portal_and_administrators_to_the_admin(
    marketer_client, admin_client, client
):
    assert marketer_client.get("/")["Location"] == reverse("portal:dashboard")
    assert admin_client.get("/")["Location"] == reverse("admin:index")
    assert client.get("/")["Location"] == reverse("portal:dashboard")


def test_login_page_and_logout_by_post(marketer):
    client = Client()
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()
    response = client.post(
        reverse("login"), {"username": marketer.username, "password": "pw-" + marketer.username}
    )
    assert response.status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 302


def test_pages_show_no_vendor_credentials(marketer_client, draft, recipient_list):
    campaign = draft()
    account = campaign.vendor_account
    urls = [
        reverse("portal:dashboard"),
        reverse("portal:compose"),
        reverse("portal:compose_edit", args=[campaign.pk]),
        reverse("portal:confirm", args=[campaign.pk]),
        reverse("portal:campaign", args=[campaign.pk]),
        reverse("portal:campaign_stats", args=[campaign.pk]),
        reverse("portal:inbox"),
    ]
    for url in urls:
        page = marketer_client.get(url).content.decode()
        for secret in (account.secret, account.base_url, account.push_token, SECRET):
            assert secret not in page, url
        assert f">{account.account_id}<" not in page


def test_dashboard_warns_of_low_balance_and_counts_replies_and_unmatched_reports(
    english_client, draft
):
    campaign = draft()
    account = campaign.vendor_account
    account.balance, account.balance_unit, account.low_balance_threshold = 50, "messages", 100
    account.save()
    InboundMessage.objects.create(
        vendor_account=account,
        phone="13800000001",
        content="好的",
        received_at="2025-01-01T10:00:00+08:00",
        raw="",
    )
    DeliveryReport.objects.create(
        vendor_account=account, source="push", status="delivered", raw="x", vendor_message_id="9"
    )
    page = english_client.get(reverse("portal:dashboard"))
    html = page.content.decode()
    assert "Low balance" in html and "data-low-balance" in html
    assert page.context["unread_count"] == 1
    assert page.context["unmatched_count"] == 1
    assert "Unmatched delivery reports" in html
    assert campaign.name in html
    account.balance = 500
    account.save()
    assert (
        "data-low-balance" not in english_client.get(reverse("portal:dashboard")).content.decode()
    )


def test_chinese_by_default_english_with_the_switch(marketer_client):
    html = marketer_client.get(reverse("portal:dashboard")).content.decode()
    assert 'lang="zh-hans"' in html
    assert 'name="language"' in html
    marketer_client.post(
        reverse("set_language"), {"language": "en", "next": reverse("portal:dashboard")}
    )
    html = marketer_client.get(reverse("portal:dashboard")).content.decode()
    assert 'lang="en"' in html and "Dashboard" in html


def test_static_assets_are_local(marketer_client, draft):
    campaign = draft()
    for url in (reverse("portal:dashboard"), reverse("portal:campaign", args=[campaign.pk])):
        html = marketer_client.get(url).content.decode()
        assert "https://" not in html.replace("https://www.w3.org", "")
        assert "//cdn" not in html
    html = marketer_client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert "/static/vendor/chartjs-4.6.1/chart.umd.min.js" in html
    assert "/static/vendor/htmx-2.0.11/htmx.min.js" in html


def test_marketer_refreshes_a_balance_from_the_vendor(english_client, sim_account):
    account = sim_account("smsadmin")
    response = english_client.post(
        reverse("portal:refresh_balance", args=[account.pk]), follow=True
    )
    assert any("updated" in str(m) for m in response.context["messages"])
    account.refresh_from_db()
    assert account.balance is not None and account.balance_unit == "messages"
    assert (
        english_client.get(reverse("portal:refresh_balance", args=[account.pk])).status_code == 405
    )
