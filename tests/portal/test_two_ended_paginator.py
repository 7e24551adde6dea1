"""A long list's pages are read from their nearer end (``TwoEndedPaginator``): the same rows
on the same pages as Django's paginator, the last page without an OFFSET over the whole list."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import Recipient, RecipientList
from messaging.views.portal.common import TwoEndedPaginator

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9])
def test_every_page_holds_what_djangos_paginator_holds(size):
    people = RecipientList.objects.create(name="list")
    Recipient.objects.bulk_create(
        Recipient(recipient_list=people, phone=f"1380000{n:04d}") for n in range(size)
    )
    rows = people.recipients.order_by("pk")
    ours, django = TwoEndedPaginator(rows, 2), Paginator(rows, 2)
    assert ours.num_pages == django.num_pages
    for number in ours.page_range:
        page = ours.page(number)
        assert [r.pk for r in page] == [r.pk for r in django.page(number)], number
        assert (page.has_next(), page.start_index()) == (
            django.page(number).has_next(),
            django.page(number).start_index(),
        )


def test_the_last_page_is_read_from_the_end():
    people = RecipientList.objects.create(name="list")
    Recipient.objects.bulk_create(
        Recipient(recipient_list=people, phone=f"1380000{n:04d}") for n in range(9)
    )
    paginator = TwoEndedPaginator(people.recipients.order_by("pk"), 2)
    paginator.count
    with CaptureQueriesContext(connection) as captured:
        assert len(paginator.page(paginator.num_pages)) == 1
    [query] = captured.captured_queries
    assert "DESC" in query["sql"] and "OFFSET" not in query["sql"]
