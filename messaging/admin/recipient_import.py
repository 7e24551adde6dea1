"""The admin's recipient import: django-import-export's preview then confirm, into a chosen
list, through the same row checks as the portal's import."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportMixin
from import_export.forms import ConfirmImportForm, ImportForm

from messaging.importing.resources import (
    RecipientResource,
    SpreadsheetFormat,
    spreadsheet_error_message,
)
from messaging.models import RecipientList


class RecipientImportForm(ImportForm):
    recipient_list = forms.ModelChoiceField(
        queryset=RecipientList.objects.all(), label=_("recipient list")
    )
    phone_column = forms.CharField(
        label=_("Phone column"),
        required=False,
        max_length=100,
        help_text=_(
            "Leave empty to find it by its header (手机号, 手机号码, 电话, mobile, phone…)."
        ),
    )
    allow_international = forms.BooleanField(
        label=_("Accept international numbers"), required=False
    )
    field_order = ["recipient_list", "import_file", "phone_column", "allow_international"]


class RecipientConfirmImportForm(ConfirmImportForm):
    recipient_list = forms.ModelChoiceField(
        queryset=RecipientList.objects.all(), widget=forms.HiddenInput
    )
    phone_column = forms.CharField(required=False, widget=forms.HiddenInput)
    allow_international = forms.BooleanField(required=False, widget=forms.HiddenInput)


class RecipientImportMixin(ImportMixin):
    """Import recipients from a spreadsheet into a chosen list, with the same validation as
    the marketer's import pages."""

    resource_classes = [RecipientResource]
    import_formats = [SpreadsheetFormat]
    import_form_class = RecipientImportForm
    confirm_form_class = RecipientConfirmImportForm
    import_template_name = "admin/imports/admin_import.html"

    def has_import_permission(self, request):
        return request.user.has_perm("messaging.add_recipient")

    def get_import_form_initial(self, request):
        initial = super().get_import_form_initial(request)
        if request.GET.get("recipient_list", "").isdigit():
            initial["recipient_list"] = request.GET["recipient_list"]
        return initial

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            data = import_form.cleaned_data
            initial.update(
                recipient_list=data["recipient_list"].pk,
                phone_column=data.get("phone_column", ""),
                allow_international=data.get("allow_international", False),
            )
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        data = getattr(form, "cleaned_data", None) or {}
        if not data.get("recipient_list"):
            return {}
        return {
            "recipient_list": data["recipient_list"],
            "phone_column": data.get("phone_column") or "",
            "allow_international": bool(data.get("allow_international")),
        }

    def add_data_read_fail_error_to_form(self, form, e):
        form.add_error("import_file", spreadsheet_error_message(e))

    def add_success_message(self, result, request):
        summary = getattr(result, "summary", None)
        if summary is None:
            return super().add_success_message(result, request)
        messages.success(
            request,
            gettext(
                "Imported %(imported)d recipients into “%(list)s”: %(dup_file)d duplicates in "
                "the file, %(dup_list)d already in the list, %(suppressed)d suppressed, "
                "%(rejected)d rejected."
            )
            % {
                "imported": summary.accepted,
                "list": summary.recipient_list,
                "dup_file": summary.duplicate_in_file,
                "dup_list": summary.duplicate_in_list,
                "suppressed": summary.suppressed,
                "rejected": summary.rejected_count,
            },
        )
