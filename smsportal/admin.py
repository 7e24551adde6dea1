"""The portal's admin site: Django's, plus a page showing the django-q2 task cluster."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _


class PortalAdminSite(admin.AdminSite):
    site_header = _("SMS campaign portal")
    site_title = _("SMS portal")
    index_title = _("Administration")

    def get_urls(self):
        return [
            path("task-cluster/", self.admin_view(self.task_cluster), name="task_cluster"),
            *super().get_urls(),
        ]

    def task_cluster(self, request):
        """django-q2's monitor (what ``manage.py qmonitor`` shows), in the admin."""
        from django.core.exceptions import PermissionDenied
        from django_q.brokers import get_broker
        from django_q.models import OrmQ, Schedule
        from django_q.status import Stat

        if not request.user.has_perm("django_q.view_schedule"):
            raise PermissionDenied
        broker = get_broker()
        context = {
            **self.each_context(request),
            "title": _("Task cluster"),
            "clusters": Stat.get_all(broker=broker),
            "queued": broker.queue_size(),
            "orm_queued": OrmQ.objects.count(),
            "schedules": Schedule.objects.order_by("next_run")[:50],
        }
        return TemplateResponse(request, "admin/task_cluster.html", context)


class PortalAdminConfig(AdminConfig):
    default_site = "smsportal.admin.PortalAdminSite"
