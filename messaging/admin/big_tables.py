"""What every admin of a table of millions of rows shares: lists that never count the table,
searches that only look up indexed columns, and deletes that never collect millions of rows.

* ``BigTablePaginator`` — the changelist's count: the planner's estimate for a whole table
  (``sql.estimates``), else a count stopped at ``COUNT_CAP`` + 1 rows;
* ``BigTableAdmin`` — that paginator, no full count, and ``get_search_results`` reading what
  was typed (``read_search``): a phone (``138 0013 8000``, ``+86…``, full-width digits) in its
  stored form, our id, a vendor's id or a row's number, each an exact, indexed lookup;
* ``RefuseBigDeletes`` — the delete page and the bulk delete refuse an object with more than
  ``DELETE_LIMIT`` dependent rows (counted within that cap), with the reason.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import unquote
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..importing import phones
from ..services.sql.estimates import estimated_rows

COUNT_CAP = 10_000
"""A filtered or searched list counts at most this many rows (and one more, to know there are
more): enough pages for a person, bounded work for the database."""

DELETE_LIMIT = 1_000
"""More dependent rows than this and the admin refuses the delete (archive instead)."""

BIGINT_MAX = 2**63 - 1


# --------------------------------------------------------------------------- counting


class BigTablePaginator(Paginator):
    """Never ``COUNT(*)`` over a whole big table.

    A list with no condition takes the planner's estimate of the table's rows when it has one
    above ``COUNT_CAP`` (``count_is_estimate``); any other list counts at most ``COUNT_CAP`` + 1
    rows (``count_is_capped`` when it stopped there: the pages end at the cap)."""

    count_is_estimate = False
    count_is_capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        if not queryset.query.where and not queryset.query.distinct:
            estimate = estimated_rows(queryset.model._meta.db_table)
            if estimate is not None and estimate > COUNT_CAP:
                self.count_is_estimate = True
                return estimate
        counted = queryset.order_by()[: COUNT_CAP + 1].count()
        if counted > COUNT_CAP:
            self.count_is_capped = True
            return COUNT_CAP
        return counted


# --------------------------------------------------------------------------- searching


@dataclass(frozen=True)
class SearchTerms:
    """What one search box entry may be: ``text`` as typed (NFKC, trimmed) for ids, ``phone``
    in its stored form when it reads as one, ``number`` when it can be a primary key."""

    text: str
    phone: str | None
    number: int | None


def read_search(term: str) -> SearchTerms | None:
    """The search box's entry read once, or None when it is empty."""
    text = unicodedata.normalize("NFKC", term or "").strip()
    if not text:
        return None
    phone = phones.normalize(text, allow_international=True)
    number = int(text) if text.isascii() and text.isdigit() and int(text) <= BIGINT_MAX else None
    return SearchTerms(
        text=text,
        phone=phone if isinstance(phone, str) else None,
        number=number,
    )


class BigTableAdmin:
    """Mixed into the ``ModelAdmin`` of a big table (before it).

    Subclasses define ``search_condition(terms)``: a ``Q`` of exact, indexed lookups for what
    was typed, or None when nothing it could be is searchable here (the list then says what
    can be searched, ``search_help``, and shows nothing)."""

    paginator = BigTablePaginator
    show_full_result_count = False
    search_help = gettext_lazy("Search by a full phone number.")

    def search_condition(self, terms: SearchTerms) -> Q | None:
        raise NotImplementedError

    def get_search_results(self, request, queryset, search_term):
        terms = read_search(search_term)
        if terms is None:
            return queryset, False
        condition = self.search_condition(terms)
        if condition is None:
            self.message_user(request, str(self.search_help), messages.WARNING)
            return queryset.none(), False
        return queryset.filter(condition), False


def id_lookups(terms: SearchTerms, *, custom_id_length: int, vendor_id_length: int) -> dict:
    """Which id columns ``terms.text`` fits (a longer text cannot be one of them)."""
    fits = {}
    if len(terms.text) <= custom_id_length:
        fits["custom_id"] = terms.text
    if len(terms.text) <= vendor_id_length:
        fits["vendor_message_id"] = terms.text
    return fits


# --------------------------------------------------------------------------- deleting


class RefuseBigDeletes:
    """Mixed into a ``ModelAdmin`` (before it) whose objects may own millions of rows.

    Subclasses define ``dependents(obj)``: ``(queryset, noun)`` pairs of the rows a delete
    would delete or touch.  Each is counted within ``DELETE_LIMIT`` + 1 rows, so deciding never
    collects anything; above the limit the delete page and the bulk delete say why and delete
    nothing.  Smaller objects are deleted as Django always does."""

    def dependents(self, obj) -> list[tuple[QuerySet, str]]:
        raise NotImplementedError

    def dependent_count(self, obj) -> tuple[int, str] | None:
        """The first kind of dependent rows over the limit, as (at least how many, noun)."""
        for queryset, noun in self.dependents(obj):
            counted = queryset.order_by()[: DELETE_LIMIT + 1].count()
            if counted > DELETE_LIMIT:
                return max(counted, self.known_count(obj, noun)), noun
        return None

    def known_count(self, obj, noun: str) -> int:
        """How many there are where the object keeps the number (a campaign's counter)."""
        return 0

    def delete_refusal(self, obj) -> str | None:
        over = self.dependent_count(obj)
        if over is None:
            return None
        count, noun = over
        if count > DELETE_LIMIT + 1:
            amount = number_format(count, force_grouping=True)
        else:
            amount = _("more than %(n)s") % {"n": number_format(DELETE_LIMIT, force_grouping=True)}
        return _(
            "“%(object)s” has %(count)s %(what)s: too many to delete here. Archive it instead."
        ) % {"object": obj, "count": amount, "what": noun}

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        refusal = None if obj is None else self.delete_refusal(obj)
        if refusal is not None:
            self.message_user(request, refusal, messages.ERROR)
            opts = self.model._meta
            return redirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=[obj.pk],
                    current_app=self.admin_site.name,
                )
            )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _function, name, description = actions["delete_selected"]
            actions["delete_selected"] = (type(self).delete_selected_checked, name, description)
        return actions

    def delete_selected_checked(self, request, queryset):
        """Django's bulk delete, after each chosen object is checked (there are at most a
        page of them, each counted within the limit)."""
        refusals = [r for r in (self.delete_refusal(obj) for obj in queryset) if r]
        if refusals:
            for refusal in refusals:
                self.message_user(request, refusal, messages.ERROR)
            return None
        return delete_selected(self, request, queryset)
