"""The base of every admin page of records only the pipeline writes."""

from django.contrib import admin

from accounts.admin_lookups import DeclaredLookupsOnly


class ReadOnlyAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    """Records written only by the pipeline: viewable, never edited by hand."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
