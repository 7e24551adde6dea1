"""The admin's "Archive" action on campaigns: a confirmation page, then each campaign's
archive is queued (``services.archive``; the work is a task)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..services import archive

ARCHIVE_PERMISSION = "messaging.delete_campaign"


class CampaignArchiveActions:
    """Mixed into CampaignAdmin: whoever may delete campaigns may archive them."""

    actions = ["archive_campaigns"]

    def has_archive_permission(self, request) -> bool:
        return request.user.has_perm(ARCHIVE_PERMISSION)

    @admin.action(
        description=gettext_lazy("Archive selected campaigns (messages to a file)"),
        permissions=["archive"],
    )
    def archive_campaigns(self, request, queryset):
        campaigns = list(queryset.select_related("vendor_account").order_by("-created_at")[:200])
        if request.POST.get("confirm") != "yes":
            rows = [(campaign, archive.refusal(campaign)) for campaign in campaigns]
            context = {
                **self.admin_site.each_context(request),
                "title": _("Archive campaigns"),
                "opts": self.model._meta,
                "rows": rows,
                "archivable": sum(1 for _c, reason in rows if not reason),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/messaging/campaign/archive_confirm.html", context
            )
        queued = 0
        for campaign in campaigns:
            try:
                archive.request_archive(campaign.pk, language=request.LANGUAGE_CODE)
            except archive.ArchiveError as exc:
                self.message_user(request, f"{campaign}: {exc}", messages.WARNING)
            else:
                queued += 1
        if queued:
            self.message_user(
                request,
                _(
                    "%(n)d campaigns are being archived: their messages are written to a file "
                    "kept with each campaign, then removed."
                )
                % {"n": queued},
                messages.SUCCESS,
            )
        return None
