"""A user who is not a superuser never changes, deletes or sets the password of a superuser, and
grants nobody superuser or staff status or permissions beyond the roles table."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts.roles import ADMINISTRATORS, MARKETERS

pytestmark = pytest.mark.django_db

ROOT_PASSWORD = "Root-Pass-4821"


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser(
        "root", email="root@example.com", password=ROOT_PASSWORD
    )


@pytest.fixture
def superuser_client(root):
    client = Client()
    client.force_login(root)
    return client


def test_password_page_of_a_superuser_is_not_found_for_an_administrator(admin_client, root):
    url = reverse("admin:auth_user_password_change", args=[root.pk])
    assert admin_client.get(url).status_code == 404
    response = admin_client.post(
        url,
        {"password1": "Taken-Over-77", "password2": "Taken-Over-77", "usable_password": "true"},
    )
    assert response.status_code == 404
    root.refresh_from_db()
    assert root.check_password(ROOT_PASSWORD)


def test_administrator_cannot_change_a_superuser(admin_client, root):
    url = reverse("admin:accounts_user_change", args=[root.pk])
    page = admin_client.get(url)
    assert page.status_code == 302  # Django's answer for an object that is not there
    assert page["Location"] == reverse("admin:index")
    response = admin_client.post(
        url, {"username": "root", "email": "evil@example.com", "role": ADMINISTRATORS}
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    root.refresh_from_db()
    assert root.email == "root@example.com" and root.is_superuser and root.is_active


def test_administrator_cannot_delete_a_superuser(admin_client, root):
    delete = reverse("admin:accounts_user_delete", args=[root.pk])
    assert admin_client.post(delete, {"post": "yes"})["Location"] == reverse("admin:index")
    changelist = reverse("admin:accounts_user_changelist")
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [root.pk], "post": "yes"}
    )
    root.refresh_from_db()
    history = reverse("admin:accounts_user_history", args=[root.pk])
    assert admin_client.get(history).status_code == 302


def test_superusers_are_not_listed_for_administrators(admin_client, superuser_client, root):
    changelist = reverse("admin:accounts_user_changelist")
    assert "root@example.com" not in admin_client.get(changelist).content.decode()
    assert "root@example.com" in superuser_client.get(changelist).content.decode()


def test_a_superuser_still_manages_superusers(superuser_client, django_user_model):
    other = django_user_model.objects.create_superuser("root2", password="Root2-Pass-99")
    url = reverse("admin:auth_user_password_change", args=[other.pk])
    response = superuser_client.post(
        url,
        {"password1": "Changed-Pass-55", "password2": "Changed-Pass-55", "usable_password": "true"},
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.check_password("Changed-Pass-55")


def test_administrator_still_manages_other_users(admin_client, marketer):
    url = reverse("admin:auth_user_password_change", args=[marketer.pk])
    response = admin_client.post(
        url,
        {"password1": "Blue-Lantern-31", "password2": "Blue-Lantern-31", "usable_password": "true"},
    )
    assert response.status_code == 302
    marketer.refresh_from_db()
    assert marketer.check_password("Blue-Lantern-31")


def change_form_data(client, user):
    form = (
        client.get(reverse("admin:accounts_user_change", args=[user.pk])).context["adminform"].form
    )
    return {k: v for k, v in form.initial.items() if v is not None and k != "password"}


def test_no_superuser_staff_or_permission_grant_through_the_form(admin_client, marketer):
    every_permission = list(Permission.objects.values_list("pk", flat=True))
    data = change_form_data(admin_client, marketer)
    data.update(
        role=MARKETERS,
        is_superuser="on",
        user_permissions=every_permission,
        groups=list(Group.objects.values_list("pk", flat=True)),
        last_login_0="",
        last_login_1="",
        date_joined_0="2024-01-01",
        date_joined_1="00:00:00",
    )
    response = admin_client.post(reverse("admin:accounts_user_change", args=[marketer.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    marketer.refresh_from_db()
    assert not marketer.is_superuser
    assert not marketer.user_permissions.exists()
    assert set(marketer.groups.values_list("name", flat=True)) == {MARKETERS}
    assert not marketer.has_perm("django_q.add_schedule")


def test_no_superuser_created_through_the_add_form(admin_client, django_user_model):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "sneaky",
            "role": ADMINISTRATORS,
            "password1": "Correct-Horse-9",
            "password2": "Correct-Horse-9",
            "usable_password": "true",
            "is_superuser": "on",
            "user_permissions": list(Permission.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 302
    user = django_user_model.objects.get(username="sneaky")
    assert not user.is_superuser and not user.user_permissions.exists()
    assert set(user.groups.values_list("name", flat=True)) == {ADMINISTRATORS}


def test_administrator_cannot_edit_role_permissions(admin_client):
    group = Group.objects.get(name=MARKETERS)
    url = reverse("admin:auth_group_change", args=[group.pk])
    assert admin_client.get(url).status_code == 200  # view only
    response = admin_client.post(
        url,
        {"name": MARKETERS, "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 403
    assert not group.permissions.filter(codename="add_schedule").exists()
    assert admin_client.get(reverse("admin:auth_group_add")).status_code == 403
