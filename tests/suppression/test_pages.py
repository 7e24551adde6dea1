"""The suppression list page: look a phone up, add, import, export, lift — and a lifted
suppression kept as history that no longer holds a phone back."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditEvent
from messaging.models import Message, Suppression
from messaging.services import suppressions
from messaging.statuses import Status
from tests.reports.conftest import send_campaign

pytestmark = pytest.mark.django_db

PAGE = reverse("portal:suppressions")


def test_marketer_adds_a_phone_as_typed_and_finds_it(marketer_client, marketer):
    response = marketer_client.post(
        reverse("portal:suppression_add"),
        {"phone": "+86 138-0000-0009", "note": "asked by phone"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.active().get()
    assert suppression.phone == "13800000009"
    assert suppression.reason == Suppression.Reason.MANUAL
    assert suppression.created_by == marketer and suppression.evidence == "asked by phone"
    event = AuditEvent.objects.get(action=AuditEvent.Action.SUPPRESSION_ADDED)
    assert event.actor == marketer and event.object_id == str(suppression.pk)

    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "13800000009")  # as IMEs type it
    page = marketer_client.get(PAGE, {"q": full_width})
    body = page.content.decode()
    assert 'data-state="suppressed"' in body and "asked by phone" in body


def test_adding_twice_or_a_non_phone_says_why_without_a_500(marketer_client):
    suppressions.add("13800000009")
    again = marketer_client.post(reverse("portal:suppression_add"), {"phone": "13800000009"})
    assert again.status_code == 400 and "already suppressed" in again.content.decode()
    bad = marketer_client.post(reverse("portal:suppression_add"), {"phone": "hello"})
    assert bad.status_code == 400 and "not a phone number" in bad.content.decode()
    assert Suppression.objects.count() == 1


def test_lookup_shows_the_opt_out_reply_and_since_when(marketer_client, vendor_account):
    from messaging.services.replies import record_replies
    from messaging.vendors.base import InboundReply

    record_replies(vendor_account, [InboundReply(phone="13800000005", content="退订")])
    body = marketer_client.get(PAGE, {"q": "13800000005"}).content.decode()
    assert 'data-state="suppressed"' in body
    assert "data-reply" in body and "“退订”" in body and vendor_account.name in body
    assert (
        marketer_client.get(PAGE, {"q": "13800000006"})
        .content.decode()
        .count('data-state="not-suppressed"')
    )


def test_import_a_file_counts_added_already_repeated_and_bad_rows(marketer_client):
    suppressions.add("13800000001")
    data = "手机号\n13800000001\n13800000002\n138 0000 0003\n13800000002\nabc\n".encode()
    response = marketer_client.post(
        reverse("portal:suppression_import"),
        {"file": SimpleUploadedFile("optouts.csv", data, "text/csv"), "note": "old CRM"},
        follow=True,
    )
    body = response.content.decode()
    assert "2 phones suppressed" in body and "1 already suppressed" in body
    assert "1 repeated in the file" in body and "1 not phones" in body and "Row 6" in body
    active = set(Suppression.objects.active().values_list("phone", flat=True))
    assert active == {"13800000001", "13800000002", "13800000003"}
    assert Suppression.objects.get(phone="13800000003").evidence == "old CRM"


def test_import_of_a_damaged_file_is_a_form_error(marketer_client):
    response = marketer_client.post(
        reverse("portal:suppression_import"),
        {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04 not a zip", "application/zip")},
    )
    assert response.status_code == 400
    assert Suppression.objects.count() == 0


def test_export_lists_the_suppressions_in_force(marketer_client):
    suppressions.add("13800000001", note="=HYPERLINK(1)")
    lifted = suppressions.add("13800000002")
    suppressions.lift(lifted, reason="came back")
    response = marketer_client.get(reverse("portal:suppression_export", args=["csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["13800000001"]
    assert rows[1][3] == "'=HYPERLINK(1)"  # formula escaped
    with_lifted = marketer_client.get(
        reverse("portal:suppression_export", args=["csv"]), {"lifted": "1"}
    )
    text = b"".join(with_lifted.streaming_content).decode("utf-8-sig")
    assert "13800000002" in text and "came back" in text
    xlsx = marketer_client.get(reverse("portal:suppression_export", args=["xlsx"]))
    assert xlsx.status_code == 200
    assert marketer_client.get("/portal/suppressions.pdf").status_code == 404


def test_lift_by_hand_is_for_administrators_and_keeps_history(
    marketer_client, admin_client, administrator
):
    suppressions.add("13800000001", note="complained")
    url = reverse("portal:suppression_lift")
    denied = marketer_client.post(url, {"phone": "13800000001", "reason": "x"})
    assert denied.status_code == 403
    no_reason = admin_client.post(url, {"phone": "13800000001", "reason": ""}, follow=True)
    assert "Say why" in no_reason.content.decode()
    assert Suppression.objects.active().count() == 1

    admin_client.post(url, {"phone": "13800000001", "reason": "re-subscribed in the shop"})
    row = Suppression.objects.get()
    assert row.lifted_at and row.lifted_by == administrator
    assert row.lifted_reason == "re-subscribed in the shop" and row.evidence == "complained"
    assert not Suppression.objects.active().exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SUPPRESSION_REMOVED).count() == 1
    page = admin_client.get(PAGE, {"q": "13800000001"}).content.decode()
    assert 'data-state="not-suppressed"' in page and "re-subscribed in the shop" in page

    # Suppressed again later: a new row, the old one stays as history.
    suppressions.add("13800000001")
    assert Suppression.objects.filter(phone="13800000001").count() == 2
    assert Suppression.objects.active().filter(phone="13800000001").count() == 1


def test_a_lifted_suppression_no_longer_holds_a_campaign_back(sim_account, make_campaign):
    account = sim_account("ashx5g")
    lifted = suppressions.add("13800000002")
    suppressions.add("13800000003")
    suppressions.lift(lifted, reason="asked again")
    campaign = send_campaign(
        make_campaign(account, phones=["13800000001", "13800000002", "13800000003"])
    )
    statuses = dict(Message.objects.filter(campaign=campaign).values_list("phone", "status"))
    assert statuses["13800000002"] == Status.SUBMITTED
    assert statuses["13800000003"] == Status.SKIPPED
    assert campaign.skipped_count == 1


def test_the_page_needs_a_login(client):
    assert client.get(PAGE).status_code == 302


def test_the_admin_records_additions_and_deletions_in_the_audit_trail(admin_client):
    response = admin_client.post(
        reverse("admin:messaging_suppression_add"),
        {"phone": "13800000007", "reason": "complaint", "evidence": "hotline"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.reason == Suppression.Reason.COMPLAINT
    added = AuditEvent.objects.get(action=AuditEvent.Action.SUPPRESSION_ADDED)
    assert added.object_id == str(suppression.pk) and added.actor_name == "alice-admin"
    admin_client.post(
        reverse("admin:messaging_suppression_delete", args=[suppression.pk]), {"post": "yes"}
    )
    assert not Suppression.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SUPPRESSION_REMOVED).exists()
