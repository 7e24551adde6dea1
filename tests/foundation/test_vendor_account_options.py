"""Vendor account options as data: each vendor declares its options and push instructions; the
admin checks the options on save, explains them, and shows the instructions beside the push
URL.  The price per part and the template file limits are fields, moved from the options."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from messaging.models import VendorAccount
from messaging.services.content_checks import estimate_cost, frame_rules
from messaging.vendors.base import AccountConfig, check_options
from messaging.vendors.registry import VENDOR_KEYS, vendor

from .test_vendor_account_admin import account, client_in, form_data

pytestmark = pytest.mark.django_db

DECLARED = {"ashx5g": ["rf"], "actiongw": [], "montnets": [], "smsadmin": [], "smscn": ["encode"]}


def test_each_vendor_declares_its_options_and_an_instruction_for_every_push():
    assert {key: [o.name for o in vendor(key).options] for key in VENDOR_KEYS} == DECLARED
    for key in VENDOR_KEYS:
        spec = vendor(key)
        for option in spec.options:
            assert option.label and option.help and option.default
            assert option.default in {value for value, _label in option.choices}
        assert {line.pushes for line in spec.push_instructions} == spec.capabilities.pushes
        assert all(line.method and line.note for line in spec.push_instructions)


@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_every_declared_value_is_accepted_and_the_client_reads_the_default(key):
    assert check_options(vendor(key).options, {}) == ({}, [])
    for option in vendor(key).options:
        for value, _label in option.choices:
            assert check_options(vendor(key).options, {option.name: value}) == (
                {option.name: value},
                [],
            )
        client = vendor(key).client(AccountConfig("http://127.0.0.1:9", "a", "s"))
        assert client._option(option.name) == option.default


def test_the_clients_follow_their_options():
    config = AccountConfig("http://127.0.0.1:9", "a", "s")
    smscn, ashx5g = vendor("smscn").client, vendor("ashx5g").client
    assert smscn(config).request_encoding == "gbk"
    utf8 = AccountConfig("http://127.0.0.1:9", "a", "s", options={"encode": "utf8"})
    assert smscn(utf8).request_encoding == "utf-8"
    assert ashx5g(config).reply_format == "json"
    kv = AccountConfig("http://127.0.0.1:9", "a", "s", options={"rf": "kv"})
    assert ashx5g(kv).reply_format == "kv"


@pytest.mark.parametrize(
    ("key", "options", "words"),
    [
        ("smscn", {"encode": "latin1"}, "'latin1' is not a choice of encode: gbk, utf8."),
        ("smscn", {"encode": 8}, "encode must be text."),
        ("smscn", {"rf": "kv"}, "rf is not an option of this vendor (its options: encode)."),
        ("ashx5g", {"rf": "xml"}, "'xml' is not a choice of rf: json, kv."),
        ("montnets", {"price_per_segment": "0.04"}, "price_per_segment is not an option"),
        ("actiongw", ["rf"], "Enter the options as a JSON object"),
    ],
)
def test_bad_options_are_refused_with_a_field_error_and_kept_on_the_form(
    administrator, key, options, words
):
    client = client_in(administrator, "en")
    url = reverse("admin:messaging_vendoraccount_add")
    posted = json.dumps(options)
    response = client.post(url, form_data(key, options=posted, polling_enabled="on"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["options"] and any(words in error for error in errors["options"])
    assert not VendorAccount.objects.exists()
    html = response.content.decode()
    assert (
        json.dumps(options).replace('"', "&quot;") in html
    )  # nothing the administrator typed is lost


def test_good_options_are_saved(administrator):
    client = client_in(administrator, "en")
    url = reverse("admin:messaging_vendoraccount_add")
    data = form_data("smscn", options='{"encode": "utf8"}', polling_enabled="on")
    assert client.post(url, data).status_code == 302
    assert VendorAccount.objects.get().options == {"encode": "utf8"}


def test_the_form_explains_the_options_and_the_push_url(administrator):
    client = client_in(administrator, "en")
    html = client.get(reverse("admin:messaging_vendoraccount_add")).content.decode()
    # No vendor chosen yet: every vendor's options.
    assert "<code>rf</code>" in html and "<code>encode</code>" in html
    target = account("smscn", polling_enabled=True)
    html = client.get(
        reverse("admin:messaging_vendoraccount_change", args=[target.pk])
    ).content.decode()
    assert "<code>encode</code> (request encoding)" in html and "<code>rf</code>" not in html
    assert "Choices: gbk, utf8. Default: gbk." in html
    assert target.push_url in html
    assert "Give this URL to sms.cn as the reply push address (section 6.2)" in html
    assert "GET or POST, cmd=res, GBK" in html


@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_every_vendor_shows_its_push_instructions_beside_the_push_url(administrator, key):
    target = account(key, polling_enabled=True)
    html = (
        client_in(administrator, "en")
        .get(reverse("admin:messaging_vendoraccount_change", args=[target.pk]))
        .content.decode()
    )
    push = html.index(target.push_url)
    for line in vendor(key).push_instructions:
        note = str(line.note).replace("'", "&#x27;")
        assert note in html[push:]


def test_price_and_file_limits_are_fields_read_by_the_cost_and_the_file_rules():
    target = account("ashx5g")
    assert (target.price_per_part, target.max_file_kb, target.max_template_kb) == (
        Decimal("0.05"),
        2048,
        5120,
    )
    target.price_per_part, target.max_file_kb, target.max_template_kb = Decimal("0.04"), 1, 3
    target.save()
    target.refresh_from_db()
    assert estimate_cost(10, target) == Decimal("0.40")
    rules = frame_rules(target)
    assert (rules.max_file_bytes, rules.max_total_bytes) == (1024, 3 * 1024)
