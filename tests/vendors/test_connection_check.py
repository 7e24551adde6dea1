"""The admin action that tests a vendor account's connection and refreshes its balance."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import DeliveryReport, Message, VendorAccount
from messaging.services import polling
from messaging.services.vendor_accounts import refresh_balance
from messaging.statuses import FINAL_STATUSES, Status
from messaging.vendors.base import OutgoingMessage, RateLimited
from messaging.vendors.montnets.client import MontnetsClient
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


@pytest.fixture
def sim_poll_account(sim):
    def make(key):
        account = make_account(sim, key)
        VendorAccount.objects.filter(pk=account.pk).update(polling_enabled=True)
        account.refresh_from_db()
        return account

    return make


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


# ------------------------------------------------ vendors without a balance query: a probe

NO_BALANCE_QUERY = [k for k in VENDOR_KEYS if not vendor(k).capabilities.balance_query]


def sent_message(account, phone="13800000001") -> Message:
    """A message the vendor took, its report about to be handed out by the next poll."""
    result = account.client().send_single(OutgoingMessage("c-probe", phone, "hi"))
    return Message.objects.create(
        vendor_account=account,
        phone=phone,
        content="hi",
        custom_id="c-probe",
        vendor_message_id=result.vendor_message_id,
        status=Status.SUBMITTED,
    )


@pytest.mark.parametrize("key", NO_BALANCE_QUERY)
def test_connection_check_probes_without_sending_and_applies_what_it_fetched(
    key, sim, admin_client
):
    account = make_account(sim, key)
    message = sent_message(account)
    sim.state.tick()
    accepted = len(sim.accepted(vendor=key))
    response = run_action(admin_client, account)
    assert len(sim.accepted(vendor=key)) == accepted  # nothing sent
    account.refresh_from_db()
    assert account.last_error == "" and account.reports_polled_at is not None
    messages = [str(m) for m in response.context["messages"]]
    assert any(account.name in m and ("connected" in m or "连接成功" in m) for m in messages)
    # The report the probe was handed is not lost: it is applied like a poll's.
    message.refresh_from_db()
    assert message.status in FINAL_STATUSES
    assert DeliveryReport.objects.filter(message=message, source="poll").count() == 1


@pytest.mark.parametrize("key", NO_BALANCE_QUERY)
def test_connection_probe_shows_the_vendors_error_in_words(key, sim, admin_client):
    account = make_account(sim, key, secret="wrong-password")
    response = run_action(admin_client, account)
    account.refresh_from_db()
    assert "-100001" in account.last_error and "鉴权" in account.last_error
    messages = [str(m) for m in response.context["messages"]]
    assert any(account.name in m and "-100001" in m for m in messages)


@pytest.mark.parametrize("key", NO_BALANCE_QUERY)
def test_connection_probe_respects_the_poll_interval(key, sim):
    account = make_account(sim, key)
    gap = vendor(key).capabilities.min_poll_interval_s
    first = refresh_balance(account)
    assert first.ok and first.reports == 0
    # The vendor refuses a poll within its interval after an empty one...
    with pytest.raises(RateLimited):
        account.client().poll_reports()
    # ...so a probe then waits for the rest of the interval rather than asking too soon.
    account.refresh_from_db()
    waits = []
    second = refresh_balance(account, sleep=lambda s: waits.append(s) or time.sleep(s))
    assert second.ok, second.error
    assert len(waits) == 1 and 0 < waits[0] <= gap + 0.1
    # A poll in flight (claimed by the poller) is never doubled: the check says so at once.
    VendorAccount.objects.filter(pk=account.pk).update(
        reports_polled_at=timezone.now() + timedelta(seconds=60)
    )
    busy = refresh_balance(account, sleep=lambda s: pytest.fail("must not wait"))
    assert not busy.ok and busy.error.kind == "transient"


@pytest.mark.parametrize("key", NO_BALANCE_QUERY)
def test_connection_probe_counts_as_a_poll(key, sim, sim_poll_account):
    account = sim_poll_account(key)
    assert refresh_balance(account).ok
    account.refresh_from_db()
    # The poller waits its interval after the probe's call, as after its own.
    outcome = polling.poll_once(account, polling.REPORTS)
    assert not outcome.claimed


def test_vendor_without_balance_query_nor_probe_says_so(sim, monkeypatch):
    account = make_account(sim, "montnets")
    monkeypatch.delattr(MontnetsClient, "probe")
    check = refresh_balance(account)
    assert not check.ok and ("balance" in str(check.error) or "余额" in str(check.error))


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
