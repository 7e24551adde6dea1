"""Every spreadsheet in tests/fixtures/spreadsheets and its expected outcome (see README.md
there), through the real import: inspect the upload, run it, look at the list."""

import csv
import io

import pytest
from django.utils import translation

from messaging.importing import service
from messaging.importing.readers import SpreadsheetError
from messaging.models import ImportJob, Recipient, Suppression

from .conftest import fixture_upload

pytestmark = pytest.mark.django_db


def run(recipient_list, name, **options):
    job = service.inspect_upload(recipient_list, fixture_upload(name))
    for field, value in options.items():
        setattr(job, field, value)
    job.save()
    with translation.override("en"):
        return service.run_import(job.pk, language="en")


def phones(recipient_list):
    return sorted(
        Recipient.objects.filter(recipient_list=recipient_list).values_list("phone", flat=True)
    )


def report_rows(job):
    with job.rejected_report.open("rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))


def test_utf8_with_every_phone_format(recipient_list):
    job = run(recipient_list, "utf8_formats.csv")
    assert job.state == ImportJob.State.DONE, job.error
    assert job.imported_count == 6 and job.rejected_count == 0
    assert phones(recipient_list) == [f"1380000000{i}" for i in range(1, 7)]
    recipient_list.refresh_from_db()
    assert recipient_list.columns == ["姓名", "积分"]
    first = Recipient.objects.get(phone="13800000002")
    assert first.variables == {"姓名": "李四", "积分": "20"} and first.source_row == 3


def test_utf8_bom_header_is_clean(recipient_list):
    job = run(recipient_list, "utf8_bom.csv")
    assert job.encoding == "utf-8-sig" and job.headers == ["手机号码", "姓名", "城市"]
    assert job.imported_count == 2
    assert Recipient.objects.get(phone="13900000001").variables["城市"] == "北京"


def test_gbk_csv_from_chinese_excel(recipient_list):
    job = run(recipient_list, "gbk_excel.csv")
    assert job.encoding == "gb18030"
    assert job.phone_column == "手机"
    assert job.imported_count == 4
    assert Recipient.objects.get(phone="13700000003").variables == {
        "姓名": "黄大伟",
        "城市": "杭州",
        "备注": "“双十一”活动",
    }


@pytest.mark.parametrize("name", ["floats.csv", "floats.xlsx"])
def test_numbers_stored_as_floats(recipient_list, name):
    job = run(recipient_list, name)
    assert job.rejected_count == 0
    assert job.imported_count == 3
    if name.endswith("xlsx"):
        assert phones(recipient_list) == ["13800000001", "13800000002", "13800000003"]
        zhang = Recipient.objects.get(phone="13800000001").variables
        assert zhang == {"姓名": "张三", "生日": "1990-05-01", "积分": "100"}
        assert Recipient.objects.get(phone="13800000003").variables["积分"] == "12.5"


def test_scientific_notation_is_rejected_never_guessed(recipient_list):
    job = run(recipient_list, "scientific.csv")
    assert phones(recipient_list) == ["13500000003"]
    assert job.rejected_count == 3
    rows = report_rows(job)
    assert rows[0][:3] == ["row", "reason", "phone as in the file"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("2", "Excel scientific notation; digits lost", "1.38E+10"),
        ("3", "Excel scientific notation; digits lost", "1.38000000001e10"),
        ("5", "Excel scientific notation; digits lost", "1.35E+10"),
    ]


def test_international_numbers_rejected_unless_allowed(recipient_list, django_user_model):
    job = run(recipient_list, "international.csv")
    assert phones(recipient_list) == ["13300000001", "13300000002"]
    reasons = {r[0]: r[1] for r in report_rows(job)[1:]}
    assert reasons == {
        "2": "international number; this list accepts Chinese mobiles only",
        "3": "international number; this list accepts Chinese mobiles only",
    }
    other = type(recipient_list).objects.create(name="abroad")
    job = run(other, "international.csv", allow_international=True)
    assert job.imported_count == 4
    assert phones(other) == ["+14155550123", "+447400123456", "13300000001", "13300000002"]


def test_headerless_file_finds_the_phone_column_by_content(recipient_list):
    job = run(recipient_list, "headerless.csv")
    assert job.headers == ["col_A"] and job.phone_column == "col_A"
    assert job.imported_count == 3


def test_no_phone_column_needs_a_choice(recipient_list):
    job = service.inspect_upload(recipient_list, fixture_upload("no_phone_column.csv"))
    assert job.phone_column == ""
    with translation.override("en"):
        job = service.run_import(job.pk, language="en")
    assert job.state == ImportJob.State.FAILED
    assert job.error == "Choose the column that holds the phone numbers."
    assert not Recipient.objects.exists()


def test_semicolons_and_formula_like_values_are_kept_as_text(recipient_list):
    job = run(recipient_list, "semicolon_tabs.csv")
    assert job.imported_count == 2
    assert Recipient.objects.get(phone="13100000001").variables["口号"] == '=HYPERLINK("http://x")'


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "The file is empty."),
        ("empty.xlsx", "The file has no rows with data."),
        ("not_a_spreadsheet.xlsx", "This file is not a spreadsheet (CSV, XLSX or XLS)."),
    ],
)
def test_files_that_cannot_be_imported(recipient_list, name, message):
    with translation.override("en"), pytest.raises(SpreadsheetError) as error:
        service.inspect_upload(recipient_list, fixture_upload(name))
    with translation.override("en"):
        assert str(error.value) == message
    assert not ImportJob.objects.exists()


