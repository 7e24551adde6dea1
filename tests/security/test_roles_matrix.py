"""Each role on each path — the portal's pages, the admin's pages, the actions that change
something — gets what ``accounts.roles`` says and nothing more; and no page shows a button
its user would be refused.

marketer: composes, submits, sends what needs no approval (or is approved);
approver: approves or rejects (not their own), sends, pauses, cancels; composes nothing;
administrator: vendor accounts, users, settings, the audit trail (and campaigns, as before);
analyst: reads everything a marketer reads, changes nothing."""

import pytest
from django.urls import reverse

from messaging.models import Campaign, PortalSettings, Suppression

pytestmark = pytest.mark.django_db

ROLES = ("marketer", "approver", "administrator", "analyst")
ALL = set(ROLES)
OK = (200,)


@pytest.fixture
def clients(request):
    return {
        "marketer": request.getfixturevalue("marketer_client"),
        "approver": request.getfixturevalue("approver_client"),
        "administrator": request.getfixturevalue("admin_client"),
        "analyst": request.getfixturevalue("analyst_client"),
    }


@pytest.fixture
def campaign(make_campaign, vendor_account, marketer):
    return make_campaign(vendor_account, n=3, created_by=marketer)


def pages(campaign):
    """Path → the roles that get it (200); the others are refused (403)."""
    pk = campaign.pk
    return {
        "/portal/": ALL,
        "/portal/campaigns/": ALL,
        f"/portal/campaigns/{pk}/": ALL,
        "/portal/compose/": {"marketer", "administrator"},
        f"/portal/campaigns/{pk}/edit/": {"marketer", "administrator"},
        f"/portal/campaigns/{pk}/confirm/": {"marketer", "approver", "administrator"},
        "/portal/approvals/": ALL,
        f"/portal/approvals/{pk}/": ALL,
        "/portal/lists/": ALL,
        f"/portal/lists/{campaign.recipient_list_id}/": ALL,
        "/portal/inbox/": ALL,
        "/admin/messaging/campaign/": ALL,
        f"/admin/messaging/campaign/{pk}/change/": ALL,
        "/admin/messaging/campaign/add/": {"marketer", "administrator"},
        f"/admin/messaging/campaign/{pk}/send/": {"marketer", "approver", "administrator"},
        "/admin/messaging/message/": ALL,
        "/admin/messaging/vendoraccount/": ALL,
        "/admin/messaging/vendoraccount/add/": {"administrator"},
        "/admin/messaging/suppression/add/": {"marketer", "administrator"},
        "/admin/accounts/user/": {"administrator"},
        "/admin/accounts/auditevent/": {"administrator"},
        "/admin/accounts/auditevent/export.csv": {"administrator"},
        f"/admin/messaging/portalsettings/{PortalSettings.load().pk}/change/": {"administrator"},
    }


@pytest.mark.parametrize("role", ROLES)
def test_pages(role, clients, campaign):
    client = clients[role]
    wrong = []
    for path, allowed in pages(campaign).items():
        status = client.get(path).status_code
        expected = 200 if role in allowed else 403
        if status != expected:
            wrong.append((path, status, expected))
    assert not wrong, wrong


def post_compose(client, campaign):
    return client.post(
        reverse("portal:compose"),
        {
            "name": "new one",
            "kind": "sms",
            "body": "周末大促",
            "recipient_list": campaign.recipient_list_id,
            "vendor_account": campaign.vendor_account_id,
        },
    )


