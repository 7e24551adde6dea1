"""The admin's adds, changes and deletes in the audit trail, for the models whose changes
decide what is sent or who can do what (vendor accounts, users, the suppression list, the
portal's settings).  A change names the fields changed, never their values: a secret says
that it changed, never to what (``audit.changed_fields``)."""

from __future__ import annotations

from . import audit


class AuditedAdmin:
    """Mixed into a ``ModelAdmin`` before it; set the three actions (None: not recorded)."""

    audit_added: str | None = None
    audit_changed: str | None = None
    audit_deleted: str | None = None

    def audit_details(self, request, obj, form, change) -> dict:
        return {"fields": audit.changed_fields(form)} if change else {}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = self.audit_changed if change else self.audit_added
        if action is not None and (not change or form.changed_data):
            audit.record(action, obj, details=self.audit_details(request, obj, form, change))

    def delete_model(self, request, obj):
        if self.audit_deleted is not None:
            # Before the row goes: the event keeps its id and name.
            audit.record(self.audit_deleted, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        if self.audit_deleted is not None:
            for obj in queryset.iterator():
                audit.record(self.audit_deleted, obj)
        super().delete_queryset(request, queryset)
