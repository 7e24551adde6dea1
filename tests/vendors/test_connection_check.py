"""The admin action that tests a vendor account's connection and refreshes its balance."""

import pytest
from django.urls import reverse

from messaging.models import VendorAccount
from messaging.vendors.registry import VENDOR_KEYS, vendor

pytestmark = pytest.mark.django_db

ACCOUNT_IDS = {"montnets": "E10ABC", "smscn": "demo"}


def make_account(sim, key, secret="sim-secret-1"):
    account_id = ACCOUNT_IDS.get(key, "960001")
    sim.add_account(vendor=key, account_id=account_id, secret="sim-secret-1", balance=12345)
    return VendorAccount.objects.create(
        vendor=key,
        name=f"{key} account",
        base_url=sim.url(key),
        account_id=account_id,
        secret=secret,
        signature="【测试商城】",
    )


def run_action(admin_client, account):
    return admin_client.post(
        reverse("admin:messaging_vendoraccount_changelist"),
        {"action": "test_connection", "_selected_action": [account.pk]},
        follow=True,
    )


@pytest.mark.parametrize("key", [k for k in VENDOR_KEYS if vendor(k).capabilities.balance_query])
def test_connection_check_refreshes_the_balance(key, sim, admin_client):
    account = make_account(sim, key)
    page = run_action(admin_client, account).content.decode()
    account.refresh_from_db()
    assert account.balance is not None and account.balance_checked_at is not None
    assert account.last_error == ""
    assert account.name in page


@pytest.mark.parametrize("key", [k for k in VENDOR_KEYS if vendor(k).capabilities.balance_query])
def test_connection_check_shows_the_vendors_error_in_words(key, sim, admin_client):
    account = make_account(sim, key, secret="wrong-password")
    response = run_action(admin_client, account)
    account.refresh_from_db()
    assert account.balance is None
    assert account.last_error
    messages = [str(m) for m in response.context["messages"]]
    assert any(account.name in m and m != account.name for m in messages)


def test_vendor_without_balance_query_says_so(sim, admin_client):
    account = make_account(sim, "montnets")
    response = run_action(admin_client, account)
    messages = " ".join(str(m) for m in response.context["messages"])
    assert "balance" in messages.lower() or "余额" in messages


def test_unreachable_vendor_is_reported(admin_client):
    account = VendorAccount.objects.create(
        vendor="ashx5g",
        name="down",
        base_url="http://127.0.0.1:9/ashx5g",
        account_id="1",
        secret="x",
    )
    run_action(admin_client, account)
    account.refresh_from_db()
    assert "127.0.0.1:9" in account.last_error