ACTIONS = {
    # name: (roles allowed, the request, did it happen?)
    "compose": (
        {"marketer", "administrator"},
        post_compose,
        lambda c: Campaign.objects.filter(name="new one").exists(),
    ),
    "submit": (
        {"marketer", "administrator"},
        lambda client, c: client.post(reverse("portal:submit", args=[c.pk])),
        lambda c: Campaign.objects.get(pk=c.pk).approval_status == "pending",
    ),
    "cancel (portal)": (
        {"marketer", "approver", "administrator"},
        lambda client, c: client.post(reverse("portal:cancel", args=[c.pk])),
        lambda c: Campaign.objects.get(pk=c.pk).status == "cancelled",
    ),
    "cancel (admin)": (
        {"marketer", "approver", "administrator"},
        lambda client, c: client.post(reverse("admin:messaging_campaign_cancel", args=[c.pk])),
        lambda c: Campaign.objects.get(pk=c.pk).status == "cancelled",
    ),
    "edit (admin)": (
        {"marketer", "administrator"},
        lambda client, c: client.post(
            reverse("admin:messaging_campaign_change", args=[c.pk]),
            {
                "name": "renamed",
                "template": c.template_id,
                "vendor_account": c.vendor_account_id,
                "recipient_list": c.recipient_list_id,
                "scheduled_at_0": "",
                "scheduled_at_1": "",
            },
        ),
        lambda c: Campaign.objects.get(pk=c.pk).name == "renamed",
    ),
    "suppress (admin)": (
        {"marketer", "administrator"},
        lambda client, c: client.post(
            reverse("admin:messaging_suppression_add"),
            {"phone": "13900000009", "reason": "manual", "evidence": "电话投诉"},
        ),
        lambda c: Suppression.objects.filter(phone="13900000009").exists(),
    ),
    "settings (admin)": (
        {"administrator"},
        lambda client, c: client.post(
            reverse("admin:messaging_portalsettings_change", args=[PortalSettings.load().pk]),
            {**settings_form(), "approval_required": "on"},
        ),
        lambda c: PortalSettings.load().approval_required,
    ),
}


def settings_form() -> dict:
    s = PortalSettings.load()
    return {
        "send_window_start": "08:00",
        "send_window_end": "21:00",
        "cap_per_day": s.cap_per_day,
        "cap_per_week": s.cap_per_week,
        "approval_min_recipients": 0,
        "approval_min_cost": "",
        "resubscribe_keywords": s.resubscribe_keywords,
        "opt_out_confirmation_text": s.opt_out_confirmation_text,
        "alert_emails": "",
        "alert_webhook_url": "",
        "low_balance_threshold": "1000",
        "balance_refresh_minutes": 30,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_actions(role, action, clients, campaign):
    allowed, act, happened = ACTIONS[action]
    response = act(clients[role], campaign)
    if role in allowed:
        assert response.status_code == 302, (response.status_code, action)
        assert happened(campaign), action
    else:
        assert response.status_code == 403, (response.status_code, action)
        assert not happened(campaign), action


@pytest.mark.parametrize("role", ROLES)
def test_approve(role, clients, campaign, marketer):
    from messaging.services import campaign_commands

    campaign_commands.submit(campaign, user=marketer)
    response = clients[role].post(
        reverse("portal:approval_decide", args=[campaign.pk]), {"decision": "approve"}
    )
    campaign.refresh_from_db()
    if role == "approver":
        assert response.status_code == 302 and campaign.approval_status == "approved"
    else:
        assert response.status_code == 403 and campaign.approval_status == "pending"


def test_a_superuser_may_do_everything_but_approve_their_own(
    django_user_model, make_campaign, vendor_account, marketer
):
    from django.test import Client

    root = django_user_model.objects.create_superuser("root", password="pw-root")
    client = Client()
    client.force_login(root)
    mine = make_campaign(vendor_account, n=1, created_by=root, name="mine")
    theirs = make_campaign(vendor_account, n=1, created_by=marketer, name="theirs")
    for c in (mine, theirs):
        assert client.post(reverse("portal:submit", args=[c.pk])).status_code == 302
        client.post(reverse("portal:approval_decide", args=[c.pk]), {"decision": "approve"})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.approval_status, theirs.approval_status) == ("pending", "approved")


def test_no_button_is_refused(clients, campaign, marketer):
    """The campaign page shows each role only what it may press."""
    from messaging.services import campaign_commands

    campaign_commands.submit(campaign, user=marketer)
    url = reverse("portal:campaign", args=[campaign.pk])
    seen = {role: clients[role].get(url).content.decode() for role in ROLES}
    edit = reverse("portal:compose_edit", args=[campaign.pk])
    send = reverse("portal:confirm", args=[campaign.pk])
    cancel = reverse("portal:cancel", args=[campaign.pk])
    compose = reverse("portal:compose")
    for role, html in seen.items():
        assert (edit in html) == (role in {"marketer", "administrator"}), role
        assert (compose in html) == (role in {"marketer", "administrator"}), role
        assert (send in html) == (role != "analyst"), role
        assert (cancel in html) == (role != "analyst"), role
    review = clients["analyst"].get(reverse("portal:approval_review", args=[campaign.pk]))
    assert 'id="approve-button"' not in review.content.decode()
    admin_page = clients["analyst"].get(
        reverse("admin:messaging_campaign_change", args=[campaign.pk])
    )
    assert "test-form" not in admin_page.content.decode()
    assert "cancel-form" not in admin_page.content.decode()
