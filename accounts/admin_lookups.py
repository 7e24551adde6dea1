"""Changelist filtering by the declared filters only, for every admin of the portal.

Django's ``ModelAdmin.lookup_allowed`` lets anyone who can open a changelist filter by any
local field with any lookup (``?push_token__regex=^iZ``), which turns a list of names into a
yes/no oracle on fields the admin never shows.  Every ``ModelAdmin`` here mixes in
``DeclaredLookupsOnly``: the query string may use exactly the parameters that the declared
``list_filter`` entries and ``date_hierarchy`` produce (and the ``limit_choices_to`` lookups of
raw-id popups).  Anything else makes Django answer 400 (``DisallowedModelAdminLookup``), for
every user, superusers included.
"""

from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.admin.filters import FieldListFilter
from django.contrib.admin.utils import get_fields_from_path

DATE_HIERARCHY_PARTS = ("year", "month", "day")


def declared_lookups(model_admin: admin.ModelAdmin, request) -> frozenset[str]:
    """The query-string parameters the admin's declared filters read, built the way the
    changelist builds them (so a filter class's own parameters are known exactly)."""
    cache = request.__dict__.setdefault("_declared_lookups", {}) if request is not None else {}
    key = id(model_admin)
    if key in cache:
        return cache[key]
    model = model_admin.model
    list_filter = (
        model_admin.get_list_filter(request) if request is not None else model_admin.list_filter
    )
    allowed: set[str] = set()
    for item in list_filter:
        if callable(item) and not isinstance(item, (list, tuple)):
            spec = item(request, {}, model, model_admin)
        else:
            if isinstance(item, (list, tuple)):
                field_path, filter_class = item
            else:
                field_path, filter_class = item, FieldListFilter.create
            field = get_fields_from_path(model, field_path)[-1]
            spec = filter_class(field, request, {}, model, model_admin, field_path=field_path)
        allowed.update(spec.expected_parameters())
    if model_admin.date_hierarchy:
        allowed.update(f"{model_admin.date_hierarchy}__{part}" for part in DATE_HIERARCHY_PARTS)
    cache[key] = result = frozenset(allowed)
    return result


def raw_id_popup_lookup(model, lookup: str, value) -> bool:
    """``limit_choices_to`` of a foreign key to this model, as the raw-id widget puts it in
    the popup's URL (Django's own exception, kept)."""
    for fk_lookup in model._meta.related_fkey_lookups:
        if callable(fk_lookup):
            fk_lookup = fk_lookup()
        if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
            return True
    return False


class DeclaredLookupsOnly:
    """Mix into a ``ModelAdmin`` (before it): only the declared filters filter."""

    def lookup_allowed(self, lookup, value, request=None):
        if "\x00" in str(value):
            return False  # PostgreSQL refuses NUL in text: a 400, not a 500
        if lookup in declared_lookups(self, request):
            return True
        return raw_id_popup_lookup(self.model, lookup, value)
