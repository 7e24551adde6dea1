"""The admin's template list shows the template library unless asked for the campaigns' own
messages (``Template.is_draft``: written in the composer for one campaign)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class TemplateLibraryFilter(admin.SimpleListFilter):
    title = _("campaign's own message")
    parameter_name = "own"
    DEFAULT = "no"

    def lookups(self, request, model_admin):
        return [
            ("no", _("Saved templates")),
            ("yes", _("Campaigns' own messages")),
            ("all", _("All")),
        ]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or self.DEFAULT) == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or self.DEFAULT
        if value == "all":
            return queryset
        return queryset.filter(is_draft=value == "yes")
