"""Spreadsheet downloads: recipients of a list, messages of a campaign, replies, the
suppression list — the portal's download pages and the admin's export actions both answer
through here.

Every text cell that a spreadsheet program would read as a formula — one that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return — is escaped with a leading apostrophe
(CSV injection).  Phones in E.164 (``+44…``) are escaped too: a spreadsheet would otherwise
read them as numbers or formulas.  CSV streams (UTF-8 with a BOM so that Excel shows Chinese);
XLSX is written with openpyxl's write-only mode to a temporary file, then sent.

What a format cannot hold is left out rather than failing the whole download: lone surrogates
(no UTF-8 for them) in both formats; in XLSX also the control characters XML forbids (a pushed
reply may carry any of them) and anything beyond Excel's 32,767 characters per cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from messaging.importing.cells import escape_cell
from messaging.models import InboundMessage, Message, Recipient, RecipientList, Suppression
from messaging.services import wording
from messaging.services.reports import status_meaning, vendor_words

CSV, XLSX = "csv", "xlsx"
FORMATS = (CSV, XLSX)
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_CELL_MAX_CHARS = 32767  # Excel's limit; it calls a longer cell a damaged file
XLSX_MAX_ROWS = 100_000
"""An XLSX is written while the person waits, and the web server gives a request 120 s
(``smsportal/gunicorn.conf.py``): on the 2-core machine 100,000 messages took 31 s and
200,000 took 56 s (a campaign of 1M would have been cut off).  A larger download is CSV,
which streams every row."""


def xlsx_refusal(rows: QuerySet | int) -> str | None:
    """Why these rows (a queryset, counted no further than the limit, or a number) are not
    offered as XLSX; None when they fit."""
    count = rows if isinstance(rows, int) else rows.order_by()[: XLSX_MAX_ROWS + 1].count()
    if count <= XLSX_MAX_ROWS:
        return None
    return _(
        "An XLSX download holds at most %(n)s rows (it is written while you wait), and this "
        "one has more. Download the CSV instead: it has every row, and Excel and WPS open it."
    ) % {"n": f"{XLSX_MAX_ROWS:,}"}


_NOT_UTF8 = re.compile("[\ud800-\udfff]")
# What XML 1.0 cannot carry (openpyxl's ILLEGAL_CHARACTERS_RE) and lone surrogates.
_NOT_XLSX = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def xlsx_text(text: str) -> str:
    """Text as an XLSX cell can hold it: no control characters XML forbids (tab and line
    breaks stay), no lone surrogates, at most Excel's 32,767 characters (with room for the
    apostrophe ``escape_cell`` may add)."""
    return _NOT_XLSX.sub("", text)[: XLSX_CELL_MAX_CHARS - 1]


def _text(value) -> str:
    text = _plain_text(value)
    return _NOT_UTF8.sub("", text) if _NOT_UTF8.search(text) else text


def _plain_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def csv_stream(headers: list[str], rows: Iterable[list]) -> Iterator[str]:
    class Line:
        def write(self, value):
            return value

    writer = csv.writer(Line())
    yield "\ufeff" + writer.writerow([escape_cell(h) for h in headers])
    buffer = []
    for row in rows:
        buffer.append(writer.writerow([escape_cell(_text(v)) for v in row]))
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


def write_xlsx(headers: list[str], rows: Iterable[list], target) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([escape_cell(xlsx_text(h)) for h in headers])
    for row in rows:
        cells = []
        for value in row:
            # Cleaned first, escaped then: "\x01=1+1" must not become a formula.
            cell = WriteOnlyCell(sheet, value=escape_cell(xlsx_text(_text(value))))
            cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        sheet.append(cells)
    workbook.save(target)


# --------------------------------------------------------------------------- the three exports


def recipient_rows(recipient_list: RecipientList) -> tuple[list[str], Iterator[list]]:
    columns = list(recipient_list.columns or [])
    headers = [_("phone"), *columns, _("spreadsheet row")]

    def rows():
        queryset = (
            Recipient.objects.filter(recipient_list=recipient_list)
            .order_by("pk")
            .values_list("phone", "variables", "source_row")
        )
        for phone, variables, source_row in queryset.iterator(chunk_size=5000):
            variables = variables or {}
            yield [phone, *(variables.get(c, "") for c in columns), source_row]

    return headers, rows()


MESSAGE_COLUMNS: list[tuple[Callable[[], str], Callable[[Message], object]]] = [
    (lambda: _("phone"), lambda m: m.phone),
    (lambda: _("campaign"), lambda m: m.campaign.name if m.campaign_id else ""),
    (lambda: _("status"), lambda m: m.get_status_display()),
    (lambda: _("vendor code"), lambda m: m.vendor_status_code),
    # The vendor's words as it said them; our meaning in the export's language only.
    (lambda: _("vendor description"), lambda m: vendor_words(m.vendor_status_description)),
    (lambda: _("meaning"), lambda m: status_meaning(m.vendor_status_description, m.status)),
    (lambda: _("error"), lambda m: wording.shown(m.error)),
    (lambda: _("parts"), lambda m: m.segments),
    (lambda: _("content"), lambda m: m.content),
    (lambda: _("vendor message id"), lambda m: m.vendor_message_id),
    (lambda: _("submitted"), lambda m: m.submitted_at),
    (lambda: _("final status at"), lambda m: m.final_at),
]


def message_rows(queryset: QuerySet[Message]) -> tuple[list[str], Iterator[list]]:
    headers = [title() for title, _get in MESSAGE_COLUMNS]

    def rows():
        for message in queryset.select_related("campaign").order_by("pk").iterator(2000):
            yield [get(message) for _title, get in MESSAGE_COLUMNS]

    return headers, rows()


REPLY_COLUMNS: list[tuple[Callable[[], str], Callable[[InboundMessage], object]]] = [
    (lambda: _("received"), lambda r: r.received_at),
    (lambda: _("phone"), lambda r: r.phone),
    (lambda: _("content"), lambda r: r.content),
    (lambda: _("vendor account"), lambda r: r.vendor_account.name),
    (lambda: _("extension / access code"), lambda r: r.extension),
    (lambda: _("campaign"), lambda r: r.campaign.name if r.campaign_id else ""),
    (lambda: _("opt-out"), lambda r: r.is_opt_out),
    (lambda: _("read"), lambda r: r.is_read),
]


def reply_rows(queryset: QuerySet[InboundMessage]) -> tuple[list[str], Iterator[list]]:
    headers = [title() for title, _get in REPLY_COLUMNS]

    def rows():
        ordered = queryset.select_related("vendor_account", "campaign").order_by("received_at")
        for reply in ordered.iterator(2000):
            yield [get(reply) for _title, get in REPLY_COLUMNS]

    return headers, rows()


def _user(user) -> str:
    return user.get_username() if user is not None else ""


SUPPRESSION_COLUMNS: list[tuple[Callable[[], str], Callable[[Suppression], object]]] = [
    (lambda: _("phone"), lambda s: s.phone),
    (lambda: _("reason"), lambda s: s.get_reason_display()),
    (lambda: _("suppressed since"), lambda s: s.created_at),
    (lambda: _("evidence"), lambda s: s.evidence),
    (lambda: _("reply"), lambda s: s.inbound_message.content if s.inbound_message_id else ""),
    (lambda: _("added by"), lambda s: _user(s.created_by)),
    (lambda: _("lifted"), lambda s: s.lifted_at),
    (lambda: _("lifted by"), lambda s: _user(s.lifted_by)),
    (lambda: _("why lifted"), lambda s: s.lifted_reason),
]


def suppression_rows(queryset: QuerySet[Suppression]) -> tuple[list[str], Iterator[list]]:
    headers = [title() for title, _get in SUPPRESSION_COLUMNS]

    def rows():
        ordered = queryset.select_related("inbound_message", "created_by", "lifted_by")
        for suppression in ordered.order_by("pk").iterator(2000):
            yield [get(suppression) for _title, get in SUPPRESSION_COLUMNS]

    return headers, rows()


AUDIT_COLUMNS: list[tuple[Callable[[], str], Callable]] = [
    (lambda: _("when"), lambda e: e.at),
    (lambda: _("who"), lambda e: e.actor_name),
    (lambda: _("from address"), lambda e: e.ip),
    (lambda: _("action"), lambda e: e.get_action_display()),
    (lambda: _("object type"), lambda e: e.object_type),
    (lambda: _("object id"), lambda e: e.object_id),
    (lambda: _("object"), lambda e: e.object_repr),
    (lambda: _("details"), lambda e: json.dumps(e.details, ensure_ascii=False, sort_keys=True)),
]


def audit_rows(queryset) -> tuple[list[str], Iterator[list]]:
    """The audit trail's events (``accounts.AuditEvent``), newest first as the list shows them."""
    headers = [title() for title, _get in AUDIT_COLUMNS]

    def rows():
        for event in queryset.order_by("-at", "-id").iterator(2000):
            yield [get(event) for _title, get in AUDIT_COLUMNS]

    return headers, rows()
