"""The admin's export actions: the selected messages or replies as a spreadsheet, written by
the same code as the portal's downloads."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from messaging.views.portal import exports


@admin.action(description=_("Export selected messages (CSV)"), permissions=["view"])
def export_messages_csv(modeladmin, request, queryset):
    return exports.messages_response(queryset, exports.CSV)


@admin.action(description=_("Export selected messages (XLSX)"), permissions=["view"])
def export_messages_xlsx(modeladmin, request, queryset):
    return exports.messages_response(queryset, exports.XLSX)


@admin.action(description=_("Export selected replies (CSV)"), permissions=["view"])
def export_replies_csv(modeladmin, request, queryset):
    return exports.replies_response(queryset, exports.CSV)


@admin.action(description=_("Export selected replies (XLSX)"), permissions=["view"])
def export_replies_xlsx(modeladmin, request, queryset):
    return exports.replies_response(queryset, exports.XLSX)
