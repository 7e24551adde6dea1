"""Users (one role each), the role groups and login lockouts in the admin.

A user who is not a superuser never sees a superuser here: the list leaves them out, and their
change, password and delete pages answer as for a user that does not exist.  Nobody grants
superuser or staff status or single permissions here; what a user may do is their role's row
in ``accounts.roles``.
"""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from . import audit
from .admin_audit import AuditedAdmin
from .admin_lookups import DeclaredLookupsOnly
from .models import User
from .roles import ADMINISTRATORS, ANALYSTS, APPROVERS, MARKETERS, ROLES, role_of

ROLE_CHOICES = [
    (MARKETERS, _("Marketer")),
    (APPROVERS, _("Approver")),
    (ADMINISTRATORS, _("Administrator")),
    (ANALYSTS, _("Analyst")),
]
ROLE_LABELS = dict(ROLE_CHOICES)


class RoleFilter(admin.SimpleListFilter):
    """By role, named in the UI language (the groups' own names are stored in English)."""

    title = _("role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return ROLE_CHOICES

    def queryset(self, request, queryset):
        if self.value() in {name for name, _label in ROLE_CHOICES}:
            return queryset.filter(groups__name=self.value())
        return queryset


class RoleFormMixin(forms.Form):
    role = forms.ChoiceField(label=_("role"), choices=ROLE_CHOICES, initial=MARKETERS)

    def save_role(self, user: User) -> None:
        before = role_of(user)
        wanted = self.cleaned_data["role"]
        if before != wanted:
            user.groups.remove(*Group.objects.filter(name__in=ROLES))
            user.groups.add(Group.objects.get(name=wanted))
            user._role_cache = None
            audit.record(
                audit.Action.ROLE_CHANGED, user, details={"from": before or "", "to": wanted}
            )
        # Every role works in the admin (the analyst's read-only).
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])


class PortalUserCreationForm(RoleFormMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class PortalUserChangeForm(RoleFormMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role"].initial = role_of(self.instance) or MARKETERS


@admin.register(User)
class UserAdmin(AuditedAdmin, DeclaredLookupsOnly, BaseUserAdmin):
    audit_added = audit.Action.USER_ADDED
    audit_changed = audit.Action.USER_CHANGED
    audit_deleted = audit.Action.USER_DELETED
    form = PortalUserChangeForm
    add_form = PortalUserCreationForm

    list_display = ("username", "email", "role", "is_active", "last_login")
    list_filter = ("is_active", RoleFilter)
    fieldsets = (
        (None, {"fields": ("username", "password", "role")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Status"), {"fields": ("is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "role", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            # Set by an administrator: who set whose, never the password.
            changed = self.get_object(request, id)
            audit.record(
                audit.Action.USER_CHANGED, changed, details={"fields": [str(_("password"))]}
            )
        return response

    @admin.display(description=_("role"))
    def role(self, user: User) -> str:
        if user.is_superuser:
            return _("Superuser")
        names = {g.name for g in user.groups.all()}  # prefetched
        return next((ROLE_LABELS[role] for role in ROLES if role in names), "—")

    def get_queryset(self, request):
        users = super().get_queryset(request).prefetch_related("groups")
        if not request.user.is_superuser:
            # Not listed, and their change, password, history and delete pages find nothing.
            users = users.filter(is_superuser=False)
        return users

    @staticmethod
    def _protected(request, obj) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return not self._protected(request, obj) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._protected(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._protected(request, obj) and super().has_delete_permission(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.save_role(form.instance)


# --------------------------------------------------------------------------- third-party admins
# Registered again with the declared-filters-only rule (see ``accounts.admin_lookups``).

admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DeclaredLookupsOnly, BaseGroupAdmin):
    pass


for _model, _base in (
    (AccessAttempt, AccessAttemptAdmin),
    (AccessLog, AccessLogAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
):
    # Administrators see lockouts and clear one by deleting its access attempt.
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, type(_base.__name__, (DeclaredLookupsOnly, _base), {}))
