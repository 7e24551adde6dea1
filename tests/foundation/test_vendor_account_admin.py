"""The vendor account admin: the report window, accounts whose reports arrive only by polling,
vendors that do not push a report again, and the connection test of a vendor without a
balance query."""

import pytest
from django.test import Client
from django.urls import reverse

from messaging.models import Message, VendorAccount
from messaging.services.vendor_accounts import (
    ConnectionCheck,
    probe_summary,
    pushes_reports,
    refresh_balance,
)
from messaging.statuses import Status
from messaging.vendors.base import OutgoingMessage
from messaging.vendors.registry import VENDOR_KEYS, vendor

pytestmark = pytest.mark.django_db

SIM_SECRET = "sim-secret-1"
ACCOUNT_IDS = {"montnets": "E10ABC", "smscn": "demo"}


def client_in(user, language: str) -> Client:
    client = Client(headers={"Accept-Language": language})
    client.cookies["django_language"] = language
    client.force_login(user)
    return client


def form_data(vendor: str, **changes) -> dict:
    data = {
        "name": f"{vendor} account",
        "vendor": vendor,
        "is_active": "on",
        "base_url": "http://127.0.0.1:9/x",
        "account_id": "960001",
        "secret": "s3cret",
        "auth_mode": "md5",
        "extension": "",
        "signature": "",
        "opt_out_suffix": "回T退订",
        "rate_limit_per_s": "100",
        "push_enabled": "on",
        "poll_interval_s": "10",
        "report_window_hours": "48",
        "options": "{}",
        "price_per_part": "0.05",
        "max_file_kb": "2048",
        "max_template_kb": "5120",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def account(vendor: str, **fields) -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=vendor,
        name=f"{vendor} account",
        base_url="http://127.0.0.1:9/x",
        account_id="960001",
        secret="s3cret",
        **fields,
    )


def test_only_smscn_cannot_push_reports_and_two_vendors_do_not_push_again():
    assert [k for k in VENDOR_KEYS if not pushes_reports(k)] == ["smscn"]
    assert [k for k in VENDOR_KEYS if not vendor(k).capabilities.pushed_reports_resent] == [
        "montnets",
        "smsadmin",
    ]


def test_report_window_is_on_the_form_with_its_help(administrator):
    url = reverse("admin:messaging_vendoraccount_add")
    html = client_in(administrator, "en").get(url).content.decode()
    assert 'name="report_window_hours"' in html and 'value="72"' in html
    assert "becomes &#x27;no report&#x27;" in html or "becomes 'no report'" in html
    response = client_in(administrator, "en").post(url, form_data("ashx5g"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert VendorAccount.objects.get().report_window_hours == 48


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "sms.cn cannot push delivery reports"), ("zh-hans", "sms.cn 不能推送状态报告")],
)
def test_a_vendor_that_cannot_push_reports_must_poll(administrator, language, words):
    client = client_in(administrator, language)
    url = reverse("admin:messaging_vendoraccount_add")
    response = client.post(url, form_data("smscn"))  # polling left off
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["polling_enabled"] and words in errors["polling_enabled"][0]
    assert not VendorAccount.objects.exists()
    response = client.post(url, form_data("smscn", polling_enabled="on"))
    assert response.status_code == 302
    assert VendorAccount.objects.get().polling_enabled


def test_list_and_change_page_say_when_no_report_can_arrive(administrator):
    client = client_in(administrator, "en")
    silent = account("smscn", polling_enabled=False)
    polled = account("actiongw", polling_enabled=True, push_enabled=False)
    polled.name = "actiongw polled"
    polled.save()
    html = client.get(reverse("admin:messaging_vendoraccount_changelist")).content.decode()
    assert "none: this vendor cannot push reports and polling is off" in html
    assert "polled" in html
    change = reverse("admin:messaging_vendoraccount_change", args=[silent.pk])
    html = client.get(change).content.decode()
    assert "none: this vendor cannot push reports and polling is off" in html
    assert "sms.cn cannot push delivery reports" in html  # the note beside push / poll
    html = client_in(administrator, "zh-hans").get(change).content.decode()
    assert "该服务商不能推送状态报告" in html


@pytest.mark.parametrize("vendor", ["montnets", "smsadmin"])
def test_vendors_that_do_not_push_again_have_a_note_beside_push_and_poll(administrator, vendor):
    target = account(vendor)
    change = reverse("admin:messaging_vendoraccount_change", args=[target.pk])
    html = client_in(administrator, "en").get(change).content.decode()
    assert "does not push a delivery report again" in html
    assert "make sure the push URL is always reachable" in html
    html = client_in(administrator, "zh-hans").get(change).content.decode()
    assert "不会重新推送状态报告" in html


