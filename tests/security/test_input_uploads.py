"""Hostile spreadsheets: every one is refused (or read) with a message the marketer sees on the
page, at once, keeping nothing of it; never a 500.

DTDs, damaged archives and XML, a row of a million columns, cells and workbooks too large, an
upload larger than the limit (refused before it is read in full)."""

import io
import re
import time
import zipfile
from unittest import mock

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from messaging.importing import readers
from messaging.importing.readers import SpreadsheetError, open_table
from messaging.models import ImportJob, RecipientList
from messaging.views.portal import imports as views

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def client(marketer):
    client = Client(raise_request_exception=False, headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(marketer)
    return client


@pytest.fixture
def recipient_list(db):
    return RecipientList.objects.create(name="会员")


def upload(client, recipient_list, name: str, data: bytes):
    return client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]),
        {"file": SimpleUploadedFile(name, data)},
    )


def refused(response, *words: str) -> None:
    """The upload page again, the reason on it, nothing kept."""
    assert response.status_code in (200, 413), response.status_code
    text = response.content.decode()
    for word in words:
        assert word in text, (word, re.sub(r"\s+", " ", text)[-3000:])
    assert not ImportJob.objects.exists()


def workbook(rows: list[list], **sheet_xml_edits) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewrite(xlsx: bytes, part: str, edit) -> bytes:
    """The workbook with one part's bytes replaced by ``edit(old bytes)``."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, edit(data) if info.filename == part else data)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
PHONES = [["手机号", "姓名"]] + [[f"138{i:08d}", f"用户{i}"] for i in range(1, 41)]

LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n"
)
EXTERNAL = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'


# --------------------------------------------------------------------------- DTD


@pytest.mark.parametrize("part", [SHEET, "xl/workbook.xml", "[Content_Types].xml"])
@pytest.mark.parametrize(
    "doctype",
    [LAUGHS, EXTERNAL, b"<!-- x -->\n<!DOCTYPE worksheet>"],
    ids=["billion-laughs", "external-entity", "bare-doctype"],
)
def test_an_xlsx_with_a_dtd_is_refused_at_upload(client, recipient_list, part, doctype):
    def add_dtd(xml: bytes) -> bytes:
        body = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", xml)
        return doctype + body.replace(b"<v>1</v>", b"<v>&e;</v>", 1)

    data = rewrite(workbook(PHONES), part, add_dtd)
    refused(upload(client, recipient_list, "dtd.xlsx", data), "document type declaration")


def test_a_dtd_hidden_behind_a_long_prolog_is_refused(client, recipient_list):
    def pad(xml: bytes) -> bytes:
        body = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", xml)
        return b"<?xml version='1.0'?>" + b"<!-- padding -->" * 8000 + EXTERNAL[22:] + body

    data = rewrite(workbook(PHONES), SHEET, pad)
    refused(upload(client, recipient_list, "pad.xlsx", data), "document type declaration")


# --------------------------------------------------------------------------- damage


def corrupt_sheet(xlsx: bytes, at: float) -> bytes:
    """Two bytes of the sheet's compressed data flipped, ``at`` (0..1) into it."""
    data = bytearray(xlsx)
    info = zipfile.ZipFile(io.BytesIO(xlsx)).getinfo(SHEET)
    header = info.header_offset
    name_len, extra_len = (
        int.from_bytes(data[header + 26 : header + 28], "little"),
        int.from_bytes(data[header + 28 : header + 30], "little"),
    )
    start = header + 30 + name_len + extra_len
    spot = start + int(info.compress_size * at)
    data[spot] ^= 0xFF
    data[spot + 1] ^= 0x55
    return bytes(data)


@pytest.mark.parametrize("at", [0.0, 0.1, 0.5, 0.9])
def test_two_corrupted_bytes_in_an_xlsx_are_refused_at_upload(client, recipient_list, at):
    data = corrupt_sheet(workbook(PHONES), at)
    refused(upload(client, recipient_list, "damaged.xlsx", data), "damaged")


def test_a_damaged_central_directory_is_refused(client, recipient_list):
    data = bytearray(workbook(PHONES))
    directory = data.find(b"PK\x01\x02" + bytes(data[data.find(b"PK\x01\x02") + 4 :][:0]))
    while data[directory + 46 : directory + 46 + len(SHEET)] != SHEET.encode():
        directory = data.find(b"PK\x01\x02", directory + 4)
    data[directory + 42 : directory + 46] = (len(data) - 100).to_bytes(4, "little")  # its offset
    refused(upload(client, recipient_list, "damaged.xlsx", bytes(data)), "damaged")


