"""The admin's export actions: the selected messages or replies as a spreadsheet, written by
the same code as the portal's downloads."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from messaging.views.portal import exports


def _answer(modeladmin, request, respond):
    """The download, or (too many rows for XLSX) the list again, saying why."""
    try:
        return respond()
    except exports.TooBigForXlsx as refusal:
        modeladmin.message_user(request, str(refusal), messages.ERROR)
        return None


@admin.action(description=_("Export selected messages (CSV)"), permissions=["view"])
def export_messages_csv(modeladmin, request, queryset):
    return exports.messages_response(queryset, exports.CSV)


@admin.action(description=_("Export selected messages (XLSX)"), permissions=["view"])
def export_messages_xlsx(modeladmin, request, queryset):
    return _answer(modeladmin, request, lambda: exports.messages_response(queryset, exports.XLSX))


@admin.action(description=_("Export selected replies (CSV)"), permissions=["view"])
def export_replies_csv(modeladmin, request, queryset):
    return exports.replies_response(queryset, exports.CSV)


@admin.action(description=_("Export selected replies (XLSX)"), permissions=["view"])
def export_replies_xlsx(modeladmin, request, queryset):
    return _answer(modeladmin, request, lambda: exports.replies_response(queryset, exports.XLSX))
