"""Hostile input in the portal's filters, forms and exports, and in the admin: every one gets a
clear answer, never a 500, and nothing the database cannot hold (NUL, lone surrogates) reaches
a query.  SQLite takes a NUL that PostgreSQL refuses (a 500 there), so the queries are watched
here on both."""

import contextlib
import io

import pytest
from django.db import connection
from django.test import Client
from openpyxl import load_workbook

from messaging.models import (
    Campaign,
    InboundMessage,
    Message,
    Recipient,
    RecipientList,
    Template,
    VendorAccount,
)

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def unstorable_parameters():
    """Collects every query parameter holding NUL or a lone surrogate."""
    found = []

    def watch(execute, sql, params, many, context):
        rows = params if many else [params]
        for row in rows or ():
            for value in row.values() if isinstance(row, dict) else row or ():
                if isinstance(value, str) and any(
                    ch == "\x00" or "\ud800" <= ch <= "\udfff" for ch in value
                ):
                    found.append((sql, value))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        yield found


def english(user) -> Client:
    client = Client(raise_request_exception=False, headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(user)
    return client


@pytest.fixture
def marketer_en(marketer):
    return english(marketer)


@pytest.fixture
def superuser_en(django_user_model):
    return english(django_user_model.objects.create_superuser("root", password="pw-root-123456"))


@pytest.fixture
def reply(vendor_account):
    return InboundMessage.objects.create(
        vendor_account=vendor_account,
        phone="13800000001",
        content="收到",
        received_at="2024-05-01T10:00:00+08:00",
    )


@pytest.fixture
def campaign(vendor_account, marketer):
    template = Template.objects.create(name="t", body="周末大促", created_by=marketer)
    recipients = RecipientList.objects.create(name="名单")
    return Campaign.objects.create(
        name="c",
        template=template,
        vendor_account=vendor_account,
        recipient_list=recipients,
        created_by=marketer,
    )


def page_text(response) -> str:
    return response.content.decode()


# --------------------------------------------------------------------------- NUL in searches


@pytest.mark.parametrize("path", ["/portal/campaigns/", "/portal/lists/", "/portal/inbox/"])
def test_a_nul_in_a_search_never_reaches_the_database(marketer_en, reply, campaign, path):
    with unstorable_parameters() as found:
        response = marketer_en.get(path + "?q=%00%E6%94%B6%ED%A0%80")
    assert response.status_code == 200
    assert found == []


def test_a_search_with_a_nul_still_finds_what_it_names(marketer_en, reply):
    response = marketer_en.get("/portal/inbox/?q=%E6%94%B6%00%E5%88%B0")  # 收\x00到
    assert response.status_code == 200 and "13800000001" in page_text(response)


# --------------------------------------------------------------------------- inbox filters


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("account=%C2%B2", "is no vendor account"),  # ²: a digit to str.isdigit, no id
        ("campaign=%C2%B2", "is no campaign"),
        ("campaign=%D9%A3", "is no campaign"),  # Arabic-Indic three
        ("account=99999999999999999999999", "is no vendor account"),
        ("date_from=2024-02-30", "is not a date"),
        ("date_to=yesterday", "is not a date"),
    ],
)
def test_inbox_filters_that_are_no_ids_or_dates_are_named_and_not_applied(
    marketer_en, reply, query, words
):
    response = marketer_en.get(f"/portal/inbox/?{query}")
    assert response.status_code == 200
    text = page_text(response)
    assert words in text and "13800000001" in text  # shown, with the whole inbox


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("date_to=9999-12-31", True),  # "until forever"
        ("date_from=0001-01-01", True),  # "since ever"
        ("date_from=9999-12-31", False),
        ("date_to=0001-01-01", False),
        ("date_from=0001-01-01&date_to=9999-12-31", True),
    ],
)
def test_inbox_dates_at_the_ends_of_the_calendar_filter_as_they_say(
    marketer_en, reply, query, shown
):
    response = marketer_en.get(f"/portal/inbox/?{query}")
    assert response.status_code == 200
    assert ("13800000001" in page_text(response)) is shown