def test_broken_xml_within_the_first_5000_rows_is_shown_on_the_mapping_page(client, recipient_list):
    rows = [["手机号", "姓名"]] + [[f"138{i:08d}", "x" * 20] for i in range(1, 3001)]

    def break_row(xml: bytes) -> bytes:
        return xml.replace(b'<row r="2500">', b'<row r="2500"><c r="A2500"></row>', 1)

    data = rewrite(workbook(rows), SHEET, break_row)
    response = upload(client, recipient_list, "broken.xlsx", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = ImportJob.objects.get()
    page = client.get(reverse("portal:import_mapping", args=[job.pk]))
    assert page.status_code == 200
    assert "damaged after row" in page.content.decode()
    confirm = client.post(
        reverse("portal:import_mapping", args=[job.pk]), {"phone_column": "手机号", "confirm": "1"}
    )
    assert confirm.status_code == 302
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and "damaged" in job.error
    assert not recipient_list.recipients.exists()


def test_unreadable_cells_reject_their_rows_not_the_file(tmp_path):
    def bad_cells(xml: bytes) -> bytes:
        xml = xml.replace(b'<c r="B3" t="s"><v>', b'<c r="B3" t="s"><v>99999', 1)
        return xml.replace(b'<c r="A4" t="n">', b'<c r="A4" t="n" s="zz">', 1)

    path = tmp_path / "cells.xlsx"
    path.write_bytes(rewrite(workbook(PHONES), SHEET, bad_cells))
    table = open_table(str(path))
    assert len(list(table.rows())) == 40


# --------------------------------------------------------------------------- limits


def test_a_csv_row_of_a_million_columns_is_refused_at_once(client, recipient_list):
    data = b"phone," + b"x," * 1_000_000 + b"\r\n13800000001\r\n"
    started = time.monotonic()
    response = upload(client, recipient_list, "wide.csv", data)
    assert time.monotonic() - started < 5
    refused(response, "Line 1 of the CSV file is longer than")
    recipient_list.refresh_from_db()
    assert recipient_list.columns == []
    assert len(client.get("/portal/lists/").content) < 100_000


def test_a_csv_of_201_columns_is_refused_naming_the_row(client, recipient_list):
    header = ",".join(["手机号"] + [f"c{i}" for i in range(200)])
    row = ",".join(["13800000001"] + ["v"] * 200)
    response = upload(client, recipient_list, "wide.csv", f"{header}\n{row}\n".encode())
    refused(response, "Row 1 has values beyond column 200")


def test_empty_cells_beyond_200_columns_are_no_columns(client, recipient_list):
    data = ("手机号,姓名" + "," * 400 + "\n13800000001,张三" + "," * 400 + "\n").encode()
    response = upload(client, recipient_list, "trailing.csv", data)
    assert response.status_code == 302
    assert ImportJob.objects.get().headers == ["手机号", "姓名"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_csv_cell_too_long_is_refused_naming_it(client, recipient_list, encoding):
    text = "手机号,备注\n13800000001,短\n13800000002," + "长" * 2001 + "\n"
    response = upload(client, recipient_list, "long.csv", text.encode(encoding))
    refused(response, "Row 3, column B holds 2001 characters")


def test_an_xlsx_value_in_column_201_is_refused(client, recipient_list):
    row = ["13800000001"] + [None] * 199 + ["值"]
    response = upload(client, recipient_list, "wide.xlsx", workbook([["手机号"], row]))
    refused(response, "Row 2 has values beyond column 200")


def test_an_xlsx_row_of_many_empty_cells_is_read(client, recipient_list):
    def widen(xml: bytes) -> bytes:
        empties = b"".join(
            b'<c r="%s2" s="0"/>' % readers._column_letter(i).encode() for i in range(2, 16000)
        )
        return re.sub(rb'(<row r="2"[^>]*>.*?)</row>', lambda m: m[1] + empties + b"</row>", xml)

    data = rewrite(workbook([["手机号", "姓名"], ["13800000001", "张三"]]), SHEET, widen)
    response = upload(client, recipient_list, "styled.xlsx", data)
    assert response.status_code == 302
    assert ImportJob.objects.get().headers == ["手机号", "姓名"]


def test_an_xlsx_row_wider_than_excel_makes_is_refused_at_once(client, recipient_list):
    def widen(xml: bytes) -> bytes:
        empties = b'<c s="0"/>' * 2_000_000
        return re.sub(rb'(<row r="2"[^>]*>.*?)</row>', lambda m: m[1] + empties + b"</row>", xml)

    data = rewrite(workbook([["手机号", "姓名"], ["13800000001", "张三"]]), SHEET, widen)
    started = time.monotonic()
    response = upload(client, recipient_list, "wide.xlsx", data)
    assert time.monotonic() - started < 5
    refused(response, "Row 2 has values beyond column 200")


def test_an_xlsx_cell_too_long_is_refused(client, recipient_list):
    response = upload(
        client,
        recipient_list,
        "long.xlsx",
        workbook([["手机号", "备注"], ["13800000001", "x" * 2001]]),
    )
    refused(response, "Row 2, column B holds 2001 characters")


def test_an_xlsx_that_unpacks_too_large_is_refused(client, recipient_list, monkeypatch):
    monkeypatch.setattr(readers, "MAX_UNCOMPRESSED_BYTES", 20_000)
    data = workbook([["手机号", "备注"]] + [["13800000001", "x" * 100]] * 300)
    refused(upload(client, recipient_list, "bomb.xlsx", data), "unpacks to more than")


def test_an_xlsx_of_too_many_parts_is_refused(client, recipient_list, monkeypatch):
    monkeypatch.setattr(readers, "MAX_ZIP_ENTRIES", 5)
    refused(upload(client, recipient_list, "parts.xlsx", workbook(PHONES)), "more than 5 parts")


def test_a_nul_in_the_file_name_and_in_cells_is_not_kept(client, recipient_list):
    # A NUL in the first 8 KB makes the file binary (refused); later ones are cells' data.
    data = ("手机号,姓名\n" + "13800000001,张三\n" * 1000 + "13800000002,李\x00四\n").encode()
    response = client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]),
        {
            "file": SimpleUploadedFile(
                "li\x00st\ud800.csv".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                data,
            )
        },
    )
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert "\x00" not in job.original_name
    client.post(
        reverse("portal:import_mapping", args=[job.pk]), {"phone_column": "手机号", "confirm": "1"}
    )
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE, job.error
    assert recipient_list.recipients.get(phone="13800000002").variables == {"姓名": "李四"}


