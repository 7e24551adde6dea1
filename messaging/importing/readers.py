"""Streaming readers for recipient spreadsheets: CSV, XLSX and XLS.

``open_table(path)`` looks at a file (its content, not its name, decides the format), picks the
sheet, finds the header row and the phone column, and returns a ``Table`` whose ``rows()``
streams the data rows as ``(row number, [cell values])`` without loading the file into memory
(XLS, whose format caps a sheet at 65,536 rows, is the exception: xlrd reads it whole).

* CSV: a BOM decides (UTF-8 or UTF-16, as Excel writes "Unicode text"); otherwise the whole
  file is checked as UTF-8 and, failing that, read as GB18030 (a superset of GBK and GB2312,
  which is what Chinese Excel saves).  The delimiter is sniffed from the first line.
* XLSX: openpyxl reads the workbook parts (sheets, shared strings, styles); each sheet's XML
  is streamed with ``iterparse`` and every row dropped once read.  Formula cells give the value
  Excel saved with them; a formula without a saved value (a file written by a program that
  never calculated it) comes back as ``FORMULA_WITHOUT_VALUE`` so that the row is rejected
  clearly, never read as empty.
* XLS: xlrd (formula cells always carry their computed result in this format).

Header detection: the first rows are scanned for a row that names a phone column (手机号,
mobile, …); failing that, the row above the first row holding a phone number; failing that, the
widest of the first rows.  Title rows above the header (often one merged cell) are skipped.
When the header row has empty cells — the tail of merged cells — and the row below it fills
them without holding a phone number, the two rows form a two-level header: the lower row names
the columns and empty positions fall back to the merged title above them.

Limits, the same for every format, each refused at once with a message that names the row:
``MAX_COLUMNS`` columns holding values (empty cells beyond them are ignored),
``MAX_CELL_CHARS`` characters per cell, ``MAX_LINE_CHARS`` per CSV line (read with that bound,
so a one-line file of a million columns is refused before it is in memory) and, for XLSX,
``MAX_UNCOMPRESSED_BYTES`` for all its parts together and ``MAX_ZIP_ENTRIES`` parts.  An XLSX
part with a document type declaration (DTD; Excel never writes one) is refused, and a file
damaged anywhere — a broken archive, bad XML, a sheet xlrd cannot read — is a
``SpreadsheetError`` saying so, never an unexpected exception.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import os
import re
import struct
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from .phones import FORMULA_WITHOUT_VALUE, CellError, normalize

HEAD_ROWS = 30  # rows scanned for the header
SAMPLE_ROWS = 10  # data rows shown on the mapping page
MAX_COLUMNS = 200
MAX_CELL_CHARS = 2000  # longer than any SMS; a longer cell is no message variable
MAX_LINE_CHARS = MAX_COLUMNS * (MAX_CELL_CHARS + 3)  # a CSV line: every cell quoted, at most
MAX_UNCOMPRESSED_BYTES = 1 << 30  # an XLSX's parts together, as unpacked
MAX_ZIP_ENTRIES = 5000
EXCEL_COLUMNS = 16384  # XFD: no spreadsheet program writes a wider row
EXACT_COUNT_BYTES = 1 << 20  # a CSV this small has its rows counted, not estimated
XML_PROLOG_BYTES = 65536  # before its root element, an XLSX part has a declaration, at most

PHONE_HEADERS = [
    # exact names, best first
    "手机号",
    "手机号码",
    "手机",
    "移动电话",
    "联系手机",
    "mobile",
    "mobilephone",
    "mobileno",
    "mobilenumber",
    "cellphone",
    "cell",
    "msisdn",
    "电话",
    "电话号码",
    "联系电话",
    "联系方式",
    "号码",
    "phone",
    "phonenumber",
    "phoneno",
    "tel",
    "telephone",
]
PHONE_HEADER_PARTS = ("手机", "电话", "mobile", "phone")
_HEADER_NOISE = re.compile(r"[\s_\-*:：#.·]+|[(（\[【].*?[)）\]】]")


class SpreadsheetError(Exception):
    """A file that cannot be imported; the message is for the marketer."""


def too_many_columns(row: int) -> SpreadsheetError:
    return SpreadsheetError(
        _(
            "Row %(row)s has values beyond column %(max)s; at most %(max)s columns can be "
            "imported. Remove the extra columns and upload the file again."
        )
        % {"row": row, "max": MAX_COLUMNS}
    )


def cell_too_long(row: int, column: int, length: int) -> SpreadsheetError:
    return SpreadsheetError(
        _(
            "Row %(row)s, column %(column)s holds %(length)s characters; a cell may hold at "
            "most %(max)s. Shorten it and upload the file again."
        )
        % {
            "row": row,
            "column": _column_letter(column - 1),
            "length": length,
            "max": MAX_CELL_CHARS,
        }
    )


def no_rows() -> SpreadsheetError:
    return SpreadsheetError(
        _(
            "The sheet has column names but no rows of data below them: there is nothing to "
            "import. The list was not changed."
        )
    )


def damaged(file_format: str | None, error: BaseException, row: int | None = None):
    """A file that broke while being read: what kind, and where, without any detail of ours
    (the exception's type names what broke)."""
    values = {"format": (file_format or "").upper(), "row": row, "error": type(error).__name__}
    if row and file_format:
        message = _(
            "The %(format)s file is damaged after row %(row)s (%(error)s). Open it in Excel "
            "or WPS, save it again and upload the saved file."
        )
    elif file_format:
        message = _(
            "The %(format)s file is damaged (%(error)s). Open it in Excel or WPS, save it "
            "again and upload the saved file."
        )
    else:
        message = _(
            "The file is damaged (%(error)s). Open it in Excel or WPS, save it again and "
            "upload the saved file."
        )
    return SpreadsheetError(message % values)


def _guarded(file_format: str, rows: Iterator[tuple[int, list]]) -> Iterator[tuple[int, list]]:
    """``rows``, with anything unexpected it raises turned into ``damaged``; closing this
    closes ``rows`` (and the file it reads) at once."""
    number = None
    try:
        for number, values in rows:
            yield number, values
    except SpreadsheetError:
        raise
    except Exception as e:
        raise damaged(file_format, e, number) from e
    finally:
        rows.close()


def header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def phone_header_rank(text: str) -> int | None:
    """Lower is better; None when the header does not name a phone column."""
    key = header_key(text)
    if not key:
        return None
    if key in PHONE_HEADERS:
        return PHONE_HEADERS.index(key)
    if len(key) <= 12 and any(part in key for part in PHONE_HEADER_PARTS):
        return len(PHONE_HEADERS)
    return None


def cell_text(value) -> str:
    """A cell as text for variables and previews."""
    if value is None or value is FORMULA_WITHOUT_VALUE:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _looks_like_phone(value) -> bool:
    return value is not None and isinstance(normalize(value, allow_international=True), str)


def _blank(values) -> bool:
    return all(cell_text(v) == "" for v in values)


# --------------------------------------------------------------------------- format sniffing

CSV, XLSX, XLS = "csv", "xlsx", "xls"


def detect_format(path: str) -> str:
    size = os.path.getsize(path)
    if size == 0:
        raise SpreadsheetError(_("The file is empty."))
    with open(path, "rb") as f:
        head = f.read(8192)
    if head.startswith(b"PK\x03\x04"):
        _check_zip_directory(path)
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except Exception as e:  # BadZipFile, and what a forged directory raises
            raise SpreadsheetError(_("The file is a damaged XLSX workbook.")) from e
        if "xl/workbook.xml" in names:
            return XLSX
        raise SpreadsheetError(_("This file is not a spreadsheet (CSV, XLSX or XLS)."))
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return XLS
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return CSV
    if b"\x00" in head or _binary_ratio(head) > 0.05:
        raise SpreadsheetError(_("This file is not a spreadsheet (CSV, XLSX or XLS)."))
    return CSV


def _check_zip_directory(path: str) -> None:
    """Refuse an archive whose central directory alone is too large to read (``zipfile`` reads
    all of it at once): too many parts, or a directory larger than they could need."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - 65536 - 22))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise SpreadsheetError(_("The file is a damaged XLSX workbook."))
    _disk, _start, _here, entries, directory_size, _offset, _comment = struct.unpack(
        "<4xHHHHIIH", tail[at : at + 22]
    )
    # 0xFFFF / 0xFFFFFFFF mean "see the ZIP64 record": far beyond any workbook here either way.
    if entries > MAX_ZIP_ENTRIES or directory_size > MAX_ZIP_ENTRIES * 1024:
        raise SpreadsheetError(
            _("The XLSX workbook has more than %(max)s parts; it cannot be imported.")
            % {"max": MAX_ZIP_ENTRIES}
        )


def _check_xlsx_parts(archive: zipfile.ZipFile) -> None:
    """Before any part is parsed: the parts' unpacked size together, and no DTD in any XML part
    (entities are how XML files blow up or reach outside themselves; Excel never writes one)."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise SpreadsheetError(
            _("The XLSX workbook has more than %(max)s parts; it cannot be imported.")
            % {"max": MAX_ZIP_ENTRIES}
        )
    if sum(info.file_size for info in infos) > MAX_UNCOMPRESSED_BYTES:
        raise SpreadsheetError(
            _(
                "The XLSX workbook unpacks to more than %(max)s MB; split it into smaller "
                "files or save it as CSV."
            )
            % {"max": MAX_UNCOMPRESSED_BYTES >> 20}
        )
    for info in infos:
        if info.filename.lower().endswith((".xml", ".rels", ".vml")) and _has_dtd(archive, info):
            raise SpreadsheetError(
                _(
                    "The XLSX workbook contains a document type declaration (DTD), which "
                    "spreadsheets never need; it was refused. Save it again from Excel or WPS."
                )
            )


