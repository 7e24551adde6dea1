"""The portal's rules (send window, caps, approval, replies, alerts): one row, one page."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_lookups import DeclaredLookupsOnly

from ..models import PortalSettings


@admin.register(PortalSettings)
class PortalSettingsAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    fieldsets = (
        (
            _("Send window (marketing messages)"),
            {"fields": ("send_window_start", "send_window_end")},
        ),
        (_("Frequency caps"), {"fields": ("cap_per_day", "cap_per_week", "caps_per_signature")}),
        (
            _("Approval"),
            {"fields": ("approval_required", "approval_min_recipients", "approval_min_cost")},
        ),
        (
            _("Replies"),
            {
                "fields": (
                    "resubscribe_keywords",
                    "opt_out_confirmation",
                    "opt_out_confirmation_text",
                )
            },
        ),
        (
            _("Alerts"),
            {
                "fields": (
                    "alert_emails",
                    "alert_webhook_url",
                    "low_balance_threshold",
                    "balance_refresh_minutes",
                )
            },
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        PortalSettings.load()  # the one row exists before it is listed
        return super().changelist_view(request, extra_context)
