"""The task cluster's pages (django-q2), with arguments and results for superusers only."""

from django.contrib import admin
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from accounts.admin_lookups import DeclaredLookupsOnly

# --------------------------------------------------------------------------- task cluster
# django-q2's own admin pages, registered again.  A schedule runs any dotted function with any
# arguments on the worker, so only superusers add or change one (the portal's own schedules are
# made by code); what a task was given and gave back (arguments, result, hook) can hold
# anything the code handled, so only superusers see it.  Administrators see what ran, when,
# and whether it worked, and resubmit nothing.

TASK_FIELDS = ("name", "group", "func", "cluster", "started", "stopped", "success")
SCHEDULE_FIELDS = (
    "name",
    "func",
    "schedule_type",
    "minutes",
    "cron",
    "repeats",
    "next_run",
    "cluster",
)
QUEUED_FIELDS = ("key", "lock", "task_id", "name", "group", "func")


class TaskDetailsForSuperusers(DeclaredLookupsOnly):
    """Mix into django-q2's admins (before them): non-superusers see ``staff_fields`` only,
    as read-only, with ``staff_list_display`` in the list and no actions that queue tasks."""

    staff_fields: tuple[str, ...] = ()
    staff_list_display: tuple[str, ...] | None = None

    def get_list_display(self, request):
        if request.user.is_superuser or self.staff_list_display is None:
            return super().get_list_display(request)
        return self.staff_list_display

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fields(request, obj)
        return self.staff_fields

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return [(None, {"fields": self.staff_fields})]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return self.staff_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("resubmit_task", None)
        return actions

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)


class SuccessAdmin(TaskDetailsForSuperusers, q_admin.TaskAdmin):
    staff_fields = TASK_FIELDS
    staff_list_display = ("name", "group", "func", "cluster", "started", "stopped", "time_taken")


class FailureAdmin(TaskDetailsForSuperusers, q_admin.FailAdmin):
    staff_fields = TASK_FIELDS
    staff_list_display = ("name", "group", "func", "cluster", "started", "stopped")


class ScheduleAdmin(TaskDetailsForSuperusers, q_admin.ScheduleAdmin):
    staff_fields = SCHEDULE_FIELDS

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class QueuedTaskAdmin(TaskDetailsForSuperusers, q_admin.QueueAdmin):
    staff_fields = QUEUED_FIELDS

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


for _model, _model_admin in (
    (Schedule, ScheduleAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueuedTaskAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
        admin.site.register(_model, _model_admin)