_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def _has_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether an XML part declares a document type: in its prolog, before the root element
    (only an XML declaration, processing instructions, comments and spaces may come first)."""
    with archive.open(info) as part:
        head = part.read(XML_PROLOG_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    head = head.removeprefix(codecs.BOM_UTF8)
    position = 0
    while match := _PROLOG_ITEM.match(head, position):
        if match.end() == position:
            break
        position = match.end()
    rest = head[position:].lstrip()
    if rest.startswith(b"<!"):
        return True  # a DOCTYPE (or anything else that is no element) before the root
    # A prolog longer than XML_PROLOG_BYTES hides what follows it: refused the same way.
    return not rest and len(head) >= XML_PROLOG_BYTES


def _binary_ratio(data: bytes) -> float:
    if not data:
        return 0.0
    control = sum(1 for b in data if b < 32 and b not in (9, 10, 13, 12))
    return control / len(data)


def detect_encoding(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8"
    if _decodes(path, "gb18030"):
        return "gb18030"
    raise SpreadsheetError(
        _("The file's text encoding is not recognised; save it as CSV UTF-8 or as XLSX.")
    )


def _decodes(path: str, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as f:
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# --------------------------------------------------------------------------- raw row sources


def _bounded_lines(f) -> Iterator[str]:
    """The lines of a text file, each read with a bound: a line longer than ``MAX_LINE_CHARS``
    is refused before more of it is read."""
    number = 0
    readline = f.readline
    while line := readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise SpreadsheetError(
                _(
                    "Line %(line)s of the CSV file is longer than %(max)s characters: at most "
                    "%(columns)s columns of %(cell)s characters each can be imported."
                )
                % {
                    "line": number,
                    "max": MAX_LINE_CHARS,
                    "columns": MAX_COLUMNS,
                    "cell": MAX_CELL_CHARS,
                }
            )
        yield line


def _check_csv_row(number: int, row: list[str]) -> list[str]:
    """The row within the limits (empty cells beyond ``MAX_COLUMNS`` dropped), else refused."""
    if len(row) > MAX_COLUMNS:
        if any(cell.strip() for cell in row[MAX_COLUMNS:]):
            raise too_many_columns(number)
        row = row[:MAX_COLUMNS]
    for i, cell in enumerate(row):
        if len(cell) > MAX_CELL_CHARS:
            raise cell_too_long(number, i + 1, len(cell))
    return row


def _csv_rows(path: str, encoding: str, delimiter: str) -> Iterator[tuple[int, list]]:
    """Rows numbered as a spreadsheet program shows them: one per record, a quoted cell that
    spans several lines being one record (blank lines count, as Excel shows them as rows)."""
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(_bounded_lines(f), delimiter=delimiter)
        number = 0
        limit = MAX_CELL_CHARS  # no cell of a shorter row can be too long: not looked at
        try:
            for row in reader:
                number += 1
                if row and any(row):
                    if len(row) > MAX_COLUMNS or sum(map(len, row)) > limit:
                        row = _check_csv_row(number, row)
                    yield number, row
        except csv.Error as e:
            raise SpreadsheetError(
                _("Line %(line)s of the CSV file cannot be read: %(error)s")
                % {"line": reader.line_num, "error": e}
            ) from e


def _csv_first_line(path: str, encoding: str) -> str:
    with open(path, encoding=encoding, newline="") as f:
        for line in _bounded_lines(f):
            if line.strip():
                return line
    return ""


class _XlsxBook:
    """An XLSX workbook opened for streaming: names and parts of its sheets, shared strings,
    which cell styles are dates.  ``close()`` closes the file.

    openpyxl reads the workbook-level parts; the sheets are parsed here (see ``_xlsx_rows``).
    ``openpyxl.load_workbook(read_only=True)`` would scan every sheet once just to size it when
    the file has no ``<dimension>`` (as files written by openpyxl's write-only mode), and its
    cell parser is several times slower than this one.  A file object, not a path, so that
    openpyxl does not insist on an ``.xlsx`` name: the content decided the format."""

    def __init__(self, path: str):
        from openpyxl.reader.excel import ExcelReader
        from openpyxl.styles.stylesheet import apply_stylesheet

        self.handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            with zipfile.ZipFile(self.handle) as archive:
                _check_xlsx_parts(archive)
        except SpreadsheetError:
            self.handle.close()
            raise
        except Exception as e:
            self.handle.close()
            raise damaged(XLSX, e) from e
        try:
            reader = ExcelReader(self.handle, read_only=True, data_only=True)
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
            self.archive = reader.archive
            self.shared_strings = reader.shared_strings
            self.epoch = reader.wb.epoch
            self.date_styles = set(reader.wb._date_formats) | set(reader.wb._timedelta_formats)
            self.parts = {
                sheet.name: rel.target
                for sheet, rel in reader.parser.find_sheets()
                if rel.target in reader.valid_files and "chartsheet" not in rel.Type
            }
        except Exception as e:
            self.handle.close()
            raise SpreadsheetError(
                _("The XLSX workbook cannot be read: %(error)s") % {"error": type(e).__name__}
            ) from e

    @property
    def sheetnames(self) -> list[str]:
        return list(self.parts)

    def estimated_rows(self, sheet: str) -> int:
        """From ``<dimension>`` when the sheet has one, else from its size."""
        part = self.parts[sheet]
        with self.archive.open(part) as src:
            head = src.read(65536)
        match = re.search(rb'<(?:\w+:)?dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"', head)
        if match:
            return int(match.group(1))
        rows = head.count(b"<row") or head.count(b":row ")
        if not rows:
            return 0
        return int(self.archive.getinfo(part).file_size * rows / len(head))

    def close(self) -> None:
        self.archive.close()
        self.handle.close()


def _open_xlsx(path: str) -> _XlsxBook:
    return _XlsxBook(path)


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _C, _V, _F, _IS, _T = (_MAIN + t for t in ("row", "c", "v", "f", "is", "t"))
_COLUMN_CACHE: dict[str, int] = {}


def _column(ref: str) -> int:
    letters = ref.rstrip("0123456789")
    index = _COLUMN_CACHE.get(letters)
    if index is None:
        index = 0
        for ch in letters:
            index = index * 26 + ord(ch) - 64
        _COLUMN_CACHE[letters] = index
    return index


def _xlsx_rows(book: _XlsxBook, sheet_name: str) -> Iterator[tuple[int, list]]:
    """Rows of a sheet as values: saved values of formula cells (``FORMULA_WITHOUT_VALUE``
    when a formula has none), shared and inline strings, numbers, dates, booleans, errors.
    A cell whose value cannot be read (a number that is none, a shared string that does not
    exist) is ``CellError("#VALUE!")``: its row is rejected, not the file."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.datetime import from_excel

    strings = book.shared_strings
    date_styles = book.date_styles
    epoch = book.epoch
    number = 0
    sheet_data = _MAIN + "sheetData"
    with book.archive.open(book.parts[sheet_name]) as source:
        parent = None
        row, kept, dropped = None, None, 0
        # The same parser openpyxl uses; the parts were checked for a DTD (_check_xlsx_parts),
        # so no entity is ever expanded.
        for event, element in iterparse(source, events=("start", "end")):  # noqa: S314
            tag = element.tag
            if event == "start":
                if tag == _ROW:
                    row, kept, dropped = element, None, 0
                    r = element.get("r")
                    number = int(r) if r else number + 1
                elif parent is None and tag == sheet_data:
                    parent = element
                continue
            if tag != _ROW:
                if tag == _C and row is not None and len(row) > MAX_COLUMNS:
                    # A row of more cells than can be imported (a row may hold millions):
                    # refused at its first value beyond MAX_COLUMNS, empty cells there dropped
                    # as soon as they are read.  The parser reads ahead, so the cell is found
                    # by identity: the first of the row's cells not yet looked at.
                    if kept is None or kept >= len(row) or row[kept] is not element:
                        kept = next(i for i, child in enumerate(row) if child is element)
                    ref = element.get("r")
                    if (_column(ref) if ref else kept + 1) <= MAX_COLUMNS:
                        kept += 1
                        if kept > 2 * MAX_COLUMNS:  # the same columns again and again
                            raise too_many_columns(number)
                    elif _has_value(element) or dropped >= EXCEL_COLUMNS:
                        raise too_many_columns(number)  # the second: more than Excel makes
                    else:
                        del row[kept]
                        dropped += 1
                continue
            values: list = []
            column = 0
            for cell in element:
                if cell.tag != _C:
                    continue
                ref = cell.get("r")
                column = _column(ref) if ref else column + 1
                if column > MAX_COLUMNS:
                    if _has_value(cell):
                        raise too_many_columns(number)
                    continue
                kind = cell.get("t", "n")
                text = cell.findtext(_V)
                try:
                    if kind == "inlineStr":
                        inline = cell.find(_IS)
                        value = (
                            "".join(t.text or "" for t in inline.iter(_T))
                            if inline is not None
                            else None
                        )
                    elif text is None or text == "":
                        value = FORMULA_WITHOUT_VALUE if cell.find(_F) is not None else None
                    elif len(text) > MAX_CELL_CHARS:
                        value = text  # refused below, whatever its type says
                    elif kind == "s":
                        value = strings[int(text)]
                    elif kind == "n":
                        value = (
                            float(text) if "." in text or "E" in text or "e" in text else int(text)
                        )
                        style = cell.get("s")
                        if style and int(style) in date_styles:
                            try:
                                value = from_excel(value, epoch)
                            except (OverflowError, ValueError):
                                value = CellError("#VALUE!")
                    elif kind == "b":
                        value = text == "1"
                    elif kind == "e":
                        value = CellError(text)
                    else:  # "str": a formula's text result; "d": an ISO date
                        value = text
                except (ValueError, IndexError, TypeError, OverflowError):
                    value = CellError("#VALUE!")
                if value.__class__ is str and len(value) > MAX_CELL_CHARS:
                    raise cell_too_long(number, column, len(value))
                if column > len(values) + 1:
                    values.extend([None] * (column - len(values) - 1))
                values.append(value)
            element.clear()
            row = None
            if parent is not None:
                parent.remove(element)
            if values and not _blank(values):
                yield number, values


def _has_value(cell) -> bool:
    return bool(cell.findtext(_V) or cell.find(_IS) is not None)


def _open_xls(path: str):
    import xlrd

    try:
        return xlrd.open_workbook(path, on_demand=True)
    except Exception as e:
        raise SpreadsheetError(
            _("The XLS workbook cannot be read: %(error)s") % {"error": type(e).__name__}
        ) from e


def _xls_rows(book, sheet_name: str) -> Iterator[tuple[int, list]]:
    import xlrd

    sheet = book.sheet_by_name(sheet_name)
    for r in range(sheet.nrows):
        values = []
        cells = sheet.row(r)
        if len(cells) > MAX_COLUMNS:
            if any(
                c.ctype not in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK) for c in cells[MAX_COLUMNS:]
            ):
                raise too_many_columns(r + 1)
            cells = cells[:MAX_COLUMNS]
        for column, cell in enumerate(cells, 1):
            kind = cell.ctype
            if kind == xlrd.XL_CELL_TEXT and len(cell.value) > MAX_CELL_CHARS:
                raise cell_too_long(r + 1, column, len(cell.value))
            if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                values.append(None)
            elif kind == xlrd.XL_CELL_DATE:
                try:
                    values.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
                except (ValueError, OverflowError):
                    values.append(cell.value)
            elif kind == xlrd.XL_CELL_BOOLEAN:
                values.append(bool(cell.value))
            elif kind == xlrd.XL_CELL_ERROR:
                values.append(CellError(xlrd.error_text_from_code.get(cell.value, "#ERR")))
            else:
                values.append(cell.value)
        if not _blank(values):
            yield r + 1, values


