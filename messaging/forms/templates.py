"""The saved templates' form (the composer's message fields, with a name and a category) and
the re-time form of a scheduled campaign."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Template
from ..services.template_library import categories
from .composer import ComposeForm

CATEGORY_LIST = "template-categories"
"""The id of the page's <datalist> of existing categories (``categories``)."""


class TemplateForm(forms.Form):
    """A saved template: the very fields (and checks) the composer writes a message with."""

    name = forms.CharField(label=gettext_lazy("Template name"), max_length=100)
    category = ComposeForm.base_fields["category"]
    kind = ComposeForm.base_fields["kind"]
    body = ComposeForm.base_fields["body"]
    signature = ComposeForm.base_fields["signature"]
    is_marketing = ComposeForm.base_fields["is_marketing"]

    clean_body = ComposeForm.clean_body

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signature"].validators = Template._meta.get_field("signature").validators
        self.fields["category"].help_text = ""
        self.fields["category"].widget.attrs["list"] = CATEGORY_LIST


def template_initial(template: Template | None) -> dict:
    if template is None:
        return {"kind": Template.Kind.SMS, "is_marketing": True}
    return {
        "name": template.name,
        "category": template.category,
        "kind": template.kind,
        "body": template.body,
        "signature": template.signature,
        "is_marketing": template.is_marketing,
    }


class RetimeForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        label=gettext_lazy("Send at"),
        input_formats=ComposeForm.base_fields["scheduled_at"].input_formats,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_scheduled_at(self):
        when = self.cleaned_data["scheduled_at"]
        if when <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future."))
        return when


__all__ = ["CATEGORY_LIST", "RetimeForm", "TemplateForm", "categories", "template_initial"]
