"""The admin at ten million messages: searches read what was typed and look up indexed
columns only, big lists never count their whole table, and a campaign, list or vendor
account owning many rows is not deleted from the admin (archive it instead)."""

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from messaging.admin import big_tables
from messaging.models import (
    Campaign,
    DeliveryReport,
    InboundMessage,
    Message,
    Recipient,
    RecipientList,
    Suppression,
)
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

PHONE = "13800138000"
AS_TYPED = [
    PHONE,
    "138 0013 8000",
    "138-0013-8000",
    "+86 138 0013 8000",
    "+8613800138000",
    "008613800138000",
    "１３８００１３８０００",
    " ＋８６ １３８ ００１３ ８０００ ",
]


def changelist(model) -> str:
    return reverse(f"admin:messaging_{model._meta.model_name}_changelist")


@pytest.fixture
def messages_(vendor_account, make_campaign):
    campaign = make_campaign(vendor_account, phones=[PHONE, "13900139000"], name="Spring")
    wanted = Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone=PHONE,
        content="hello",
        custom_id="c0ffee0001",
        vendor_message_id="V-77001",
        status=Status.DELIVERED,
    )
    other = Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13900139000",
        content="hello",
        custom_id="c0ffee0002",
        vendor_message_id="V-77002",
        status=Status.DELIVERED,
    )
    return wanted, other


def listed(client, model, q: str) -> str:
    response = client.get(changelist(model), {"q": q})
    assert response.status_code == 200
    return response.content.decode()


def message_link(message) -> str:
    return f"/admin/messaging/message/{message.pk}/change/"


@pytest.mark.parametrize("typed", AS_TYPED)
def test_a_phone_as_typed_finds_its_messages(admin_client, messages_, typed):
    wanted, other = messages_
    page = listed(admin_client, Message, typed)
    assert message_link(wanted) in page
    assert message_link(other) not in page


@pytest.mark.parametrize("typed", ["c0ffee0001", "V-77001", " V-77001 ", "Ｖ-77001"])
def test_our_id_or_the_vendors_id_finds_the_message(admin_client, messages_, typed):
    wanted, other = messages_
    page = listed(admin_client, Message, typed)
    assert message_link(wanted) in page and message_link(other) not in page


def test_a_message_number_finds_that_message(admin_client, messages_):
    wanted, other = messages_
    page = listed(admin_client, Message, str(wanted.pk))
    assert message_link(wanted) in page and message_link(other) not in page


def test_a_message_search_is_exact_lookups_only(admin_client, messages_):
    """No LIKE (a scan of every message): a word is looked up as an id, exactly."""
    with CaptureQueriesContext(connection) as queries:
        page = listed(admin_client, Message, "138001")
    assert message_link(messages_[0]) not in page
    message_queries = [q["sql"] for q in queries if "messaging_message" in q["sql"]]
    assert message_queries
    assert not any(" LIKE " in sql.upper() for sql in message_queries)


def test_a_report_is_found_by_its_messages_phone_or_its_own(admin_client, messages_):
    wanted, other = messages_
    matched = DeliveryReport.objects.create(
        vendor_account=wanted.vendor_account,
        source="push",
        vendor_message_id="V-77001",
        status=Status.DELIVERED,
        vendor_code="DELIVRD",
        raw="{}",
        message=wanted,
    )
    unmatched = DeliveryReport.objects.create(
        vendor_account=wanted.vendor_account,
        source="push",
        vendor_message_id="V-99",
        phone=PHONE,
        status=Status.UNDELIVERED,
        vendor_code="UNDELIV",
        raw="{}",
    )
    elsewhere = DeliveryReport.objects.create(
        vendor_account=other.vendor_account,
        source="push",
        vendor_message_id="V-77002",
        status=Status.DELIVERED,
        vendor_code="DELIVRD",
        raw="{}",
        message=other,
    )

    def reports(q):
        page = listed(admin_client, DeliveryReport, q)
        return {
            r.pk
            for r in (matched, unmatched, elsewhere)
            if f"/admin/messaging/deliveryreport/{r.pk}/change/" in page
        }

    assert reports("+86 138 0013 8000") == {matched.pk, unmatched.pk}
    assert reports("V-77001") == {matched.pk}
    assert reports("V-99") == {unmatched.pk}
    assert reports("c0ffee0002") == {elsewhere.pk}