# --------------------------------------------------------------------------- tables


@dataclass
class Table:
    """One sheet of a file, its header and where its data starts."""

    path: str
    file_format: str
    sheets: list[str] = field(default_factory=list)
    sheet: str = ""
    encoding: str = ""
    delimiter: str = ","
    data_start: int = 1  # physical row of the first data row
    headers: list[str] = field(default_factory=list)
    phone_column: str | None = None  # detected; the marketer may choose another
    phone_column_guessed: bool = False  # found by its cells, no header naming it
    sample: list[tuple[int, list]] = field(default_factory=list)
    estimated_rows: int = 0

    def raw_rows(self) -> Iterator[tuple[int, list]]:
        """Every row holding data, as ``(row number, values)``; ``SpreadsheetError`` for a file
        that breaks while being read."""
        return _guarded(self.file_format, self._raw_rows())

    def _raw_rows(self) -> Iterator[tuple[int, list]]:
        if self.file_format == CSV:
            yield from _csv_rows(self.path, self.encoding, self.delimiter)
        elif self.file_format == XLSX:
            workbook = _open_xlsx(self.path)
            try:
                yield from _xlsx_rows(workbook, self.sheet)
            finally:
                workbook.close()
        else:
            book = _open_xls(self.path)
            try:
                yield from _xls_rows(book, self.sheet)
            finally:
                book.release_resources()

    def rows(self) -> Iterator[tuple[int, list]]:
        """The data rows, as ``(row number, values)`` with values aligned to ``headers``."""
        width = len(self.headers)
        start = self.data_start
        for number, values in self.raw_rows():
            if number < start:
                continue
            if len(values) < width:
                values = list(values) + [None] * (width - len(values))
            elif len(values) > width:
                values = values[:width]
            yield number, values

    def column_index(self, name: str) -> int:
        try:
            return self.headers.index(name)
        except ValueError:
            raise SpreadsheetError(
                _("The file has no column named “%(name)s”.") % {"name": name}
            ) from None


