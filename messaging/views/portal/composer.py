"""The campaign composer's pages: the form with its live preview and sensitive-word check,
the frames of an MMS / video / 5G message, the confirmation and the test send.

Each view reads the request, calls a service and renders or redirects:

* the form and the page's data: ``messaging.forms.composer``;
* saving a draft and its own message (``Template.is_draft``): ``services.drafts``;
* the frames' files: ``services.frames``;
* the live panel: ``services.live_preview``, on the one preview of a send
  (``services.compose.preview_message``), which the confirmation shows in full;
* the checks of a send, starting or scheduling: ``services.compliance``; a test send:
  ``services.sending``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import COMPOSE, SEND, SUBMIT, can

from ...forms.composer import ComposeForm, composer_config, composer_texts, initial_data
from ...media_types import served_type
from ...models import Campaign, TemplateFile
from ...services import (
    approval,
    campaign_commands,
    compliance,
    drafts,
    frames,
    send_count,
    sending,
    template_library,
    wording,
)
from ...services.content_checks import (
    check_message,
    estimate_cost,
    frame_rules,
    price_per_segment,
    vendor_checks_content,
)
from ...services.live_preview import LivePreview, campaign_frames, live_preview
from ..media import protected_file_response
from .common import TEST_PHONE, clean_text, parse_id, portal_view, safe_next

# --------------------------------------------------------------------------- live preview


def _bound_preview(request) -> LivePreview | None:
    form = ComposeForm(request.POST)
    form.is_valid()  # partial data is fine: use what is there
    data = form.cleaned_data
    account, recipient_list = data.get("vendor_account"), data.get("recipient_list")
    if account is None or recipient_list is None:
        return None
    data.setdefault("body", request.POST.get("body", ""))
    # The draft being edited holds the frames (its template, even while the form differs).
    campaign_pk = parse_id(request.POST.get("campaign"))
    campaign = (
        Campaign.objects.select_related("template").filter(pk=campaign_pk).first()
        if campaign_pk
        else None
    )
    return live_preview(
        drafts.message_for_preview(data, campaign),
        account,
        recipient_list,
        frames_of=campaign.template if campaign else None,
        file_url=_file_url(request, campaign),
    )


@portal_view("messaging.add_campaign", capability=COMPOSE)
@require_POST
def preview(request):
    """htmx: the preview panel for the form as it stands."""
    return TemplateResponse(
        request, "portal/composer/_preview.html", {"preview": _bound_preview(request)}
    )


@portal_view("messaging.add_campaign", capability=COMPOSE)
@require_POST
def content_check(request):
    """htmx: the sensitive-word check of the first message as it will be sent."""
    live = _bound_preview(request)
    if live is None:
        return TemplateResponse(request, "portal/composer/_check.html", {"verdict": None})
    verdict = check_message(live.samples[0]["text"], live.template.body, live.account)
    return TemplateResponse(
        request,
        "portal/composer/_check.html",
        {"verdict": verdict, "vendor_check": vendor_checks_content(live.account)},
    )


# --------------------------------------------------------------------------- compose


@portal_view("messaging.add_campaign", capability=COMPOSE)
def compose(request, pk: int | None = None):
    campaign = None
    if pk is not None:
        campaign = get_object_or_404(
            Campaign.objects.select_related("template", "vendor_account", "recipient_list"),
            pk=pk,
        )
        if campaign.status != Campaign.State.DRAFT:
            messages.info(
                request,
                _("Only a draft can be edited; a scheduled campaign goes back to draft with Edit.")
                if campaign.status == Campaign.State.SCHEDULED
                else _("Only a draft can be edited; Duplicate makes a new draft of it."),
            )
            return redirect("portal:campaign", pk=campaign.pk)
        if not request.user.has_perm("messaging.change_campaign"):
            return redirect("portal:campaign", pk=campaign.pk)
    form = ComposeForm(request.POST or None, initial=initial_data(request.GET, campaign))
    if request.method == "POST" and form.is_valid():
        campaign = drafts.save_draft(form.cleaned_data, user=request.user, campaign=campaign)
        if request.POST.get("then") == "confirm":
            return redirect("portal:confirm", pk=campaign.pk)
        messages.success(request, _("Draft saved."))
        return redirect("portal:compose_edit", pk=campaign.pk)
    template = campaign.template if campaign else None
    text_frames = frames.has_text_frames(template)
    if text_frames:
        # The body is the text frames' texts (kept in step with them): edited there.
        attrs = form.fields["body"].widget.attrs
        attrs["readonly"], attrs["data-from-frames"] = True, "1"
    context = {
        "form": form,
        "text_frames": text_frames,
        "campaign": campaign,
        "template_obj": template,
        "frames": frames.grouped_frames(template),
        "frames_bytes": frames.frames_bytes(template),
        "rules": frame_rules(campaign.vendor_account) if campaign else None,
        "categories": template_library.categories(),
        "config": composer_config(),
        "texts": composer_texts(),
    }
    return TemplateResponse(request, "portal/composer/compose.html", context)


# --------------------------------------------------------------------------- frames


@portal_view("messaging.change_campaign", "messaging.add_templatefile", capability=COMPOSE)
@require_POST
def upload_frame(request, pk: int):
    """Add a file (or a text) to a frame of a draft campaign's MMS / 5G message."""
    campaign = get_object_or_404(
        Campaign.objects.select_related("template", "vendor_account"), pk=pk
    )
    back = reverse("portal:compose_edit", args=[campaign.pk]) + "#frames"
    if campaign.status != Campaign.State.DRAFT:
        return _frame_answer(request, back, _("Only a draft can be edited."), 409)
    if frames.frames_fixed(campaign.template):
        return _frame_answer(request, back, str(frames.FramesFixed()), 409)
    frame = frames.frame_number(request.POST.get("frame"))
    upload = request.FILES.get("file")
    text = (request.POST.get("text") or "").strip()
    if upload is None and text:
        upload = frames.text_upload(text, frame)
    if upload is None:
        return _frame_answer(request, back, _("Choose a file or write a text."), 400)
    try:
        drafts.add_frame_file(campaign, frame, upload, user=request.user)
    except frames.FrameError as exc:
        return _frame_answer(request, back, str(exc), 400)
    return _frame_answer(request, back, "", 201)


