"""The saved templates' pages: the list (search, category, last used, used by), a template's
page (its message and, for MMS / video / 5G, its frames), copy and delete.  "Use this
template" is the composer with the template chosen.  The rules are
``services.template_library``'s."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ...forms.templates import CATEGORY_LIST, TemplateForm, categories, template_initial
from ...media_types import served_type
from ...models import Template, TemplateFile, VendorAccount
from ...services import frames, template_library
from ...services.content_checks import frame_rules
from ..media import protected_file_response
from .common import clean_text, parse_id, portal_view

PAGE_SIZE = 50


def _saved(pk: int) -> Template:
    return get_object_or_404(Template.objects.library(), pk=pk)


@portal_view("messaging.view_template")
def template_list(request):
    query = clean_text(request.GET.get("q", ""))
    category = clean_text(request.GET.get("category", ""))
    templates = template_library.listed(query, category)
    page = Paginator(templates, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "templates": page.object_list,
        "q": query,
        "category": category,
        "categories": categories(),
    }
    return TemplateResponse(request, "portal/templates/list.html", context)


def _frame_accounts(template: Template | None):
    """The active accounts whose vendor takes frames, those the template is registered with
    first."""
    accounts = [a for a in VendorAccount.objects.filter(is_active=True) if frame_rules(a).supported]
    if template is not None and template.pk:
        registered = set(template.registrations.values_list("vendor_account_id", flat=True))
        accounts.sort(key=lambda a: a.pk not in registered)
    return accounts


@portal_view("messaging.view_template")
def template_edit(request, pk: int | None = None):
    """A saved template's page (a new one without ``pk``): its message, and its frames."""
    template = _saved(pk) if pk is not None else None
    may_change = request.user.has_perm(
        "messaging.change_template" if template else "messaging.add_template"
    )
    # Submitted to a vendor: its message is what the vendor approved (only the name and the
    # category change).
    fixed = template is not None and frames.frames_fixed(template)
    form = TemplateForm(request.POST or None, initial=template_initial(template))
    if fixed:
        for name in template_library.CONTENT_FIELDS:
            form.fields[name].disabled = True
    if request.method == "POST":
        if not may_change:
            messages.error(request, _("You may not change templates."))
        elif form.is_valid():
            try:
                saved = template_library.save_template(
                    form.cleaned_data, user=request.user, template=template
                )
            except template_library.TemplateError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Template saved."))
                return redirect("portal:template", pk=saved.pk)
    if template is not None and frames.has_text_frames(template):
        attrs = form.fields["body"].widget.attrs
        attrs["readonly"], attrs["data-from-frames"] = True, "1"
    context = {
        "form": form,
        "template_obj": template,
        "may_change": may_change,
        "fixed": fixed,
        "frames_removable": not fixed and request.user.has_perm("messaging.change_template"),
        "used_by": template_library.used_by(template) if template else 0,
        "direct_uses": template.campaigns.count() if template else 0,
        "frames": frames.grouped_frames(template),
        "frame_accounts": _frame_accounts(template),
        "registrations": (
            template.registrations.select_related("vendor_account") if template else []
        ),
        "categories": categories(),
        "category_list": CATEGORY_LIST,
    }
    return TemplateResponse(request, "portal/templates/edit.html", context)


@portal_view("messaging.add_template")
@require_POST
def template_copy(request, pk: int):
    copy = template_library.copy_template(_saved(pk), user=request.user)
    messages.success(request, _("Copied: change the copy as you like."))
    return redirect("portal:template", pk=copy.pk)


@portal_view("messaging.delete_template")
@require_POST
def template_delete(request, pk: int):
    template = _saved(pk)
    try:
        template_library.delete_template(template)
    except template_library.TemplateError as exc:
        messages.error(request, str(exc))
        return redirect("portal:template", pk=template.pk)
    messages.success(request, _("Template deleted."))
    return redirect("portal:templates")


# --------------------------------------------------------------------------- frames


def _frames_anchor(template: Template) -> str:
    return reverse("portal:template", args=[template.pk]) + "#frames"


@portal_view("messaging.change_template", "messaging.add_templatefile")
@require_POST
def template_frame_upload(request, pk: int):
    template = _saved(pk)
    back = _frames_anchor(template)
    accounts = {a.pk: a for a in _frame_accounts(template)}
    account = accounts.get(parse_id(request.POST.get("account")))
    if account is None:
        messages.error(request, _("Choose the vendor account whose rules the file must meet."))
        return redirect(back)
    frame = frames.frame_number(request.POST.get("frame"))
    upload = request.FILES.get("file")
    text = (request.POST.get("text") or "").strip()
    if upload is None and text:
        upload = frames.text_upload(text, frame)
    if upload is None:
        messages.error(request, _("Choose a file or write a text."))
        return redirect(back)
    try:
        template_library.add_file(template, account, frame, upload, user=request.user)
    except frames.FrameError as exc:
        messages.error(request, str(exc))
    return redirect(back)


@portal_view("messaging.change_template", "messaging.delete_templatefile")
@require_POST
def template_frame_delete(request, pk: int, file_pk: int):
    template = _saved(pk)
    item = get_object_or_404(TemplateFile, pk=file_pk, template=template)
    if not template_library.remove_file(template, item, user=request.user):
        messages.error(request, str(frames.FramesFixed()))
    return redirect(_frames_anchor(template))


@portal_view("messaging.view_template", "messaging.view_templatefile")
def template_frame_file(request, pk: int, file_pk: int):
    template = _saved(pk)
    item = get_object_or_404(TemplateFile, pk=file_pk, template=template)
    if not frames.stored(item):
        raise Http404
    return protected_file_response(item.file, served_type(item.content_type))