def _reading(function):
    """``SpreadsheetError`` for whatever else reading a file raises (a damaged file)."""

    @functools.wraps(function)
    def read(path: str, *args, **kwargs):
        try:
            return function(path, *args, **kwargs)
        except SpreadsheetError:
            raise
        except Exception as e:
            raise damaged(kwargs.get("file_format"), e) from e

    return read


@_reading
def open_table(
    path: str,
    *,
    sheet: str | None = None,
    file_format: str | None = None,
    encoding: str | None = None,
) -> Table:
    """Look at a file and describe its table (header, phone column, a sample, a row estimate).

    Raises ``SpreadsheetError`` with a message for the marketer when it cannot be imported."""
    file_format = file_format or detect_format(path)
    table = Table(path=path, file_format=file_format)
    if file_format == CSV:
        table.encoding = encoding or detect_encoding(path)
        first = _csv_first_line(path, table.encoding)
        if not first.strip().lstrip("\ufeff"):
            raise SpreadsheetError(_("The file is empty."))
        table.delimiter = sniff_delimiter(first)
        head = _take(table.raw_rows(), HEAD_ROWS)
    elif file_format in (XLSX, XLS):
        head = _choose_sheet(table, sheet)
    else:
        raise SpreadsheetError(_("This file is not a spreadsheet (CSV, XLSX or XLS)."))
    if not head:
        raise SpreadsheetError(_("The file has no rows with data."))
    _find_header(table, head)
    if not any(row[0] >= table.data_start for row in head):
        raise no_rows()
    table.sample = [row for row in head if row[0] >= table.data_start][:SAMPLE_ROWS]
    table.estimated_rows = _estimate_rows(table, head)
    return table