def test_replies_suppressions_and_recipients_find_a_phone_as_typed(
    admin_client, messages_, vendor_account
):
    reply = InboundMessage.objects.create(
        vendor_account=vendor_account,
        phone=PHONE,
        content="好的",
        received_at="2024-05-02T10:00:00+08:00",
        raw="{}",
    )
    Suppression.objects.create(phone=PHONE, reason=Suppression.Reason.MANUAL)
    typed = "+86 138-0013-8000"
    assert f"/admin/messaging/inboundmessage/{reply.pk}/change/" in listed(
        admin_client, InboundMessage, typed
    )
    assert PHONE in listed(admin_client, Suppression, typed)
    recipient = Recipient.objects.get(phone=PHONE)
    assert f"/admin/messaging/recipient/{recipient.pk}/change/" in listed(
        admin_client, Recipient, typed
    )


def test_a_recipient_search_that_is_no_phone_says_what_to_type(admin_client, messages_):
    with translation.override("en"):
        response = admin_client.get(changelist(Recipient), {"q": "0013"}, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "Search by a full phone number" in page
    assert PHONE not in page.split('id="result_list"')[-1]


# --------------------------------------------------------------------------- counting


def count_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize("model", [Message, DeliveryReport, InboundMessage, Recipient, Suppression])
def test_a_big_list_never_counts_its_whole_table(admin_client, messages_, model):
    for params in ({}, {"q": PHONE}):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(changelist(model), params).status_code == 200
        for sql in count_queries(queries):
            assert "LIMIT" in sql.upper(), sql


def test_the_paginator_stops_counting_at_the_cap(messages_, monkeypatch):
    monkeypatch.setattr(big_tables, "COUNT_CAP", 1)
    paginator = big_tables.BigTablePaginator(
        Message.objects.filter(content="hello").order_by("pk"), 1
    )
    assert paginator.count == 1 and paginator.count_is_capped
    paginator = big_tables.BigTablePaginator(Message.objects.filter(phone=PHONE).order_by("pk"), 1)
    assert paginator.count == 1 and not paginator.count_is_capped


def test_a_capped_list_says_there_are_more(admin_client, messages_, monkeypatch):
    monkeypatch.setattr(big_tables, "COUNT_CAP", 1)
    with translation.override("en"):
        page = admin_client.get(
            changelist(Message), {"campaign": messages_[0].campaign_id}, HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
    assert "more than 1" in page


def test_status_filters_within_a_campaign(admin_client, messages_):
    wanted, other = messages_
    Message.objects.filter(pk=other.pk).update(status=Status.FAILED)
    Campaign.objects.filter(pk=wanted.campaign_id).update(failed_count=1, delivered_count=1)
    page = admin_client.get(
        changelist(Message), {"campaign": wanted.campaign_id, "status": Status.FAILED}
    ).content.decode()
    assert message_link(other) in page and message_link(wanted) not in page
    # A status its counter says the campaign has none of: no message is read.
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(
            changelist(Message), {"campaign": wanted.campaign_id, "status": Status.QUEUED}
        ).content.decode()
    assert message_link(other) not in page and message_link(wanted) not in page
    assert not [q for q in queries if 'FROM "messaging_message"' in q["sql"]]


# --------------------------------------------------------------------------- the campaign page


def test_the_campaign_page_counts_from_its_counters(admin_client, messages_):
    campaign = messages_[0].campaign
    Campaign.objects.filter(pk=campaign.pk).update(
        total_count=1_000_000, submitted_count=999_000, delivered_count=990_000, failed_count=9_000
    )
    url = reverse("admin:messaging_campaign_change", args=[campaign.pk])
    with CaptureQueriesContext(connection) as queries, translation.override("en"):
        page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    counts = page.split('id="status-counts"')[1]
    assert "990000" in counts and "9000" in counts
    assert not [q for q in queries if "messaging_message" in q["sql"]]


# --------------------------------------------------------------------------- deleting


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(big_tables, "DELETE_LIMIT", 1)


def test_a_campaign_with_many_messages_is_not_deleted(admin_client, messages_, small_limit):
    campaign = messages_[0].campaign
    Campaign.objects.filter(pk=campaign.pk).update(total_count=1_000_000)
    url = reverse("admin:messaging_campaign_delete", args=[campaign.pk])
    with translation.override("en"):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en", follow=True)
        page = response.content.decode()
        assert "1,000,000 messages" in page and "Archive it instead" in page
        # Counted within the limit: never a query that loads every message.
        loads = [q["sql"] for q in queries if q["sql"].startswith('SELECT "messaging_message"')]
        assert not loads
        admin_client.post(url, {"post": "yes"}, HTTP_ACCEPT_LANGUAGE="en")
        response = admin_client.post(
            changelist(Campaign),
            {"action": "delete_selected", "_selected_action": [campaign.pk], "post": "yes"},
            HTTP_ACCEPT_LANGUAGE="en",
            follow=True,
        )
        assert "Archive it instead" in response.content.decode()
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert Message.objects.filter(campaign=campaign).count() == 2


def test_a_list_or_account_with_many_rows_is_not_deleted(admin_client, messages_, small_limit):
    campaign = messages_[0].campaign
    for url in (
        reverse("admin:messaging_recipientlist_delete", args=[campaign.recipient_list_id]),
        reverse("admin:messaging_vendoraccount_delete", args=[campaign.vendor_account_id]),
    ):
        with translation.override("en"):
            response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en", follow=True)
        assert "more than 1 " in response.content.decode()
        admin_client.post(url, {"post": "yes"})
    assert RecipientList.objects.filter(pk=campaign.recipient_list_id).exists()
    assert Message.objects.count() == 2


def test_a_small_campaign_deletes_as_always(client, django_user_model, messages_):
    """By a superuser: an administrator may not delete messages (the pipeline's records)."""
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root"))
    campaign = messages_[0].campaign
    url = reverse("admin:messaging_campaign_delete", args=[campaign.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert not Message.objects.filter(campaign_id=campaign.pk).exists()


# --------------------------------------------------------------------------- PostgreSQL plans


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
@pytest.mark.parametrize("typed", ["+86 138 0013 8000", "V-77001", "c0ffee0001"])
@pytest.mark.parametrize("model", [Message, DeliveryReport, InboundMessage, Recipient])
def test_searches_are_served_by_indexes(admin_client, administrator, messages_, model, typed):
    """With sequential scans priced out, a search that no index can serve still plans one."""
    if model in (InboundMessage, Recipient) and not typed.startswith("+"):
        pytest.skip("searched by phone only")
    request = RequestFactory().get("/", {"q": typed})
    request.user = administrator
    request._messages = None
    model_admin = site._registry[model]
    queryset, _duplicates = model_admin.get_search_results(
        request, model_admin.get_queryset(request), typed
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.order_by("-pk")[:100].explain()
    assert "Seq Scan" not in plan, plan


def test_the_send_page_reads_a_bounded_part_of_a_big_list(
    admin_client, vendor_account, make_campaign, monkeypatch
):
    from messaging.services import send_count

    campaign = make_campaign(vendor_account, phones=["13800000001", "13800000002", "13800000003"])
    url = reverse("admin:messaging_campaign_send", args=[campaign.pk])
    with translation.override("en"):
        page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="partial-preview"' not in page and "Send 3 messages" in page
        monkeypatch.setattr(send_count, "INLINE_ROWS", 2)
        page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="partial-preview"' in page and "(3 recipients) is being counted" in page
        assert "those of its first 2" in page and 'http-equiv="refresh"' in page
        assert "Send to every recipient of the list" in page
        assert "13800000003" not in page
        # The task counts the whole list; the page then shows its figures.
        send_count.run(send_count.latest(campaign).pk)
        page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="partial-preview"' not in page and 'id="whole-count"' in page
    assert "Send 3 messages" in page and 'http-equiv="refresh"' not in page