def test_other_vendors_have_no_such_note_and_the_add_form_names_them_all(administrator):
    target = account("ashx5g")
    client = client_in(administrator, "en")
    html = client.get(
        reverse("admin:messaging_vendoraccount_change", args=[target.pk])
    ).content.decode()
    assert "does not push a delivery report again" not in html
    assert "cannot push delivery reports" not in html
    html = client.get(reverse("admin:messaging_vendoraccount_add")).content.decode()
    assert "sms.cn cannot push delivery reports" in html
    assert "Montnets (梦网) does not push a delivery report again" in html
    assert "smsadmin.cn (通用短信平台) does not push a delivery report again" in html


def test_marketers_see_the_report_route_but_no_connection_field(marketer):
    target = account("smscn")
    client = client_in(marketer, "en")
    html = client.get(reverse("admin:messaging_vendoraccount_changelist")).content.decode()
    assert "none: this vendor cannot push reports" in html
    html = client.get(
        reverse("admin:messaging_vendoraccount_change", args=[target.pk])
    ).content.decode()
    assert "s3cret" not in html and 'name="base_url"' not in html


# --------------------------------------------------------------------------- connection test


@pytest.fixture
def montnets(sim):
    sim.add_account(vendor="montnets", account_id="E10ABC", secret=SIM_SECRET, balance=100)
    return VendorAccount.objects.create(
        vendor="montnets",
        name="梦网账户",
        base_url=sim.url("montnets"),
        account_id="E10ABC",
        secret=SIM_SECRET,
        signature="【测试商城】",
    )


def one_report_waiting(sim, account) -> None:
    result = account.client().send_single(OutgoingMessage("c-probe", "13800000001", "hi"))
    Message.objects.create(
        vendor_account=account,
        phone="13800000001",
        content="hi",
        custom_id="c-probe",
        vendor_message_id=result.vendor_message_id,
        status=Status.SUBMITTED,
    )
    sim.state.tick()


def run_test_action(client, target):
    return client.post(
        reverse("admin:messaging_vendoraccount_changelist"),
        {"action": "test_connection", "_selected_action": [target.pk]},
        follow=True,
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "梦网账户: connected (no balance query; 1 report fetched and applied)"),
        ("zh-hans", "梦网账户：连接成功（该服务商无余额查询；已取回并处理 1 条状态报告）"),
    ],
)
def test_connection_test_without_balance_query_says_what_it_did(
    administrator, sim, montnets, language, expected
):
    one_report_waiting(sim, montnets)
    response = run_test_action(client_in(administrator, language), montnets)
    texts = [str(m) for m in response.context["messages"]]
    assert texts == [expected]  # not "connected, balance —"


def test_probe_summary_counts_reports_and_stays_silent_for_a_balance(sim, montnets):
    check = refresh_balance(montnets)
    assert check.probed and check.reports == 0
    from django.utils import translation

    with translation.override("en"):
        assert probe_summary(montnets, check) == (
            "梦网账户: connected (no balance query; 0 reports fetched and applied)"
        )
        assert probe_summary(montnets, ConnectionCheck(ok=False)) == ""


def _history(obj) -> list[str]:
    from django.contrib.admin.models import LogEntry

    return [
        entry.get_change_message()
        for entry in LogEntry.objects.filter(object_id=str(obj.pk)).order_by("pk")
    ]


def test_history_names_the_secret_only_when_a_new_one_was_entered(administrator):
    obj = account("montnets")
    url = reverse("admin:messaging_vendoraccount_change", args=[obj.pk])
    client = client_in(administrator, "en")
    data = form_data("montnets", secret="", account_id="E10ABC", signature="【新签名】")
    assert client.post(url, data).status_code == 302
    obj.refresh_from_db()
    assert obj.secret == "s3cret"
    assert obj.signature == "【新签名】"
    last = _history(obj)[-1].lower()
    assert "signature" in last and "secret" not in last

    data = form_data("montnets", secret="n3w-secret", account_id="E10ABC", signature="【新签名】")
    assert client.post(url, data).status_code == 302
    obj.refresh_from_db()
    assert obj.secret == "n3w-secret"
    assert "secret" in _history(obj)[-1].lower()