def _take(rows: Iterator, n: int) -> list:
    out = []
    for row in rows:
        out.append(row)
        if len(out) >= n:
            break
    if hasattr(rows, "close"):
        rows.close()
    return out


def _choose_sheet(table: Table, wanted: str | None) -> list:
    """The named sheet, else the first that has a phone column, else the first with data."""
    if table.file_format == XLSX:
        workbook = _open_xlsx(table.path)
        try:
            table.sheets = workbook.sheetnames
            heads = {}
            for name in table.sheets:
                if wanted and name != wanted:
                    continue
                heads[name] = _take(_guarded(XLSX, _xlsx_rows(workbook, name)), HEAD_ROWS)
        finally:
            workbook.close()
    else:
        book = _open_xls(table.path)
        try:
            table.sheets = list(book.sheet_names())
            heads = {
                name: _take(_guarded(XLS, _xls_rows(book, name)), HEAD_ROWS)
                for name in table.sheets
                if not wanted or name == wanted
            }
        finally:
            book.release_resources()
    if wanted and wanted not in heads:
        raise SpreadsheetError(_("The workbook has no sheet named “%(name)s”.") % {"name": wanted})
    with_data = [name for name in heads if heads[name]]
    if not with_data:
        raise SpreadsheetError(_("The file has no rows with data."))
    chosen = with_data[0]
    for name in with_data:
        probe = Table(path=table.path, file_format=table.file_format)
        _find_header(probe, heads[name])
        if probe.phone_column is not None:
            chosen = name
            break
    table.sheet = chosen
    return heads[chosen]


