import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import ADMINISTRATORS, MARKETERS, ROLE_PERMISSIONS
from messaging.models import VendorAccount
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

CREDENTIALS = (SECRET, "960001")  # the secret and the account id


def assert_no_credentials(response, account):
    page = response.content.decode()
    for value in (*CREDENTIALS, account.push_token):
        assert value not in page


def test_groups_and_permissions_come_from_the_migration():
    for role, table in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        codenames = set(group.permissions.values_list("codename", flat=True))
        expected = {
            f"{action}_{label.split('.')[1]}"
            for label, actions in table.items()
            for action in actions
        }
        assert codenames == expected


def test_marketer_cannot_change_vendor_accounts(marketer):
    assert marketer.has_perm("messaging.view_vendoraccount")
    for action in ("add", "change", "delete"):
        assert not marketer.has_perm(f"messaging.{action}_vendoraccount")
    assert marketer.has_perm("messaging.add_campaign")
    assert not marketer.has_perm("accounts.change_user")


def test_marketer_sees_no_credential_in_changelist(marketer_client, vendor_account):
    response = marketer_client.get(reverse("admin:messaging_vendoraccount_changelist"))
    assert response.status_code == 200
    assert vendor_account.name in response.content.decode()
    assert_no_credentials(response, vendor_account)


def test_marketer_sees_no_credential_on_change_page(marketer_client, vendor_account):
    url = reverse("admin:messaging_vendoraccount_change", args=[vendor_account.pk])
    response = marketer_client.get(url)
    assert response.status_code == 200
    assert_no_credentials(response, vendor_account)
    assert 'name="secret"' not in response.content.decode()


def test_marketer_cannot_post_changes(marketer_client, vendor_account):
    url = reverse("admin:messaging_vendoraccount_change", args=[vendor_account.pk])
    response = marketer_client.post(url, {"name": "hijack", "secret": "x"})
    assert response.status_code == 403
    vendor_account.refresh_from_db()
    assert vendor_account.name == "Main ashx5g" and vendor_account.secret == SECRET
    assert marketer_client.get(reverse("admin:messaging_vendoraccount_add")).status_code == 403


def test_history_shows_no_credential(admin_client, marketer_client, vendor_account):
    # An administrator changes the secret; the history must not record it.
    url = reverse("admin:messaging_vendoraccount_change", args=[vendor_account.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(secret="n3w-Secret-Value", options="{}", vendor="ashx5g")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    history = reverse("admin:messaging_vendoraccount_history", args=[vendor_account.pk])
    for client in (marketer_client,):
        page = client.get(history)
        assert page.status_code == 200
        assert "n3w-Secret-Value" not in page.content.decode()
        assert_no_credentials(page, vendor_account)


def test_secret_is_write_only_even_for_administrators(admin_client, vendor_account):
    url = reverse("admin:messaging_vendoraccount_change", args=[vendor_account.pk])
    response = admin_client.get(url)
    page = response.content.decode()
    assert 'name="secret"' in page
    assert SECRET not in page
    assert vendor_account.push_url in page  # the administrator gives it to the vendor


def test_empty_secret_on_change_keeps_the_current_one(admin_client, vendor_account):
    url = reverse("admin:messaging_vendoraccount_change", args=[vendor_account.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(secret="", options="{}", name="Renamed")
    assert admin_client.post(url, data).status_code == 302
    vendor_account.refresh_from_db()
    assert vendor_account.name == "Renamed" and vendor_account.secret == SECRET


def test_no_export_of_vendor_accounts(marketer_client, admin_client, vendor_account):
    for client in (marketer_client, admin_client):
        response = client.get("/admin/messaging/vendoraccount/export/")
        assert response.status_code in (302, 404)
        assert SECRET not in response.content.decode()


def test_marketer_cannot_see_raw_pushes_or_users(marketer_client):
    assert marketer_client.get(reverse("admin:messaging_pushrecord_changelist")).status_code == 403
    assert marketer_client.get(reverse("admin:accounts_user_changelist")).status_code == 403


def test_administrator_creates_a_marketer(admin_client, django_user_model):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newbie",
            "email": "n@example.com",
            "role": MARKETERS,
            "password1": "Correct-Horse-9",
            "password2": "Correct-Horse-9",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = django_user_model.objects.get(username="newbie")
    assert user.is_staff and user.is_marketer and not user.is_administrator
    assert ADMINISTRATORS not in set(user.groups.values_list("name", flat=True))


def test_admin_pages_load_for_both_roles(admin_client, marketer_client, vendor_account):
    models = [
        "vendoraccount",
        "template",
        "recipientlist",
        "recipient",
        "suppression",
        "campaign",
        "message",
        "deliveryreport",
        "inboundmessage",
        "templateregistration",
    ]
    for model in models:
        url = reverse(f"admin:messaging_{model}_changelist")
        assert admin_client.get(url).status_code == 200, model
        assert marketer_client.get(url).status_code == 200, model
    assert admin_client.get(reverse("admin:task_cluster")).status_code == 200
    assert marketer_client.get(reverse("admin:task_cluster")).status_code == 403


def test_vendor_account_default_push_settings(vendor_account):
    other = VendorAccount.objects.create(
        vendor="smscn", name="b", base_url="http://x", account_id="u", secret="p"
    )
    assert len(vendor_account.push_token) >= 40
    assert vendor_account.push_token != other.push_token
    assert f"/{vendor_account.pk}/{vendor_account.push_token}/" in vendor_account.push_url


def test_administrators_see_task_history_and_lockouts_marketers_neither(
    admin_client, marketer_client
):
    pages = [
        "admin:django_q_schedule_changelist",
        "admin:django_q_success_changelist",
        "admin:django_q_failure_changelist",
        "admin:axes_accessattempt_changelist",
    ]
    for name in pages:
        assert admin_client.get(reverse(name)).status_code == 200, name
        assert marketer_client.get(reverse(name)).status_code == 403, name
    assert admin_client.get(reverse("admin:django_q_schedule_add")).status_code == 403
