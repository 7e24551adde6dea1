"""Campaigns: progress, counters and the commands (confirm, pause, resume, cancel…)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_lookups import DeclaredLookupsOnly
from accounts.audit import Action, record
from accounts.roles import COMPOSE, can

from ..models import (
    Campaign,
    Message,
)
from ..services import campaign_commands, wording
from .big_tables import RefuseBigDeletes
from .campaign_archive import CampaignArchiveActions
from .campaign_operations import CampaignOperations

# --------------------------------------------------------------------------- campaigns


def progress_bar(fraction: float) -> str:
    percent = round(fraction * 100)
    return format_html(
        '<progress value="{}" max="100" title="{}%">{}%</progress> {}%',
        percent,
        percent,
        percent,
        percent,
    )


@admin.register(Campaign)
class CampaignAdmin(
    RefuseBigDeletes,
    DeclaredLookupsOnly,
    CampaignArchiveActions,
    CampaignOperations,
    admin.ModelAdmin,
):
    list_display = (
        "name",
        "status",
        "approval_status",
        "vendor_account",
        "recipient_list",
        "scheduled_at",
        "total_count",
        "delivered_count",
        "failed_count",
        "progress_display",
        "delivery_rate_display",
    )
    list_filter = ("status", "approval_status", "vendor_account")
    search_fields = ("name",)
    list_select_related = ("vendor_account", "recipient_list")
    date_hierarchy = "created_at"
    exclude = ("status_reason",)  # shown in the reader's language: ``reason_display``
    readonly_fields = (
        "status",
        "reason_display",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "total_count",
        "pending_count",
        "skipped_count",
        "submitted_count",
        "delivered_count",
        "failed_count",
        "unknown_count",
        "no_report_count",
        "segment_count",
        "exclude_missing",
        "start_requested_at",
        "progress_display",
        "delivery_rate_display",
        "approval_status",
        "approved_by",
        "approved_at",
        "approval_comment",
    )

    # Composing is a capability (marketers and administrators): an approver or an analyst
    # reads campaigns here, and operates them through ``CampaignOperations``.
    def has_add_permission(self, request):
        return can(request.user, COMPOSE) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return can(request.user, COMPOSE) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return can(request.user, COMPOSE) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
            # What was sent is what the campaign shows: no edits once it has started.
            fields += ["name", "template", "vendor_account", "recipient_list", "scheduled_at"]
        return fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The outcome as the pipeline keeps it: awaiting report, unknown (with why) and no
        report apart, billed parts apart from the parts that may or may not be billed."""
        from ..services.content_checks import estimate_cost
        from ..views.portal import campaigns as pages

        extra_context = extra_context or {}
        campaign = self.get_object(request, unquote(object_id))  # None for "abc": no 500
        if campaign is not None:
            unresolved = pages.unresolved_summary(campaign)
            extra_context["outcome"] = {
                "status_label": pages.status_label(campaign),
                "paused_by_vendor": pages.paused_by_vendor(campaign),
                "awaiting": pages.awaiting_count(campaign),
                "unresolved": unresolved,
                "cost": estimate_cost(campaign.segment_count, campaign.vendor_account),
                "unresolved_cost": estimate_cost(unresolved["segments"], campaign.vendor_account),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def dependents(self, obj):
        return [(Message.objects.filter(campaign=obj), str(_("messages")))]

    def known_count(self, obj, noun):
        return obj.total_count

    @admin.display(description=_("status reason"))
    def reason_display(self, obj):
        return wording.shown(obj.status_reason)

    @admin.display(description=_("progress"))
    def progress_display(self, campaign: Campaign) -> str:
        return progress_bar(campaign.progress)

    @admin.display(description=_("delivery rate"))
    def delivery_rate_display(self, campaign: Campaign) -> str:
        rate = campaign.delivery_rate
        return "—" if rate is None else f"{rate:.1%}"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            record(Action.COMPOSED, obj, details={"created": True})
            return
        # Only what the form changed: the state and counters belong to the pipeline, and a
        # whole-row save would write back the values this form was loaded with.
        fields = [f for f in form.changed_data if f != "scheduled_at"]
        if fields:
            obj.save(update_fields=fields)
            record(Action.COMPOSED, obj, details={"fields": fields})
            campaign_commands.void_if_changed(obj)
        if "scheduled_at" in form.changed_data:
            try:
                if obj.status == Campaign.State.SCHEDULED and obj.scheduled_at:
                    campaign_commands.reschedule(obj.pk, obj.scheduled_at)
                else:
                    Campaign.objects.filter(pk=obj.pk, status=Campaign.State.DRAFT).update(
                        scheduled_at=obj.scheduled_at
                    )
            except campaign_commands.CampaignError as exc:
                messages.error(request, str(exc))