@portal_view("messaging.view_campaign", "messaging.view_templatefile")
def frame_file(request, pk: int, file_pk: int):
    """A frame's file, for the composer's previews (media is not served publicly)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    item = get_object_or_404(TemplateFile, pk=file_pk, template_id=campaign.template_id)
    if not frames.stored(item):
        raise Http404
    return protected_file_response(item.file, served_type(item.content_type))


@portal_view("messaging.change_campaign", "messaging.delete_templatefile", capability=COMPOSE)
@require_POST
def delete_frame_file(request, pk: int, file_pk: int):
    campaign = get_object_or_404(
        Campaign.objects.select_related("template"), pk=pk, status=Campaign.State.DRAFT
    )
    item = get_object_or_404(TemplateFile, pk=file_pk, template=campaign.template)
    drafts.remove_frame_file(campaign, item, user=request.user)
    return redirect(reverse("portal:compose_edit", args=[campaign.pk]) + "#frames")


def _frame_answer(request, back: str, error: str, status: int):
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": not error, "error": error}, status=status)
    if error:
        messages.error(request, error)
    return redirect(back)


# --------------------------------------------------------------------------- confirm


def _campaign_for_send(pk: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("template", "vendor_account", "recipient_list"), pk=pk
    )


@portal_view("messaging.view_campaign", capability=SEND)
def confirm(request, pk: int):
    """What the send will be — count, parts, estimated cost, checks — and the button; or,
    when the campaign needs an approval it does not have, why, and the button to submit it."""
    campaign = _campaign_for_send(pk)
    if campaign.status not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
        messages.info(request, _("This campaign has already been sent."))
        return redirect("portal:campaign", pk=campaign.pk)
    exclude_missing = request.POST.get("missing", "exclude") == "exclude"
    reason = clean_text(request.POST.get("notification_reason", ""), 500)
    verdict, whole = send_count.checked(
        campaign, user=request.user, reason=reason, exclude_missing=exclude_missing
    )
    preview_data = verdict.preview
    approval_reason = approval.blocking_reason(campaign)
    if request.method == "POST" and request.POST.get("confirm"):
        if approval_reason:
            messages.error(request, approval_reason)
        elif not whole.known:
            messages.error(
                request,
                _("The whole list is still being counted: confirm once its figures are shown."),
            )
        elif not verdict.ok or not preview_data.sendable:
            messages.error(request, _("This campaign cannot be sent as it is."))
        else:
            try:
                return _start(
                    request,
                    campaign,
                    exclude_missing,
                    reason,
                    balance_acknowledged=bool(request.POST.get("balance_ok")),
                    counted=preview_data,  # the whole list's figures, as this page shows
                )
            except compliance.BalanceShort as short:  # asked again, on this page
                messages.error(request, str(short))
    # The reason a notification needs is asked for, not reported as a problem, before the
    # first try.
    reason_missing = _("Say why this message is a notification and not marketing.")
    problems = [p for p in verdict.problems if p != reason_missing or request.method == "POST"]
    context = {
        "campaign": campaign,
        "preview": preview_data,
        "whole": whole,
        "inline_rows": send_count.INLINE_ROWS,
        "verdict": verdict.content,
        "rules": verdict,
        "problems": [p for p in problems if p not in preview_data.errors],
        "blocked": bool(problems) or bool(preview_data.errors),
        "notification": not verdict.marketing,
        "may_notify": request.user.has_perm(compliance.NOTIFICATION_PERMISSION),
        "notification_reason": reason,
        "moved": compliance.moved_text(verdict, campaign.scheduled_at),
        "vendor_check": vendor_checks_content(campaign.vendor_account),
        "cost": estimate_cost(preview_data.total_segments, campaign.vendor_account),
        "price": price_per_segment(campaign.vendor_account),
        "exclude_missing": exclude_missing,
        "scheduled": bool(campaign.scheduled_at and campaign.scheduled_at > timezone.now()),
        # MMS / video / 5G: what the handset shows (the samples' texts are not sent as such).
        "rich": campaign.template.needs_vendor_approval,
        "frames": campaign_frames(campaign, _file_url(request, campaign)),
        "approval_reason": approval_reason,
        "can_submit": (
            bool(approval_reason)
            and campaign.status == Campaign.State.DRAFT
            and campaign.approval_status != Campaign.Approval.PENDING
            and can(request.user, SUBMIT)
        ),
    }
    return TemplateResponse(request, "portal/composer/confirm.html", context)


@portal_view("messaging.view_campaign")
def send_count_progress(request, pk: int):
    """How far the whole list's count is (polled by the confirmation and the approval
    review while it runs); once it is done, the page is loaded again to show the figures."""
    campaign = get_object_or_404(Campaign, pk=pk)
    page = "review" if request.GET.get("page") == "review" else "confirm"
    count = send_count.latest(campaign)
    if count is None or count.state == count.State.DONE:
        response = HttpResponse()
        response["HX-Redirect"] = reverse(
            "portal:approval_review" if page == "review" else "portal:confirm", args=[pk]
        )
        return response
    return TemplateResponse(
        request,
        "portal/composer/_send_count.html",
        {"campaign": campaign, "count": count, "page": page, "inline_rows": send_count.INLINE_ROWS},
    )


@portal_view("messaging.view_campaign", capability=SUBMIT)
@require_POST
def submit(request, pk: int):
    """Ask for approval of the campaign as it is now."""
    campaign = _campaign_for_send(pk)
    try:
        campaign_commands.submit(campaign, user=request.user)
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
        return redirect("portal:confirm", pk=campaign.pk)
    messages.success(request, _("Submitted for approval."))
    return redirect("portal:campaign", pk=campaign.pk)


def _file_url(request, campaign: Campaign | None) -> Callable[[TemplateFile], str] | None:
    """Where the composer's pages show a frame's file, for those allowed to see it."""
    if campaign is None or not request.user.has_perms(
        ["messaging.view_campaign", "messaging.view_templatefile"]
    ):
        return None
    return lambda item: reverse("portal:frame_file", args=[campaign.pk, item.pk])


def _start(
    request,
    campaign: Campaign,
    exclude_missing: bool,
    reason: str,
    *,
    balance_acknowledged: bool,
    counted=None,
):
    """Schedule or start, through the same service as the admin's send view
    (``compliance.BalanceShort`` goes to the caller: the page asks again)."""
    asked = campaign.scheduled_at  # the schedule may move into the send window
    try:
        outcome, verdict = compliance.confirm_send(
            campaign,
            user=request.user,
            exclude_missing=exclude_missing,
            reason=reason,
            balance_acknowledged=balance_acknowledged,
            counted=counted,
        )
    except compliance.BalanceShort:
        raise
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
        return redirect("portal:campaign", pk=campaign.pk)
    if moved := compliance.moved_text(verdict, asked):
        messages.warning(request, moved)
    if outcome == "scheduled":
        campaign.refresh_from_db(fields=["scheduled_at"])
        messages.success(
            request,
            _("Scheduled for %(when)s.")
            % {"when": timezone.localtime(campaign.scheduled_at).strftime("%Y-%m-%d %H:%M")},
        )
        return redirect("portal:campaign", pk=campaign.pk)
    messages.success(request, _("Sending started."))
    return redirect("portal:campaign", pk=campaign.pk)


@portal_view("messaging.view_campaign", capability=SEND)
@require_POST
def test_send(request, pk: int):
    campaign = _campaign_for_send(pk)
    back = safe_next(request, reverse("portal:confirm", args=[campaign.pk]))
    phone = request.POST.get("phone", "").strip()
    if not TEST_PHONE.fullmatch(phone):
        messages.error(request, _("Enter a phone number for the test."))
        return redirect(back)
    try:
        message = sending.send_test_message(campaign, phone, user=request.user)
    except sending.CampaignError as exc:
        messages.error(request, str(exc))
        return redirect(back)
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
    return redirect(back)
