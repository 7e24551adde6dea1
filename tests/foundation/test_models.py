import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from messaging.models import Campaign, Message, RecipientList, Template, VendorAccount
from messaging.statuses import RANK, Status, can_advance

pytestmark = pytest.mark.django_db


def test_statuses_only_move_forward():
    assert can_advance(Status.QUEUED, Status.SUBMITTING)
    assert can_advance(Status.SUBMITTING, Status.SUBMITTED)
    assert can_advance(Status.UNKNOWN, Status.SUBMITTED)  # a late submit answer resolves it
    assert can_advance(Status.UNKNOWN, Status.DELIVERED)  # so does a report
    assert can_advance(Status.SUBMITTED, Status.DELIVERED)
    assert not can_advance(Status.DELIVERED, Status.SUBMITTED)
    assert not can_advance(Status.DELIVERED, Status.UNDELIVERED)  # first final report wins
    assert not can_advance(Status.DELIVERED, Status.DELIVERED)  # duplicates change nothing
    assert not can_advance(Status.FAILED, Status.SUBMITTED)
    assert set(RANK) == set(Status.values)


def test_lifecycle_is_drawn_in_the_docstring():
    for status in (
        "queued",
        "submitting",
        "submitted",
        "delivered",
        "undelivered",
        "expired",
        "rejected",
        "failed",
        "unknown",
    ):
        assert status in Message.__doc__


def test_vendor_ids_are_text_beyond_64_bits(vendor_account):
    huge, negative = "18446744073709551615123", "-9223372036854775808"
    for i, vendor_id in enumerate((huge, negative)):
        Message.objects.create(
            vendor_account=vendor_account,
            phone="13800000001",
            content="x",
            custom_id=f"c{i}",
            vendor_message_id=vendor_id,
            vendor_batch_id=vendor_id,
        )
    assert Message.objects.get(vendor_message_id=huge).vendor_batch_id == huge
    assert Message.objects.get(vendor_message_id=negative).vendor_message_id == negative


def test_pipeline_lookups_are_indexed():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "messaging_message")
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}
    assert ("vendor_account_id", "vendor_message_id") in indexed
    assert ("campaign_id", "id") in indexed  # by campaign, and its newest first
    assert ("send_batch_id",) in indexed
    assert ("phone",) in indexed
    assert ("custom_id",) in indexed


def test_status_and_report_fields_are_not_indexed():
    """Claims and reports rewrite these on millions of rows: indexing them would make every
    such update write index entries (on PostgreSQL, no longer heap-only)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "messaging_message")
    indexed_columns = {
        column for c in constraints.values() if c["index"] or c["unique"] for column in c["columns"]
    }
    for column in ("status", "vendor_status_code", "final_at", "submitted_at", "attempts"):
        assert column not in indexed_columns


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL storage setting")
def test_message_table_leaves_room_for_heap_only_updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'messaging_message'")
        (options,) = cursor.fetchone()
    assert "fillfactor=50" in (options or [])


def test_signature_must_be_bracketed(vendor_account):
    vendor_account.signature = "no brackets"
    with pytest.raises(ValidationError):
        vendor_account.full_clean()


def test_campaign_progress_and_rate(vendor_account, administrator):
    template = Template.objects.create(name="t", body="hi <name>")
    recipients = RecipientList.objects.create(name="l")
    campaign = Campaign.objects.create(
        name="c",
        template=template,
        vendor_account=vendor_account,
        recipient_list=recipients,
        total_count=10,
        pending_count=4,
        delivered_count=3,
        failed_count=1,
    )
    assert campaign.progress == pytest.approx(0.6)
    assert campaign.delivery_rate == pytest.approx(0.75)


def test_setup_demo_prints_logins_and_is_idempotent(capsys, monkeypatch):
    monkeypatch.setenv("PORTAL_MARKETER_PASSWORD", "Chosen-Pass-1")
    call_command("setup_demo", "--demo", "--simulator-url", "http://127.0.0.1:8025")
    out = capsys.readouterr().out
    assert "login: admin / " in out
    assert "login: marketer / Chosen-Pass-1" in out
    call_command("setup_demo", "--demo")
    assert VendorAccount.objects.count() == 5
    from django.contrib.auth import get_user_model

    marketer = get_user_model().objects.get(username="marketer")
    assert marketer.check_password("Chosen-Pass-1") and marketer.is_marketer
    assert get_user_model().objects.get(username="admin").is_administrator
