"""The audit trail for administrators: read-only for everyone (superusers included: an event
is never added, changed or deleted by hand; the retention purge alone removes old ones),
filtered by action, person and date, searched by user name, object or address, exported
as CSV as filtered.  The table grows by every login and send: the list never counts it all
and searches by exact values (``big_tables``)."""

from __future__ import annotations

import ipaddress

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.urls import path
from django.utils.translation import gettext_lazy as _

from accounts.admin_lookups import DeclaredLookupsOnly
from accounts.audit import Action, record
from accounts.models import AuditEvent, User
from accounts.roles import AUDIT, can

from ..exports import CSV, audit_rows
from ..views.portal.exports import spreadsheet_response
from .big_tables import BigTableAdmin, SearchTerms


class ActorFilter(admin.SimpleListFilter):
    """Who acted: the portal's users (a short list), or "system" (tasks, vendors' pushes)."""

    title = _("who")
    parameter_name = "actor"
    SYSTEM = "system"

    def lookups(self, request, model_admin):
        users = User.objects.order_by("username").values_list("pk", "username")
        return [(self.SYSTEM, _("system")), *((str(pk), name) for pk, name in users)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.SYSTEM:
            return queryset.filter(actor__isnull=True)
        if value and value.isascii() and value.isdigit():
            return queryset.filter(actor_id=int(value))
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(BigTableAdmin, DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ("at", "actor_name", "ip", "action", "object_type", "object_repr", "details")
    list_filter = ("action", ActorFilter, ("at", admin.DateFieldListFilter))
    search_fields = ("actor_name", "object_repr", "ip")
    search_help_text = _(
        "A user name, an object's name or id, or an address (exactly as recorded)."
    )
    search_help = search_help_text
    change_list_template = "admin/accounts/auditevent/change_list.html"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def search_condition(self, terms: SearchTerms) -> Q | None:
        try:
            return Q(ip=str(ipaddress.ip_address(terms.text)))
        except ValueError:
            pass
        return Q(actor_name=terms.text) | Q(object_repr=terms.text) | Q(object_id=terms.text[:64])

    # Nobody writes the trail here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return can(request.user, AUDIT)

    def has_module_permission(self, request):
        return can(request.user, AUDIT)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export.csv", view(self.export_view), name="accounts_auditevent_export"),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """The list as filtered and searched, every matching event (not only one page)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        filters = {key: value for key, value in request.GET.items() if key != "o"}
        record(Action.EXPORTED, details={"what": "audit trail", "format": CSV, **filters})
        headers, rows = audit_rows(queryset)
        return spreadsheet_response("audit-trail", CSV, headers, rows)