def _find_header(table: Table, head: list[tuple[int, list]]) -> None:
    header_at = None
    for i, (_n, values) in enumerate(head):
        texts = [cell_text(v) for v in values]
        if any(phone_header_rank(t) is not None for t in texts if t) and not any(
            _looks_like_phone(v) for v in values
        ):
            header_at = i
            break
    if header_at is None:
        first_phone = next(
            (i for i, (_n, values) in enumerate(head) if any(_looks_like_phone(v) for v in values)),
            None,
        )
        if first_phone is not None:
            header_at = first_phone - 1 if first_phone > 0 else None
        else:
            widest = max(sum(1 for v in values if cell_text(v)) for _n, values in head)
            header_at = next(
                i
                for i, (_n, values) in enumerate(head)
                if sum(1 for v in values if cell_text(v)) == widest
            )

    width = max(_last_filled(values) for _n, values in head[header_at or 0 :][: SAMPLE_ROWS + 2])
    if header_at is None:
        table.data_start = head[0][0]
        names = [""] * width
    else:
        number, values = head[header_at]
        table.data_start = number + 1
        names = [cell_text(v) for v in values[:width]] + [""] * (width - len(values))
        below = head[header_at + 1] if header_at + 1 < len(head) else None
        if below is not None:
            sub = [cell_text(v) for v in below[1][:width]] + [""] * (width - len(below[1]))
            if _is_sub_header(names, sub, below[1]):
                # Two-level header: the lower row names the columns; a column the lower row
                # leaves empty keeps the (merged) title above it.  Not when that would lose the
                # phone column the upper row names (a row of text below a plain header).
                filled = _fill_merged(names)
                merged = [s or f for s, f in zip(sub, filled, strict=True)]
                if _names_phone(merged) or not _names_phone(names):
                    names = merged
                    table.data_start = below[0] + 1
    table.headers = _unique_names(names)
    _detect_phone_column(table, head)


