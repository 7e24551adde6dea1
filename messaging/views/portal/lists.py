"""Recipient lists: what is in each, where to import a spreadsheet, which campaigns used it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...models import RecipientList, Suppression
from ...services.recipient_lists import create_recipient_list
from .common import TwoEndedPaginator, clean_text, portal_view


class RecipientListForm(forms.ModelForm):
    class Meta:
        model = RecipientList
        fields = ("name", "description")
        labels = {"name": gettext_lazy("Name"), "description": gettext_lazy("Description")}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


def import_url(recipient_list: RecipientList) -> str:
    """Where a spreadsheet is imported into this list."""
    return reverse("portal:import_upload", args=[recipient_list.pk])


def export_urls(recipient_list: RecipientList) -> dict[str, str]:
    """The list's recipients as a spreadsheet, by format."""
    return {
        fmt: reverse("portal:export_recipients", args=[recipient_list.pk, fmt])
        for fmt in ("xlsx", "csv")
    }


@portal_view("messaging.view_recipientlist")
def list_index(request):
    lists = RecipientList.objects.with_counts().order_by("-created_at")
    query = clean_text(request.GET.get("q", ""))
    if query:
        lists = lists.filter(Q(name__icontains=query) | Q(description__icontains=query))
    form = RecipientListForm()
    if request.method == "POST":
        if not request.user.has_perm("messaging.add_recipientlist"):
            messages.error(request, _("You may not create recipient lists."))
            return redirect("portal:lists")
        form = RecipientListForm(request.POST)
        if form.is_valid():
            recipient_list = create_recipient_list(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                created_by=request.user,
            )
            messages.success(
                request,
                _("List %(name)s created: now import a spreadsheet into it.")
                % {"name": recipient_list.name},
            )
            target = import_url(recipient_list)
            if target:
                return redirect(target)
            return redirect("portal:list", pk=recipient_list.pk)
    page = Paginator(lists, 25).get_page(request.GET.get("page"))
    rows = [{"obj": row, "import_url": import_url(row)} for row in page.object_list]
    return TemplateResponse(
        request,
        "portal/lists/index.html",
        {"page": page, "rows": rows, "form": form, "q": query},
    )


@portal_view("messaging.view_recipientlist")
def list_detail(request, pk: int):
    recipient_list = get_object_or_404(RecipientList, pk=pk)
    recipients = recipient_list.recipients.order_by("pk")
    page = TwoEndedPaginator(recipients, 50).get_page(request.GET.get("page"))
    columns = recipient_list.columns or []
    phones = [r.phone for r in page.object_list]
    suppressed = set(
        Suppression.objects.active().filter(phone__in=phones).values_list("phone", flat=True)
    )
    rows = [
        {
            "phone": r.phone,
            "values": [(r.variables or {}).get(c, "") for c in columns],
            "row": r.source_row,
            "suppressed": r.phone in suppressed,
        }
        for r in page.object_list
    ]
    context = {
        "list": recipient_list,
        "columns": columns,
        "rows": rows,
        "page": page,
        "total": page.paginator.count,
        "campaigns": recipient_list.campaigns.order_by("-created_at")[:20],
        "import_url": import_url(recipient_list),
        "export_urls": export_urls(recipient_list),
    }
    return TemplateResponse(request, "portal/lists/detail.html", context)
