"""Campaign operations in the admin: preview and send, schedule, pause, resume, cancel, test
send.  Thin: each view calls a service or enqueues its task."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import SEND, can

from ..models import Campaign
from ..services import approval, campaign_commands, compliance, send_count, sending, wording
from ..views.portal.common import TEST_PHONE, clean_text


def counter_rows(campaign: Campaign) -> list[dict]:
    """The campaign's messages by outcome, from the counters the pipeline keeps (never a
    count of its messages, which may be millions); the largest first, empty ones left out.
    Awaiting report: accepted by the vendor, no final report yet."""
    delivered_or_failed = campaign.delivered_count + campaign.failed_count
    rows = [
        ("pending", _("Waiting to send"), campaign.pending_count),
        ("skipped", _("Skipped"), campaign.skipped_count),
        (
            "submitted",
            _("Awaiting report"),
            max(0, campaign.submitted_count - delivered_or_failed),
        ),
        ("delivered", _("Delivered"), campaign.delivered_count),
        ("failed", _("Failed or undelivered"), campaign.failed_count),
        ("unknown", _("Outcome unknown"), campaign.unknown_count),
        ("no_report", _("No report"), campaign.no_report_count),
    ]
    return [
        {"status": status, "label": label, "n": n}
        for status, label, n in sorted(rows, key=lambda r: -r[2])
        if n
    ]


class CampaignOperations:
    """Mixed into CampaignAdmin."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/send/", view(self.send_view), name="messaging_campaign_send"),
            path("<int:pk>/pause/", view(self.pause_view), name="messaging_campaign_pause"),
            path("<int:pk>/resume/", view(self.resume_view), name="messaging_campaign_resume"),
            path("<int:pk>/cancel/", view(self.cancel_view), name="messaging_campaign_cancel"),
            path(
                "<int:pk>/test-send/",
                view(self.test_send_view),
                name="messaging_campaign_test_send",
            ),
            *super().get_urls(),
        ]

    def _campaign(self, request, pk) -> Campaign:
        # Sending and operating a campaign is a capability (``accounts.roles``): approvers
        # have it without changing campaigns; analysts have neither.
        if not can(request.user, SEND):
            raise PermissionDenied
        return get_object_or_404(
            Campaign.objects.select_related("template", "vendor_account", "recipient_list"),
            pk=pk,
        )

    def _back(self, campaign):
        return redirect(reverse("admin:messaging_campaign_change", args=[campaign.pk]))

    def send_view(self, request, pk):
        """The admin's send page: the same checks as the portal's confirmation
        (``services.compliance``), the same figures, the same confirmation."""
        campaign = self._campaign(request, pk)
        exclude_missing = request.POST.get("missing", "exclude") == "exclude"
        reason = clean_text(request.POST.get("notification_reason", ""), 500)
        if request.method == "POST" and request.POST.get("confirm"):
            asked = campaign.scheduled_at  # the schedule may move into the send window
            try:
                outcome, verdict = compliance.confirm_send(
                    campaign,
                    user=request.user,
                    exclude_missing=exclude_missing,
                    reason=reason,
                    balance_acknowledged=bool(request.POST.get("balance_ok")),
                    counted=send_count.counted(campaign, exclude_missing=exclude_missing),
                )
            except compliance.BalanceShort as short:
                # A balance known to fall short is a blocking warning: the page asks again,
                # with the box saying so.
                messages.error(request, str(short))
                verdict = self._verdict(request, campaign, exclude_missing)
                return self._send_page(
                    request, campaign, verdict, exclude_missing, balance_short=True
                )
            except campaign_commands.CampaignError as exc:
                messages.error(request, str(exc))
                return self._back(campaign)
            if moved := compliance.moved_text(verdict, asked):
                messages.warning(request, moved)
            if outcome == "scheduled":
                campaign.refresh_from_db(fields=["scheduled_at"])
                messages.success(
                    request,
                    _("Scheduled for %(when)s.")
                    % {
                        "when": timezone.localtime(campaign.scheduled_at).strftime("%Y-%m-%d %H:%M")
                    },
                )
            else:
                messages.success(request, _("Sending started."))
            return self._back(campaign)
        verdict = self._verdict(request, campaign, exclude_missing)
        return self._send_page(request, campaign, verdict, exclude_missing)

    @staticmethod
    def _verdict(request, campaign: Campaign, exclude_missing: bool):
        """The checks, with the figures of the first recipients, or of the whole list when
        it is short or its count is done (``services.send_count``)."""
        return send_count.checked(campaign, user=request.user, exclude_missing=exclude_missing)

    def _send_page(
        self, request, campaign, checked, exclude_missing: bool, *, balance_short: bool = False
    ):
        """``balance_short``: the whole list's count fell short of the balance (the page's
        own count may cover only the first recipients, and say it covers)."""
        verdict, whole = checked
        preview = verdict.preview
        partial = not whole.known
        # The reason a notification needs is asked for on the form, not shown as a problem.
        reason_missing = _("Say why this message is a notification and not marketing.")
        problems = [p for p in verdict.problems if p not in preview.errors and p != reason_missing]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send %(name)s") % {"name": campaign.name},
            "campaign": campaign,
            "preview": preview,
            "rules": verdict,
            "problems": problems,
            "blocked": bool(problems or preview.errors),
            "notification": not verdict.marketing,
            "moved": compliance.moved_text(verdict, campaign.scheduled_at),
            "opts": self.model._meta,
            "exclude_missing": exclude_missing,
            "partial": partial,
            "whole": whole,
            "balance_short": balance_short or preview.balance_covers is False,
            "approval_reason": approval.blocking_reason(campaign),
        }
        return TemplateResponse(request, "admin/messaging/campaign/send.html", context)

    def pause_view(self, request, pk):
        return self._post_only(request, pk, self._pause)

    def resume_view(self, request, pk):
        return self._post_only(request, pk, self._resume)

    def cancel_view(self, request, pk):
        return self._post_only(request, pk, self._cancel)

    def test_send_view(self, request, pk):
        return self._post_only(request, pk, self._test_send)

    def _post_only(self, request, pk, action):
        campaign = self._campaign(request, pk)
        if request.method != "POST":
            return self._back(campaign)
        try:
            action(request, campaign)
        except campaign_commands.CampaignError as exc:
            messages.error(request, str(exc))
        return self._back(campaign)

    def _pause(self, request, campaign):
        if campaign_commands.pause_by_hand(campaign.pk, request.user):
            messages.success(request, campaign_commands.pause_summary(campaign.pk))
        else:
            messages.error(request, _("Only a sending campaign can be paused."))

    def _resume(self, request, campaign):
        campaign_commands.resume(campaign.pk)
        messages.success(request, _("Resumed."))

    def _cancel(self, request, campaign):
        withdrawn = campaign_commands.cancel_by_hand(campaign.pk, request.user)
        messages.success(request, _("Cancelled; %(n)d messages were not sent.") % {"n": withdrawn})

    def _test_send(self, request, campaign):
        phone = request.POST.get("phone", "").strip()
        if not TEST_PHONE.fullmatch(phone):
            messages.error(request, _("Enter a phone number for the test."))
            return
        message = sending.send_test_message(campaign, phone, user=request.user)
        level = messages.SUCCESS if message.status == "submitted" else messages.ERROR
        messages.add_message(
            request,
            level,
            _("Test message to %(phone)s: %(status)s %(error)s")
            % {
                "phone": phone,
                "status": message.get_status_display(),
                "error": wording.shown(message.error),
            },
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        campaign = self.get_object(request, unquote(object_id))  # None for "abc": no 500
        if campaign:
            extra_context["status_counts"] = counter_rows(campaign)
            extra_context["window_pause"] = compliance.paused_text(campaign)
            extra_context["campaign_obj"] = campaign
            extra_context["can_send"] = can(request.user, SEND)
        return super().change_view(request, object_id, form_url, extra_context)
