"""Spreadsheet downloads: recipients of a list, messages of a campaign, replies — the portal's
download pages and the admin's export actions both answer through here.  The rows and the
writers (and the escaping of formula-like cells) are ``messaging.exports``, shared with the
campaign archive (``services.archive``); a campaign whose messages were archived answers with
its archive.  Every download is recorded in the audit trail (what, which format, by whom).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from accounts.audit import Action, record
from messaging.exports import (
    CSV,
    FORMATS,
    XLSX,
    XLSX_CONTENT_TYPE,
    csv_stream,
    message_rows,
    recipient_rows,
    reply_rows,
    suppression_rows,
    write_xlsx,
    xlsx_refusal,
)
from messaging.models import (
    Campaign,
    InboundMessage,
    Message,
    Recipient,
    RecipientList,
    Suppression,
)
from messaging.services import archive
from messaging.views.portal.common import parse_id


def _in_language(rows: Iterable[list], language: str | None) -> Iterator[list]:
    # A streamed body is produced after the view returned: keep the request's language.
    with translation.override(language):
        yield from rows


def spreadsheet_response(filename: str, fmt: str, headers: list[str], rows: Iterable[list]):
    """A download of ``rows`` as CSV (streamed) or XLSX."""
    rows = _in_language(rows, translation.get_language())
    if fmt == XLSX:
        target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
        write_xlsx(headers, rows, target)
        target.seek(0)
        return FileResponse(
            target,
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type=XLSX_CONTENT_TYPE,
        )
    response = StreamingHttpResponse(
        csv_stream(headers, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, f"{filename}.csv")
    return response


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def audit_export(what: str, fmt: str, obj=None, **details) -> None:
    """One download, in the audit trail."""
    record(Action.EXPORTED, obj, details={"what": what, "format": fmt, **details})


# --------------------------------------------------------------------------- the three exports


class TooBigForXlsx(Exception):
    """The rows asked for as XLSX are too many to write while the person waits
    (``messaging.exports.XLSX_MAX_ROWS``): the message says to take the CSV."""


def _fits_xlsx(fmt: str, rows: QuerySet | int) -> None:
    if fmt == XLSX and (refusal := xlsx_refusal(rows)):
        raise TooBigForXlsx(refusal)


def recipients_response(recipient_list: RecipientList, fmt: str = CSV):
    _fits_xlsx(fmt, Recipient.objects.filter(recipient_list=recipient_list))
    audit_export("recipients", fmt, recipient_list)
    headers, rows = recipient_rows(recipient_list)
    return spreadsheet_response(f"recipients-{recipient_list.pk}-{_stamp()}", fmt, headers, rows)


def archived_messages_response(campaign: Campaign, fmt: str = CSV):
    """An archived campaign's messages: its archive file, which is the CSV export as it was
    when the campaign was archived (decompressed as it streams), or its rows as XLSX."""
    _fits_xlsx(fmt, campaign.total_count)
    audit_export("messages", fmt, campaign, archived=True)
    name = campaign.archive_file.name
    filename = f"campaign-{campaign.pk}-{_stamp()}"
    if fmt == XLSX:

        def rows():
            with archive.open_archive(name) as text:
                text.read(1)  # the BOM
                yield from csv.reader(text)

        records = rows()
        headers = next(records)
        return spreadsheet_response(filename, XLSX, headers, records)
    response = StreamingHttpResponse(
        archive.archive_chunks(name), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, f"{filename}.csv")
    return response


def messages_response(queryset: QuerySet[Message], fmt: str = CSV, name: str = "messages"):
    _fits_xlsx(fmt, queryset)
    audit_export("messages", fmt, name=name)
    headers, rows = message_rows(queryset)
    return spreadsheet_response(f"{name}-{_stamp()}", fmt, headers, rows)


def replies_response(queryset: QuerySet[InboundMessage], fmt: str = CSV, name: str = "replies"):
    _fits_xlsx(fmt, queryset)
    audit_export("replies", fmt, name=name)
    headers, rows = reply_rows(queryset)
    return spreadsheet_response(f"{name}-{_stamp()}", fmt, headers, rows)


def suppressions_response(queryset: QuerySet[Suppression], fmt: str = CSV):
    _fits_xlsx(fmt, queryset)
    headers, rows = suppression_rows(queryset)
    return spreadsheet_response(f"suppressions-{_stamp()}", fmt, headers, rows)


# --------------------------------------------------------------------------- the download pages


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Http404
    return fmt


@login_required
@permission_required("messaging.view_recipient", raise_exception=True)
def export_recipients(request, list_pk: int, fmt: str):
    recipient_list = get_object_or_404(RecipientList, pk=list_pk)
    try:
        return recipients_response(recipient_list, _format(fmt))
    except TooBigForXlsx as refusal:
        return refused(request, refusal, reverse("portal:list", args=[list_pk]))


@login_required
@permission_required("messaging.view_message", raise_exception=True)
def export_messages(request, campaign_pk: int, fmt: str):
    campaign = get_object_or_404(Campaign, pk=campaign_pk)
    try:
        if archive.is_archived(campaign):
            return archived_messages_response(campaign, _format(fmt))
        return messages_response(
            Message.objects.filter(campaign=campaign), _format(fmt), name=f"campaign-{campaign.pk}"
        )
    except TooBigForXlsx as refusal:
        return refused(request, refusal, reverse("portal:campaign", args=[campaign.pk]))


@login_required
@permission_required("messaging.view_inboundmessage", raise_exception=True)
def export_replies(request, fmt: str):
    replies = InboundMessage.objects.all()
    name = "replies"
    if campaign_pk := request.GET.get("campaign"):
        if parse_id(campaign_pk) is None:  # "abc", "²": no campaign has that id
            raise Http404(_("No such campaign."))
        campaign = get_object_or_404(Campaign, pk=parse_id(campaign_pk))
        replies = replies.filter(campaign=campaign)
        name = f"campaign-{campaign.pk}-replies"
    try:
        return replies_response(replies, _format(fmt), name=name)
    except TooBigForXlsx as refusal:
        return refused(request, refusal, reverse("portal:inbox"))


def refused(request, refusal: TooBigForXlsx, back: str):
    """The page the download was asked from, saying why (it never left it: a download link
    does not leave a page, so this is where the person is)."""
    messages.error(request, str(refusal))
    return redirect(back)
