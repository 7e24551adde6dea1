"""What a new user meets on an import: row numbers as the spreadsheet program shows them, a
phone column guessed from its cells said so, a header without rows refused with the list left
as it was, row counts that are counts, international numbers checked per country."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import translation

from messaging.importing import service
from messaging.importing.phones import Reason, normalize
from messaging.importing.readers import SpreadsheetError, open_table
from messaging.models import ImportJob, Recipient

from .conftest import FIXTURES, fixture_upload, text_upload

pytestmark = pytest.mark.django_db


def run(recipient_list, upload, **options):
    job = service.inspect_upload(recipient_list, upload)
    for name, value in options.items():
        setattr(job, name, value)
    job.save()
    with translation.override("en"):
        return service.run_import(job.pk, language="en")


def report_rows(job):
    with job.rejected_report.open("rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))


def test_rejected_rows_are_numbered_as_records_when_quoted_cells_span_lines(recipient_list):
    job = run(recipient_list, fixture_upload("quoted-commas.csv"))
    assert job.state == ImportJob.State.DONE
    assert job.imported_count == 11
    assert [row[0] for row in report_rows(job)[1:]] == ["7", "9", "14"]
    # The record after a multi-line cell keeps its own number and its values.
    assert Recipient.objects.get(phone="13800000003").source_row == 4
    assert Recipient.objects.get(phone="13800000002").variables["地址"] == "上海市\n浦东新区\n张江"
    assert Recipient.objects.get(phone="13800000010").variables["姓名"] == "王, 二"


def test_the_mapping_sample_shows_record_numbers(marketer_client, recipient_list):
    marketer_client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]),
        {"file": fixture_upload("quoted-commas.csv")},
    )
    job = ImportJob.objects.get()
    page = marketer_client.get(reverse("portal:import_mapping", args=[job.pk]))
    assert [row["number"] for row in page.context["sample"]] == list(range(2, 12))


def test_a_phone_column_guessed_from_its_cells_is_said_so(marketer_client, recipient_list):
    marketer_client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]),
        {"file": fixture_upload("guessed_phone_column.csv")},
    )
    job = ImportJob.objects.get()
    assert job.phone_column == "会员账号"
    html = marketer_client.get(reverse("portal:import_mapping", args=[job.pk])).content.decode()
    assert 'id="phone-column-guessed"' in html
    assert "we think “会员账号” holds the phones" in html


def test_a_phone_column_named_by_its_header_needs_no_such_note(marketer_client, recipient_list):
    marketer_client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]),
        {"file": fixture_upload("utf8_formats.csv")},
    )
    job = ImportJob.objects.get()
    html = marketer_client.get(reverse("portal:import_mapping", args=[job.pk])).content.decode()
    assert 'id="phone-column-guessed"' not in html


@pytest.mark.parametrize("name", ["header_only.csv", "header_only.xlsx"])
def test_a_header_without_rows_is_refused_and_the_list_keeps_its_columns(
    marketer_client, recipient_list, name
):
    recipient_list.columns = ["积分"]
    recipient_list.save()
    with translation.override("en"), pytest.raises(SpreadsheetError) as error:
        service.inspect_upload(recipient_list, fixture_upload(name))
    assert "no rows" in str(error.value)
    page = marketer_client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]), {"file": fixture_upload(name)}
    )
    assert page.status_code == 200 and "no rows" in page.content.decode()
    assert not ImportJob.objects.exists()
    recipient_list.refresh_from_db()
    assert recipient_list.columns == ["积分"] and not recipient_list.recipients.exists()


def test_an_import_that_reads_no_rows_fails_and_leaves_the_list_alone(recipient_list, tmp_path):
    # Rows were there when the file was inspected, only blank ones when it ran.
    job = service.inspect_upload(
        recipient_list, text_upload("a.csv", "手机号,城市\n13800000001,北京\n")
    )
    with open(job.file.path, "w", encoding="utf-8") as f:
        f.write("手机号,城市\n,\n")
    with translation.override("en"):
        job = service.run_import(job.pk, language="en")
    assert job.state == ImportJob.State.FAILED and "no rows" in job.error
    recipient_list.refresh_from_db()
    assert not recipient_list.columns


def test_a_small_csv_has_its_rows_counted_not_estimated(recipient_list):
    rows = ["手机号,姓名,备注"] + [
        f"1370000{i:04d},用户{i},{'很长的备注' * (i % 7)}" for i in range(40)
    ]
    job = service.inspect_upload(recipient_list, text_upload("forty.csv", "\n".join(rows)))
    assert job.estimated_rows == 40
    table = open_table(str(FIXTURES / "quoted-commas.csv"))
    assert table.estimated_rows == 14


def test_the_progress_never_shows_more_rows_read_than_estimated(marketer_client, recipient_list):
    job = service.inspect_upload(recipient_list, fixture_upload("utf8_formats.csv"))
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportJob.State.RUNNING, processed_rows=40, estimated_rows=39
    )
    status = marketer_client.get(reverse("portal:import_status", args=[job.pk])).json()
    assert status["estimated"] == 40
    html = marketer_client.get(reverse("portal:import_job", args=[job.pk])).content.decode()
    assert '/ ~<span data-field="estimated">40</span>' in html


@pytest.mark.parametrize(
    ("raw", "allowed", "expected"),
    [
        ("+44 7400 123456", True, "+447400123456"),
        ("0044 7400 123456", True, "+447400123456"),
        ("+44 7400 1234567", True, Reason.BAD_INTERNATIONAL),  # one digit too many
        ("+44 7400 1234567", False, Reason.BAD_INTERNATIONAL),  # invalid either way
        ("+44 7400 123456", False, Reason.INTERNATIONAL),
        ("+1 415 555 0123", True, "+14155550123"),
        ("+1 415 555 012", True, Reason.BAD_INTERNATIONAL),
        ("+852 9123 4567", True, "+85291234567"),
        ("00000000000", False, Reason.INVALID),
        ("00000000000", True, Reason.INVALID),
        ("+000 1234 5678", True, Reason.INVALID),
        ("+999 1234 5678", True, Reason.INVALID),  # no such country code
        ("0086 138 0000 0001", False, "13800000001"),
    ],
)
def test_international_numbers_are_checked_per_country(raw, allowed, expected):
    result = normalize(raw, allow_international=allowed)
    if isinstance(expected, str):
        assert result == expected
    else:
        assert result.reason is expected, result


def test_invalid_reason_reads_invalid_not_international():
    with translation.override("en"):
        assert normalize("00000000000").message == "invalid phone number"