def test_inbox_htmx_partial_with_bad_filters_answers_the_results(marketer_en, reply):
    response = marketer_en.get(
        "/portal/inbox/?account=%C2%B2&date_to=9999-12-31",
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert response.status_code == 200 and "13800000001" in page_text(response)


def test_marking_replies_ignores_ids_that_are_no_ids(marketer_en, reply):
    from accounts.roles import sync_roles

    sync_roles()
    response = marketer_en.post(
        "/portal/inbox/mark/", {"ids": ["²", "٣", "9" * 40, "", str(reply.pk)]}
    )
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.is_read


def test_marking_all_with_a_filter_that_is_no_id_marks_nothing(marketer_en, reply):
    response = marketer_en.post("/portal/inbox/mark/", {"all": "1", "account": "²"}, follow=True)
    assert response.status_code == 200 and "is no vendor account" in page_text(response)
    reply.refresh_from_db()
    assert not reply.is_read


# --------------------------------------------------------------------------- composer


@pytest.mark.parametrize("key", ["template", "recipient_list", "vendor_account"])
def test_composer_ids_in_the_query_that_are_no_ids_are_ignored(marketer_en, key):
    for value in ("%C2%B2", "9" * 30, "-1", "%00"):
        response = marketer_en.get(f"/portal/compose/?{key}={value}")
        assert response.status_code == 200, value


# --------------------------------------------------------------------------- exports


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("value", ["abc", "%C2%B2", "9" * 30, "%00"])
def test_reply_export_of_a_campaign_that_is_no_id_is_not_found(marketer_en, reply, fmt, value):
    response = marketer_en.get(f"/portal/replies.{fmt}?campaign={value}")
    assert response.status_code == 404


def xlsx_rows(response) -> list[tuple]:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return list(book.active.iter_rows(values_only=True))


# Every control character a text column can hold (PostgreSQL refuses NUL, which no writer of
# ours ever stores).
CONTROL = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r")


def test_xlsx_exports_leave_out_control_characters(marketer_en, vendor_account, campaign):
    InboundMessage.objects.create(
        vendor_account=vendor_account,
        phone="13800000002",
        content=f"退{CONTROL}订",
        extension="1\x01",
        received_at="2024-05-01T10:00:00+08:00",
        campaign=campaign,
    )
    InboundMessage.objects.create(
        vendor_account=vendor_account,
        phone="13800000003",
        content="\x01=1+1",  # a formula once the control character is gone: still escaped
        received_at="2024-05-01T10:00:01+08:00",
    )
    Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13800000002",
        content="a\x0bb",
        error="vendor said \x1b[31mno",
        custom_id="x1",
    )
    Recipient.objects.create(
        recipient_list=campaign.recipient_list,
        phone="13800000002",
        variables={"name": "张\x01三\x08"},
    )
    RecipientList.objects.filter(pk=campaign.recipient_list_id).update(columns=["name"])

    replies = marketer_en.get("/portal/replies.xlsx")
    assert replies.status_code == 200
    contents = [row[2] for row in xlsx_rows(replies)[1:]]
    assert contents == ["退订", "'=1+1"]

    messages_export = marketer_en.get(f"/portal/campaigns/{campaign.pk}/messages.xlsx")
    assert messages_export.status_code == 200
    (row,) = xlsx_rows(messages_export)[1:]
    assert "ab" in row and "vendor said [31mno" in row

    recipients = marketer_en.get(f"/portal/lists/{campaign.recipient_list_id}/recipients.xlsx")
    assert recipients.status_code == 200
    assert xlsx_rows(recipients)[1][:2] == ("13800000002", "张三")


def test_admin_xlsx_export_action_leaves_out_control_characters(superuser_en, vendor_account):
    reply = InboundMessage.objects.create(
        vendor_account=vendor_account,
        phone="13800000002",
        content="x\x02y",
        received_at="2024-05-01T10:00:00+08:00",
    )
    response = superuser_en.post(
        "/admin/messaging/inboundmessage/",
        {"action": "export_replies_xlsx", "_selected_action": [reply.pk]},
    )
    assert response.status_code == 200
    assert xlsx_rows(response)[1][2] == "xy"


# --------------------------------------------------------------------------- admin


@pytest.mark.parametrize("object_id", ["abc", "%C2%B2", "9" * 30, "1%00"])
def test_admin_campaign_page_of_an_id_that_is_none_says_so(superuser_en, campaign, object_id):
    response = superuser_en.get(f"/admin/messaging/campaign/{object_id}/change/", follow=True)
    assert response.status_code == 200
    assert "doesn’t exist" in page_text(response)


@pytest.mark.parametrize(
    "query",
    [
        "content__regex=(",
        "phone__iregex=[",
        "content__regex=%00",
    ],
)
def test_admin_filter_with_an_invalid_regex_is_refused(superuser_en, reply, query):
    response = superuser_en.get(f"/admin/messaging/inboundmessage/?{query}")
    assert response.status_code in (302, 400)  # refused, never evaluated by the database


@pytest.mark.parametrize(
    "phone", ["1" * 40, "²²²²²²²²²²²", "138 0000 0000", "+", "13800000000\x00", "1" * 21]
)
def test_admin_test_send_refuses_what_is_no_phone(superuser_en, campaign, phone):
    response = superuser_en.post(
        f"/admin/messaging/campaign/{campaign.pk}/test-send/", {"phone": phone}, follow=True
    )
    assert response.status_code == 200
    assert "Enter a phone number for the test." in page_text(response)
    assert not Message.objects.exists()


def test_portal_test_send_refuses_unicode_digits(marketer, campaign):
    from django.contrib.auth.models import Permission

    marketer.user_permissions.add(Permission.objects.get(codename="change_campaign"))
    client = english(marketer)
    response = client.post(
        f"/portal/campaigns/{campaign.pk}/test-send/", {"phone": "²" * 11}, follow=True
    )
    assert response.status_code == 200
    assert "Enter a phone number for the test." in page_text(response)
    assert not Message.objects.exists()


def test_vendor_account_pages_ignore_ids_that_are_no_ids(superuser_en, vendor_account):
    assert VendorAccount.objects.exists()
    response = superuser_en.get("/admin/messaging/vendoraccount/%C2%B2/change/", follow=True)
    assert response.status_code == 200