def test_blank_rows_are_skipped_not_rejected(recipient_list):
    job = run(recipient_list, "blank_rows.xlsx")
    assert job.imported_count == 3 and job.rejected_count == 0
    assert sorted(Recipient.objects.values_list("source_row", flat=True)) == [2, 5, 7]


def test_merged_header_cells(recipient_list):
    job = run(recipient_list, "merged_header.xlsx")
    assert job.headers == ["手机号", "姓名", "城市", "积分"]
    assert job.imported_count == 2
    assert Recipient.objects.get(phone="13800000002").variables == {
        "姓名": "李四",
        "城市": "上海",
        "积分": "20",
    }


def test_several_sheets_takes_the_one_with_phones(recipient_list):
    job = run(recipient_list, "several_sheets.xlsx")
    assert job.sheets == ["说明", "名单", "旧名单"] and job.sheet == "名单"
    assert phones(recipient_list) == ["13900000001", "13900000002"]


def test_formula_cells_use_saved_values_or_are_rejected(recipient_list):
    job = run(recipient_list, "formulas.xlsx")
    assert phones(recipient_list) == ["13800000001", "13800000002", "13800000004"]
    rows = report_rows(job)
    assert len(rows) == 2 and rows[1][0] == "4"
    assert rows[1][1] == "formula cell without a saved value; open and save it in Excel"


def test_duplicates_invalid_suppressed_and_already_listed(recipient_list):
    Recipient.objects.create(recipient_list=recipient_list, phone="13800000002")
    Suppression.objects.create(phone="13800000003", reason=Suppression.Reason.OPT_OUT)
    job = run(recipient_list, "duplicates_invalid.xlsx")
    assert job.state == ImportJob.State.DONE
    assert (
        job.imported_count,
        job.duplicate_in_file_count,
        job.duplicate_in_list_count,
        job.suppressed_count,
        job.rejected_count,
    ) == (2, 3, 1, 1, 6)
    assert phones(recipient_list) == ["13800000001", "13800000002", "13800000004"]
    rejected = {r[0]: r[1] for r in report_rows(job)[1:]}
    assert rejected == {
        "7": "wrong number of digits for a Chinese mobile",
        "8": "not a Chinese mobile number (11 digits starting 13–19)",
        "9": "not a phone number",
        "10": "international number; this list accepts Chinese mobiles only",
        "11": "no phone number",
        "12": "not a Chinese mobile number (11 digits starting 13–19)",
    }


def test_legacy_xls(recipient_list):
    job = run(recipient_list, "legacy.xls")
    assert job.file_format == "xls" and job.sheets == ["名单", "空白"]
    assert phones(recipient_list) == ["13800000001", "13800000002"]
    assert Recipient.objects.get(phone="13800000001").variables == {
        "姓名": "张三",
        "注册日期": "2020-01-02",
        "积分": "10",
    }
    assert job.rejected_count == 1
    assert report_rows(job)[1][:2] == ["4", "Excel scientific notation; digits lost"]


def test_the_content_decides_the_format_not_the_name(recipient_list):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .conftest import FIXTURES

    upload = SimpleUploadedFile("名单.csv", (FIXTURES / "floats.xlsx").read_bytes())
    job = service.inspect_upload(recipient_list, upload)
    assert job.file_format == "xlsx"
    assert service.run_import(job.pk).imported_count == 3
