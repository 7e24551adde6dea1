"""The marketer's import pages (the downloads are in ``exports``).

upload (for a list) → mapping (headers, phone column, first rows, counts) → confirm → job page
(progress bar polling ``job_status`` every second; the result with the rejected-rows report).
A file of fewer than ``service.SYNC_MAX_ROWS`` rows imports during the confirm request; a
larger one in a django-q2 task — the marketer can leave the job page and come back to it.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from messaging.importing import service
from messaging.importing.phones import normalize
from messaging.importing.readers import SpreadsheetError, cell_text
from messaging.models import ImportJob, RecipientList
from messaging.views.media import protected_file_response

IMPORT_PERMISSIONS = ("messaging.add_recipient", "messaging.view_recipientlist")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
UPLOAD_FORM_OVERHEAD = 64 * 1024  # the form's other fields and the multipart framing


def too_large_message() -> str:
    return _("The file is larger than %(max)s MB.") % {"max": MAX_UPLOAD_BYTES >> 20}


class UploadSizeLimit(FileUploadHandler):
    """Counts an upload's bytes as they arrive and stops reading past ``limit``: a larger file
    is never read in full nor stored (Django would otherwise spool all of it to disk before the
    form could look at its size)."""

    def __init__(self, request=None, limit: int = MAX_UPLOAD_BYTES):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file


def can_import(view):
    return login_required(permission_required(IMPORT_PERMISSIONS, raise_exception=True)(view))


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        help_text=gettext_lazy(
            "CSV (UTF-8 or GBK, as Excel saves it), XLSX or XLS. The phone column is found "
            "by its header (手机号, mobile, …); every other column becomes a variable."
        ),
    )
    allow_international = forms.BooleanField(
        label=gettext_lazy("Accept international numbers"),
        required=False,
        help_text=gettext_lazy(
            "Keep numbers outside China in E.164 (+44…) for vendors that send abroad; "
            "otherwise they are rejected."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_large_message())
        return upload

    def refuse_as_too_large(self) -> None:
        self.is_valid()
        self.errors["file"] = self.error_class([too_large_message()])


class MappingForm(forms.Form):
    sheet = forms.ChoiceField(label=gettext_lazy("Sheet"), required=False)
    phone_column = forms.ChoiceField(label=gettext_lazy("Phone column"))
    allow_international = forms.BooleanField(
        label=gettext_lazy("Accept international numbers"), required=False
    )

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sheet"].choices = [(s, s) for s in job.sheets]
        if not job.sheets:
            del self.fields["sheet"]
        self.fields["phone_column"].choices = [("", "—")] + [(h, h) for h in job.headers]


# --------------------------------------------------------------------------- list page


@can_import
def list_page(request, list_pk: int):
    recipient_list = get_object_or_404(RecipientList, pk=list_pk)
    return render(
        request,
        "portal/imports/list.html",
        {
            "recipient_list": recipient_list,
            "recipient_count": recipient_list.recipients.count(),
            "jobs": recipient_list.import_jobs.select_related("created_by")[:20],
            "form": UploadForm(),
        },
    )


def _content_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


@csrf_exempt  # checked below, once the size limit is in place (it must come before the body)
@can_import
@require_http_methods(["GET", "POST"])
def upload(request, list_pk: int):
    """Refuses a body larger than the limit before reading any of it (its Content-Length
    says so), and stops reading one that grows past it (``UploadSizeLimit``)."""
    recipient_list = get_object_or_404(RecipientList, pk=list_pk)
    limit = None
    if request.method == "POST":
        if _content_length(request) > MAX_UPLOAD_BYTES + UPLOAD_FORM_OVERHEAD:
            form = UploadForm(data={}, files={})
            form.refuse_as_too_large()  # nothing read, nothing changed: no CSRF check needed
            return render(
                request,
                "portal/imports/upload.html",
                {"recipient_list": recipient_list, "form": form},
                status=413,
            )
        limit = UploadSizeLimit(request, MAX_UPLOAD_BYTES)
        request.upload_handlers.insert(0, limit)
    return _upload(request, recipient_list, limit)


@csrf_protect
def _upload(request, recipient_list: RecipientList, limit: UploadSizeLimit | None):
    form = UploadForm(request.POST or None, request.FILES or None)
    too_large = limit is not None and limit.exceeded
    if too_large:
        form.refuse_as_too_large()
    elif request.method == "POST" and form.is_valid():
        try:
            job = service.inspect_upload(
                recipient_list,
                form.cleaned_data["file"],
                user=request.user,
                allow_international=bool(form.cleaned_data["allow_international"]),
            )
        except SpreadsheetError as e:
            form.add_error("file", str(e))
        else:
            return redirect("portal:import_mapping", job_pk=job.pk)
    return render(
        request,
        "portal/imports/upload.html",
        {"recipient_list": recipient_list, "form": form},
        status=413 if too_large else 200,
    )


# --------------------------------------------------------------------------- mapping


@can_import
@require_http_methods(["GET", "POST"])
def mapping(request, job_pk: int):
    job = get_object_or_404(ImportJob.objects.select_related("recipient_list"), pk=job_pk)
    if job.state != ImportJob.State.INSPECTED:
        return redirect("portal:import_job", job_pk=job.pk)
    table = None
    form = MappingForm(
        request.POST or None,
        job=job,
        initial={
            "sheet": job.sheet,
            "phone_column": job.phone_column,
            "allow_international": job.allow_international,
        },
    )
    if request.method == "POST":
        form.is_valid()  # the phone column may be missing: that is shown, not fatal here
        data = form.cleaned_data
        try:
            table = service.choose_mapping(
                job,
                sheet=data.get("sheet") or "",
                phone_column=data.get("phone_column") or "",
                allow_international=bool(data.get("allow_international")),
            )
        except SpreadsheetError as e:
            messages.error(request, str(e))
        if "confirm" in request.POST and table is None and job.phone_column:
            job = service.start(job, language=get_language())
            return redirect("portal:import_job", job_pk=job.pk)
        if "confirm" in request.POST and not job.phone_column:
            messages.error(request, _("Choose the column that holds the phone numbers."))
        form = MappingForm(
            job=job,
            initial={
                "sheet": job.sheet,
                "phone_column": job.phone_column,
                "allow_international": job.allow_international,
            },
        )
    try:
        table = table or service.job_table(job)
        counts = service.preview(job, table)
    except SpreadsheetError as e:
        messages.error(request, str(e))
        table, counts = None, None
    sample = []
    if table is not None:
        phone_index = job.headers.index(job.phone_column) if job.phone_column else None
        for number, values in table.sample:
            values = (list(values) + [None] * len(job.headers))[: len(job.headers)]
            phone, ok = "", False
            if phone_index is not None:
                result = normalize(values[phone_index], allow_international=job.allow_international)
                ok = isinstance(result, str)
                phone = result if ok else result.message
            sample.append(
                {
                    "number": number,
                    "cells": [cell_text(v) for v in values],
                    "phone": phone,
                    "ok": ok,
                }
            )
    return render(
        request,
        "portal/imports/mapping.html",
        {
            "job": job,
            "recipient_list": job.recipient_list,
            "form": form,
            "sample": sample,
            "counts": counts,
            "runs_in_request": service.runs_in_request(job),
            # No header names it: the column was chosen because its cells look like phones.
            "phone_column_guessed": bool(
                table is not None
                and job.phone_column
                and table.phone_column_guessed
                and job.phone_column == table.phone_column
            ),
        },
    )


# --------------------------------------------------------------------------- job


def _status(job: ImportJob) -> dict:
    if job.state == ImportJob.State.DONE:
        percent = 100
    elif job.state == ImportJob.State.SAVING:
        percent = 99
    elif job.estimated_rows:
        percent = min(98, int(job.processed_rows * 100 / job.estimated_rows))
    else:
        percent = 0
    return {
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "finished": job.is_finished,
        "percent": percent,
        "processed": job.processed_rows,
        # An estimate never below the rows already read.
        "estimated": max(job.estimated_rows, job.processed_rows),
        "imported": job.imported_count,
        "duplicate_in_file": job.duplicate_in_file_count,
        "duplicate_in_list": job.duplicate_in_list_count,
        "suppressed": job.suppressed_count,
        "rejected": job.rejected_count,
        "error": job.error,
        "report_url": (
            reverse("portal:import_rejected", kwargs={"job_pk": job.pk})
            if job.rejected_report
            else ""
        ),
    }


@can_import
def job_page(request, job_pk: int):
    job = get_object_or_404(ImportJob.objects.select_related("recipient_list"), pk=job_pk)
    return render(
        request,
        "portal/imports/job.html",
        {"job": job, "recipient_list": job.recipient_list, "status": _status(job)},
    )


@can_import
def job_status(request, job_pk: int):
    job = get_object_or_404(ImportJob, pk=job_pk)
    return JsonResponse(_status(job))


@can_import
def rejected_report(request, job_pk: int):
    """The rejected rows (phone numbers): to those who may import, as a download that no
    browser renders (``protected_file_response``)."""
    job = get_object_or_404(ImportJob, pk=job_pk)
    if not job.rejected_report:
        raise Http404
    return protected_file_response(
        job.rejected_report,
        "text/csv; charset=utf-8",
        attachment=True,
        filename=job.rejected_report.name.rsplit("/", 1)[-1].split("-", 1)[-1],
    )
