"""Exports of recipients, campaign messages and replies, with formula-injection escaping."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone, translation

from messaging.importing.cells import escape_cell
from messaging.models import Campaign, InboundMessage, Message, Recipient, Template
from messaging.statuses import Status

pytestmark = pytest.mark.django_db

NASTY = ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", '=HYPERLINK("http://x")']


@pytest.mark.parametrize("value", NASTY)
def test_formula_like_cells_are_escaped(value):
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["13800000001", "张三", "a=b", "", 12, None])
def test_ordinary_cells_are_left_alone(value):
    assert escape_cell(value) == value


def csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def xlsx_rows(response):
    data = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.value
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.fixture
def nasty_list(recipient_list):
    recipient_list.columns = ["姓名", "备注"]
    recipient_list.save()
    for i, note in enumerate(NASTY):
        Recipient.objects.create(
            recipient_list=recipient_list,
            phone=f"1380000000{i}",
            variables={"姓名": f"用户{i}", "备注": note},
            source_row=i + 2,
        )
    Recipient.objects.create(recipient_list=recipient_list, phone="+447700900123", variables={})
    return recipient_list


def test_recipients_csv(marketer_client, nasty_list):
    with translation.override("en"):
        response = marketer_client.get(
            reverse("portal:export_recipients", args=[nasty_list.pk, "csv"])
        )
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["phone", "姓名", "备注", "spreadsheet row"]
    assert [r[2] for r in rows[1:8]] == ["'" + v for v in NASTY]
    assert rows[1][:2] == ["13800000000", "用户0"]
    assert rows[-1][0] == "'+447700900123"


def test_recipients_xlsx(marketer_client, nasty_list):
    response = marketer_client.get(
        reverse("portal:export_recipients", args=[nasty_list.pk, "xlsx"])
    )
    rows = xlsx_rows(response)
    # XML reads a stored carriage return back as a line feed; the apostrophe is what counts.
    assert [r[2] for r in rows[1:8]] == ["'" + v.replace("\r", "\n") for v in NASTY]
    assert rows[1][0] == "13800000000"  # text, not a number Excel could mangle


@pytest.fixture
def campaign(vendor_account, recipient_list, administrator):
    template = Template.objects.create(name="t", body="<name>")
    campaign = Campaign.objects.create(
        name="双十一",
        template=template,
        vendor_account=vendor_account,
        recipient_list=recipient_list,
    )
    Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13800000001",
        content='=HYPERLINK("http://evil")',
        custom_id="c1",
        status=Status.DELIVERED,
        vendor_status_code="DELIVRD",
        submitted_at=timezone.now(),
    )
    Message.objects.create(
        campaign=campaign,
        vendor_account=vendor_account,
        phone="13800000002",
        content="hello",
        custom_id="c2",
        status=Status.UNDELIVERED,
        vendor_status_code="MK:0001",
        vendor_status_description="-1 blacklisted",
    )
    InboundMessage.objects.create(
        vendor_account=vendor_account,
        phone="13800000002",
        content="@T 退订",
        received_at=timezone.now(),
        campaign=campaign,
        is_opt_out=True,
        raw="{}",
    )
    return campaign


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_campaign_messages_with_statuses_and_vendor_codes(marketer_client, campaign, fmt):
    with translation.override("en"):
        response = marketer_client.get(reverse("portal:export_messages", args=[campaign.pk, fmt]))
    rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)
    header = rows[0]
    assert header[:5] == ["phone", "campaign", "status", "vendor code", "vendor description"]
    by_phone = {r[0]: r for r in rows[1:]}
    assert by_phone["13800000002"][3] == "MK:0001"
    assert by_phone["13800000002"][4] == "'-1 blacklisted"
    assert by_phone["13800000001"][header.index("content")] == '\'=HYPERLINK("http://evil")'
    assert by_phone["13800000001"][2] == Status.DELIVERED.label


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_replies(marketer_client, campaign, fmt):
    with translation.override("en"):
        response = marketer_client.get(
            reverse("portal:export_replies", args=[fmt]) + f"?campaign={campaign.pk}"
        )
    rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)
    assert rows[0][:3] == ["received", "phone", "content"]
    assert rows[1][1:3] == ["13800000002", "'@T 退订"]
    assert rows[1][rows[0].index("opt-out")] == "yes"


def test_unknown_format_is_404(marketer_client, campaign):
    url = reverse("portal:export_messages", args=[campaign.pk, "pdf"])
    assert marketer_client.get(url).status_code == 404


def test_admin_export_actions(marketer_client, campaign):
    ids = list(Message.objects.values_list("pk", flat=True))
    response = marketer_client.post(
        reverse("admin:messaging_message_changelist"),
        {"action": "export_messages_csv", "_selected_action": ids},
    )
    assert response.status_code == 200
    assert len(csv_rows(response)) == 3
    reply_ids = list(InboundMessage.objects.values_list("pk", flat=True))
    response = marketer_client.post(
        reverse("admin:messaging_inboundmessage_changelist"),
        {"action": "export_replies_xlsx", "_selected_action": reply_ids},
    )
    assert response.status_code == 200
    assert xlsx_rows(response)[1][2] == "'@T 退订"


# --------------------------------------------------------------------------- XLSX size


@pytest.fixture
def xlsx_of_one(monkeypatch):
    """An XLSX holds one row here: the campaign's two messages are "too many"."""
    from messaging import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 1)


def test_too_many_rows_for_xlsx_are_refused_on_the_page_with_the_csv_offered(
    marketer, campaign, nasty_list, xlsx_of_one
):
    from django.test import Client

    from messaging.models import Suppression

    client = Client(headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(marketer)
    Suppression.objects.create(phone="13800000001", reason=Suppression.Reason.MANUAL)
    Suppression.objects.create(phone="13800000002", reason=Suppression.Reason.MANUAL)
    downloads = {
        reverse("portal:export_messages", args=[campaign.pk, "xlsx"]): reverse(
            "portal:campaign", args=[campaign.pk]
        ),
        reverse("portal:export_recipients", args=[nasty_list.pk, "xlsx"]): reverse(
            "portal:list", args=[nasty_list.pk]
        ),
        reverse("portal:export_replies", args=["xlsx"]): None,  # one reply: fits
        reverse("portal:suppression_export", args=["xlsx"]): reverse("portal:suppressions"),
    }
    for url, back in downloads.items():
        response = client.get(url, follow=True)
        if back is None:
            assert "attachment" in response["Content-Disposition"]
            continue
        assert response.redirect_chain == [(back, 302)], url
        said = [str(m) for m in response.context["messages"]]
        assert any("at most 1 rows" in m and "Download the CSV" in m for m in said), said
        assert client.get(url.replace("xlsx", "csv")).status_code == 200
    # The campaign page (its counters: 2 messages) offers them as CSV only.
    Campaign.objects.filter(pk=campaign.pk).update(total_count=2)
    page = client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert 'data-export="messages-csv"' in page and 'data-export="messages-xlsx"' not in page


def test_the_admin_export_action_says_so_and_stays_on_the_list(
    marketer_client, campaign, xlsx_of_one
):
    ids = list(Message.objects.values_list("pk", flat=True))
    response = marketer_client.post(
        reverse("admin:messaging_message_changelist"),
        {"action": "export_messages_xlsx", "_selected_action": ids},
        follow=True,
    )
    assert response.status_code == 200 and "Content-Disposition" not in response
    assert any("Download the CSV" in str(m) for m in response.context["messages"])
