"""The admin's template files: the same checks as the portal's frame upload, and links that go
through the permission-checked view.

A file added on the admin's template page is checked with ``content_checks.check_frame_file``,
like the composer's frame upload: only the types of ``MEDIA_TYPES`` (no SVG, no HTML), within
the size limits of every vendor account the template is registered for (the default limits
while it is registered for none).  The content type chosen must be the one the file's extension
names.  The link to a stored file is ``messaging.views.media.template_file``, never
``MEDIA_URL``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminFileWidget
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from ..media_types import MEDIA_TYPES, extensions_of
from ..models import DEFAULT_MAX_FILE_KB, DEFAULT_MAX_TEMPLATE_KB, Template, TemplateFile
from ..services.content_checks import (
    FrameRules,
    check_frame_file,
    frame_rules,
)
from ..views.media import template_file_url


def default_rules() -> FrameRules:
    """A template registered for no vendor account yet: every type of the table, the default
    limits of a new account."""
    types = tuple(MEDIA_TYPES)
    return FrameRules(
        True,
        types,
        extensions_of(types),
        DEFAULT_MAX_FILE_KB * 1024,
        DEFAULT_MAX_TEMPLATE_KB * 1024,
    )


def rules_for(template: Template) -> list[FrameRules]:
    """The rules of every account the template is registered for: a file must suit them all."""
    if template.pk:
        registrations = template.registrations.select_related("vendor_account")
        rules = [frame_rules(registration.vendor_account) for registration in registrations]
        if rules:
            return rules
    return [default_rules()]


def _size(file) -> int:
    try:
        return file.size
    except OSError:  # a stored file that is gone counts for nothing
        return 0


class _ServedFile:
    """A stored file as the widget shows it: its name, linked to the checked view."""

    def __init__(self, file):
        self.name = PurePosixPath(file.name).name
        self.url = template_file_url(file.instance)

    def __str__(self) -> str:
        return self.name


class TemplateFileWidget(AdminFileWidget):
    def format_value(self, value):
        value = super().format_value(value)
        instance = getattr(value, "instance", None)
        if value and isinstance(instance, TemplateFile) and instance.pk:
            return _ServedFile(value)
        return value


class TemplateFileForm(forms.ModelForm):
    class Meta:
        model = TemplateFile
        fields = ("frame", "order", "content_type", "file")
        widgets = {"file": TemplateFileWidget}


class TemplateFileFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        entries = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or self._should_delete_form(form) or not data.get("file"):
                continue
            entries.append((form, data["file"], _size(data["file"])))
        rules = None
        for form, file, size in entries:
            name = PurePosixPath(file.name).name
            if isinstance(file, UploadedFile):
                # A new file: the portal's frame upload checks, against every account's rules,
                # with the template's other files counting towards its total.
                rules = rules if rules is not None else rules_for(self.instance)
                others = sum(s for other, _file, s in entries if other is not form)
                for account_rules in rules:
                    _type, error = check_frame_file(
                        name, file.content_type or "", size, others, account_rules
                    )
                    if error:
                        form.add_error("file", error)
                        break
                if form.errors:
                    continue
            chosen = form.cleaned_data.get("content_type", "")
            media = MEDIA_TYPES.get(chosen)
            if media is None or not name.lower().endswith(media.extensions):
                form.add_error(
                    "content_type",
                    _(
                        "%(name)s is not a %(type)s file: choose the content type its "
                        "extension names."
                    )
                    % {"name": name, "type": chosen},
                )


class TemplateFileInline(admin.TabularInline):
    model = TemplateFile
    form = TemplateFileForm
    formset = TemplateFileFormSet
    extra = 0