def _names_phone(names: list[str]) -> bool:
    return any(phone_header_rank(name) is not None for name in names if name)


def _last_filled(values) -> int:
    for i in range(len(values) - 1, -1, -1):
        if cell_text(values[i]):
            return i + 1
    return 0


def _is_sub_header(names: list[str], sub: list[str], raw) -> bool:
    gaps = [i for i, n in enumerate(names) if not n]
    if not gaps or any(_looks_like_phone(v) for v in raw):
        return False
    return all(sub[i] for i in gaps) and all(not re.fullmatch(r"[\d.\s+-]+", s) for s in sub if s)


def _fill_merged(names: list[str]) -> list[str]:
    out, last = [], ""
    for name in names:
        last = name or last
        out.append(last)
    return out


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_NAME_NOISE = re.compile(r"[\s<>\x00-\x1f\x7f]+")


def _unique_names(names: list[str]) -> list[str]:
    """Variable names: no whitespace, control characters or angle brackets (they must work as
    ``<name>``), unique, at most 40 characters; an unnamed column is named after its letter."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        clean = _NAME_NOISE.sub("_", name).strip("_")[:40] or f"col_{_column_letter(i)}"
        if clean in seen:
            seen[clean] += 1
            clean = f"{clean[:36]}_{seen[clean]}"
        seen.setdefault(clean, 1)
        out.append(clean)
    return out


def _detect_phone_column(table: Table, head: list[tuple[int, list]]) -> None:
    ranked = [
        (rank, i)
        for i, name in enumerate(table.headers)
        if (rank := phone_header_rank(name)) is not None
    ]
    if ranked:
        table.phone_column = table.headers[min(ranked)[1]]
        return
    data = [values for n, values in head if n >= table.data_start]
    best, best_hits = None, 0
    for i in range(len(table.headers)):
        cells = [values[i] for values in data if i < len(values) and cell_text(values[i])]
        hits = sum(1 for v in cells if _looks_like_phone(v))
        if cells and hits * 2 >= len(cells) and hits > best_hits:
            best, best_hits = i, hits
    table.phone_column = table.headers[best] if best is not None else None
    table.phone_column_guessed = best is not None


def _estimate_rows(table: Table, head: list) -> int:
    if table.file_format == CSV:
        size = os.path.getsize(table.path)
        sample = [r for r in head if r[0] >= table.data_start]
        if not sample or len(head) < HEAD_ROWS:
            return len(sample)
        if size <= EXACT_COUNT_BYTES:
            # Counted, not estimated: a page saying "40 rows read / ~39" is no estimate.
            return sum(1 for _row in table.rows())

        # The data's bytes over the sample's mean row (cells, delimiters, quotes, CRLF).
        def row_bytes(values) -> int:
            return len(",".join(cell_text(v) for v in values).encode(table.encoding)) + 2

        header_bytes = sum(row_bytes(values) for n, values in head if n < table.data_start)
        mean = max(1.0, sum(row_bytes(values) for _n, values in sample) / len(sample))
        return max(len(sample), round((size - header_bytes) / mean))
    if table.file_format == XLSX:
        workbook = _open_xlsx(table.path)
        try:
            max_row = workbook.estimated_rows(table.sheet)
        finally:
            workbook.close()
        return max(0, max_row - table.data_start + 1)
    book = _open_xls(table.path)
    try:
        return max(0, book.sheet_by_name(table.sheet).nrows - table.data_start + 1)
    finally:
        book.release_resources()