# --------------------------------------------------------------------------- upload size


def test_an_upload_larger_than_the_limit_is_refused_before_it_is_read(
    client, recipient_list, monkeypatch
):
    monkeypatch.setattr(views, "MAX_UPLOAD_BYTES", 1000)
    data = b"phone\n" + b"13800000001\n" * 10_000  # 120 KB: more than 1000 B + the form
    with mock.patch(
        "django.http.multipartparser.MultiPartParser.parse",
        side_effect=AssertionError("the body was read"),
    ):
        response = upload(client, recipient_list, "big.csv", data)
    assert response.status_code == 413
    refused(response, "The file is larger than 0 MB.")


def test_an_upload_growing_past_the_limit_stops_being_read(client, recipient_list, monkeypatch):
    monkeypatch.setattr(views, "MAX_UPLOAD_BYTES", 1000)
    monkeypatch.setattr(views, "UPLOAD_FORM_OVERHEAD", 10**7)  # past the Content-Length check
    received = []
    real = views.UploadSizeLimit.receive_data_chunk

    def counting(self, raw_data, start):
        received.append(len(raw_data))
        return real(self, raw_data, start)

    monkeypatch.setattr(views.UploadSizeLimit, "receive_data_chunk", counting)
    data = b"phone\n" + b"13800000001\n" * 30_000  # 360 KB: several chunks
    response = upload(client, recipient_list, "big.csv", data)
    assert response.status_code == 413
    refused(response, "The file is larger than")
    assert sum(received) < len(data)


def test_an_upload_within_the_limit_is_read(client, recipient_list):
    response = upload(client, recipient_list, "ok.csv", b"phone\n13800000001\n")
    assert response.status_code == 302


def test_opening_a_damaged_file_raises_only_spreadsheet_errors(tmp_path):
    path = tmp_path / "x.xlsx"
    for data in (
        b"PK\x03\x04" + b"\x00" * 100,
        corrupt_sheet(workbook(PHONES), 0.3),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600,
    ):
        path.write_bytes(data)
        with pytest.raises(SpreadsheetError):
            list(open_table(str(path)).rows())
