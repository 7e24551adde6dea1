"""The suppression list page: look a phone up, add one, import a file, export, lift (with a
reason, for those who may delete suppressions: administrators).  The rules are
``services.suppressions``'s."""

from __future__ import annotations

import tempfile

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from ...services import suppressions
from .common import portal_view
from .exports import TooBigForXlsx, _format, refused, suppressions_response

MAX_FILE_BYTES = 20 * 1024 * 1024
REJECTED_SHOWN = 20


class AddForm(forms.Form):
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40)
    note = forms.CharField(
        label=gettext_lazy("Why"),
        max_length=500,
        required=False,
        help_text=gettext_lazy("E.g. “asked by phone on 3 May”: kept as the evidence."),
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File of phones"),
        help_text=gettext_lazy(
            "CSV, XLSX or XLS; the phone column is found by its header (手机号, mobile, …)."
        ),
    )
    note = forms.CharField(label=gettext_lazy("Why"), max_length=500, required=False)


class LiftForm(forms.Form):
    phone = forms.CharField(max_length=40, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=gettext_lazy("Why may it receive marketing again?"),
        max_length=500,
        help_text=gettext_lazy("E.g. “re-subscribed in the shop on 3 May”: kept as evidence."),
    )


def _page(request, *, add_form=None, import_form=None, status=200):
    q = request.GET.get("q", "").strip()
    include_lifted = request.GET.get("lifted") == "1"
    lookup = None
    if q:
        try:
            lookup = suppressions.look_up(q)
        except suppressions.SuppressionError:
            lookup = None  # not a phone: the list below searches the evidence instead
    rows = suppressions.listing(q, include_lifted=include_lifted)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {
        "q": q,
        "include_lifted": include_lifted,
        "lookup": lookup,
        "page_obj": page,
        "rows": page.object_list,
        "add_form": add_form or AddForm(),
        "import_form": import_form or ImportForm(),
        "lift_form": LiftForm(initial={"phone": lookup.phone}) if lookup else None,
        "can_lift": request.user.has_perm("messaging.delete_suppression"),
    }
    return TemplateResponse(request, "portal/suppressions/index.html", context, status=status)


@portal_view("messaging.view_suppression")
def suppression_list(request):
    return _page(request)


def _back(phone: str = ""):
    url = reverse("portal:suppressions")
    return redirect(f"{url}?{urlencode({'q': phone})}" if phone else url)


@portal_view("messaging.view_suppression", "messaging.add_suppression")
@require_POST
def add(request):
    form = AddForm(request.POST)
    if form.is_valid():
        try:
            suppression = suppressions.add(
                form.cleaned_data["phone"], user=request.user, note=form.cleaned_data["note"]
            )
        except suppressions.SuppressionError as exc:
            form.add_error("phone", str(exc))
        else:
            messages.success(request, _("%(phone)s is suppressed.") % {"phone": suppression.phone})
            return _back(suppression.phone)
    return _page(request, add_form=form, status=400)


@portal_view("messaging.view_suppression", "messaging.add_suppression")
@require_POST
def import_file(request):
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            form.add_error(
                "file", _("The file is larger than %(max)s MB.") % {"max": MAX_FILE_BYTES >> 20}
            )
        else:
            try:
                result = _import(request, upload, form.cleaned_data["note"])
            except suppressions.SuppressionError as exc:
                form.add_error("file", str(exc))
            else:
                _report(request, result)
                return _back()
    return _page(request, import_form=form, status=400)


def _import(request, upload, note: str):
    suffix = "." + upload.name.rsplit(".", 1)[-1][:8] if "." in upload.name else ""
    with tempfile.NamedTemporaryFile(suffix=suffix) as target:
        for chunk in upload.chunks():
            target.write(chunk)
        target.flush()
        return suppressions.import_file(
            target.name, user=request.user, note=note, filename=upload.name
        )


def _report(request, result) -> None:
    messages.success(
        request,
        ngettext(
            "%(n)d phone suppressed",
            "%(n)d phones suppressed",
            result.added,
        )
        % {"n": result.added}
        + "; "
        + _("%(already)d already suppressed, %(dup)d repeated in the file, %(bad)d not phones.")
        % {"already": result.already, "dup": result.duplicates, "bad": len(result.rejected)},
    )
    for number, why in result.rejected[:REJECTED_SHOWN]:
        messages.warning(request, _("Row %(row)d: %(why)s") % {"row": number, "why": why})


@portal_view("messaging.view_suppression", "messaging.delete_suppression")
@require_POST
def lift(request):
    form = LiftForm(request.POST)
    phone = request.POST.get("phone", "")
    if not form.is_valid():
        messages.error(request, _("Say why the phone may receive marketing messages again."))
        return _back(phone)
    try:
        suppression = suppressions.lift_phone(
            form.cleaned_data["phone"], user=request.user, reason=form.cleaned_data["reason"]
        )
    except suppressions.SuppressionError as exc:
        messages.error(request, str(exc))
        return _back(phone)
    messages.success(
        request,
        _("%(phone)s may receive marketing messages again; the suppression is kept as history.")
        % {"phone": suppression.phone},
    )
    return _back(suppression.phone)


@portal_view("messaging.view_suppression")
def export(request, fmt: str):
    include_lifted = request.GET.get("lifted") == "1"
    rows = suppressions.listing(request.GET.get("q", ""), include_lifted=include_lifted)
    try:
        return suppressions_response(rows, _format(fmt))
    except TooBigForXlsx as refusal:
        return refused(request, refusal, reverse("portal:suppressions"))
