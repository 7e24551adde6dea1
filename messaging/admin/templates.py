"""Templates, their frames and vendor registrations (review), and the sensitive words."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.admin_lookups import DeclaredLookupsOnly
from accounts.audit import Action, record

from ..models import (
    SensitiveWord,
    Template,
    TemplateRegistration,
)
from ..services import campaign_commands
from ..services.templates import TemplateSubmitError, submit_for_review
from .template_files import TemplateFileInline
from .template_library import TemplateLibraryFilter

# --------------------------------------------------------------------------- templates


class TemplateRegistrationInline(admin.TabularInline):
    model = TemplateRegistration
    extra = 0
    fields = (
        "vendor_account",
        "vendor_template_id",
        "review_status",
        "review_reason",
        "reviewed_at",
    )
    readonly_fields = ("review_status", "review_reason", "reviewed_at")


@admin.register(Template)
class TemplateAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ("name", "category", "kind", "signature", "is_marketing", "last_used_at")
    list_filter = (TemplateLibraryFilter, "kind", "is_marketing", "category")
    search_fields = ("name", "body", "category")
    readonly_fields = ("source", "last_used_at")
    inlines = [TemplateFileInline, TemplateRegistrationInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            # Its frames are inlines: the template is whole only now.
            record(
                Action.TEMPLATE_CHANGED,
                form.instance,
                details={"fields": audit.changed_fields(form)},
            )
            campaign_commands.void_changed_using(form.instance)


@admin.register(TemplateRegistration)
class TemplateRegistrationAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = (
        "template",
        "vendor_account",
        "vendor_template_id",
        "review_status",
        "reviewed_at",
    )
    list_filter = ("review_status", "vendor_account")
    search_fields = ("template__name", "vendor_template_id")
    list_select_related = ("template", "vendor_account")
    actions = ["submit_for_review"]

    @admin.action(description=_("Submit to the vendor for review"), permissions=["change"])
    def submit_for_review(self, request, queryset):
        for registration in queryset.select_related("template", "vendor_account"):
            try:
                submitted = submit_for_review(registration.template, registration.vendor_account)
            except TemplateSubmitError as exc:
                self.message_user(request, f"{registration}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(registration)s: submitted, vendor template id %(id)s.")
                    % {"registration": submitted, "id": submitted.vendor_template_id},
                    messages.SUCCESS,
                )


@admin.register(SensitiveWord)
class SensitiveWordAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ["word", "note", "created_at"]
    search_fields = ["word", "note"]
