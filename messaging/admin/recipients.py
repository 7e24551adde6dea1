"""Recipient lists, recipients (with the spreadsheet import), import jobs, suppressions."""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.admin_lookups import DeclaredLookupsOnly

from ..models import (
    ImportJob,
    Message,
    Recipient,
    RecipientList,
    Suppression,
)
from .big_tables import BigTableAdmin, RefuseBigDeletes, SearchTerms
from .recipient_import import RecipientImportMixin

PHONE_SEARCH_HELP = _(
    "Search by a full phone number (as typed: spaces, +86 and full-width digits are fine)."
)

# --------------------------------------------------------------------------- recipients


@admin.register(RecipientList)
class RecipientListAdmin(RefuseBigDeletes, DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ("name", "recipient_count", "created_by", "created_at")
    # Links to the import page, the admin import and the exports.
    change_form_template = "admin/imports/recipientlist_change_form.html"
    search_fields = ("name", "description")
    readonly_fields = ("created_by", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).with_counts()

    @admin.display(description=_("recipients"), ordering="n")
    def recipient_count(self, obj) -> int:
        return obj.n

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            audit.record(audit.Action.SUPPRESSION_ADDED, obj, details={"reason": obj.reason})

    def delete_model(self, request, obj):
        # Deleting drops the evidence; lifting (the portal's suppression page) keeps it.
        audit.record(audit.Action.SUPPRESSION_REMOVED, obj, details={"deleted": True})
        super().delete_model(request, obj)

    def dependents(self, obj):
        # A list its campaigns use is protected anyway; their messages are what would load.
        return [
            (Recipient.objects.filter(recipient_list=obj), str(_("recipients"))),
            (Message.objects.filter(campaign__recipient_list=obj), str(_("messages"))),
        ]


@admin.register(Recipient)
class RecipientAdmin(BigTableAdmin, DeclaredLookupsOnly, RecipientImportMixin, admin.ModelAdmin):
    list_display = ("phone", "recipient_list", "variables", "source_row")
    list_filter = ("recipient_list",)
    search_fields = ("phone",)
    search_help_text = PHONE_SEARCH_HELP
    search_help = PHONE_SEARCH_HELP
    list_select_related = ("recipient_list",)

    def search_condition(self, terms: SearchTerms) -> Q | None:
        return Q(phone=terms.phone) if terms.phone else None


@admin.register(ImportJob)
class ImportJobAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    """Spreadsheet imports: made on the import pages, read here."""

    list_display = (
        "original_name",
        "recipient_list",
        "state",
        "imported_count",
        "duplicate_in_file_count",
        "duplicate_in_list_count",
        "suppressed_count",
        "rejected_count",
        "created_by",
        "created_at",
    )
    list_filter = ("state",)
    search_fields = ("original_name", "recipient_list__name")
    list_select_related = ("recipient_list", "created_by")
    exclude = ("file", "rejected_report")

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in ImportJob._meta.fields if f.name not in self.exclude]
        return ["job_page", *names]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("progress and result"))
    def job_page(self, job: ImportJob) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("portal:import_job", kwargs={"job_pk": job.pk}),
            _("Open"),
        )


@admin.register(Suppression)
class SuppressionAdmin(BigTableAdmin, DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ("phone", "reason", "evidence", "created_by", "created_at", "lifted_at")
    list_filter = ("reason",)
    search_fields = ("phone", "evidence")
    search_help_text = _(
        "A full phone number (as typed: spaces, +86 and full-width digits are fine), or words "
        "of the evidence."
    )

    def search_condition(self, terms: SearchTerms) -> Q | None:
        """A phone by its unique index; anything else in the evidence (one row per suppressed
        phone: a bounded table)."""
        if terms.phone:
            return Q(phone=terms.phone)
        return Q(evidence__icontains=terms.text)

    readonly_fields = (
        "inbound_message",
        "created_by",
        "created_at",
        "lifted_at",
        "lifted_by",
        "lifted_reason",
        "lifting_reply",
        "confirmation",
    )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            audit.record(audit.Action.SUPPRESSION_ADDED, obj, details={"reason": obj.reason})

    def delete_model(self, request, obj):
        # Deleting drops the evidence; lifting (the portal's suppression page) keeps it.
        audit.record(audit.Action.SUPPRESSION_REMOVED, obj, details={"deleted": True})
        super().delete_model(request, obj)
