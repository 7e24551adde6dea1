"""Lists shown newest first are paged at most ``NewestPaginator.MAX_PAGES`` deep, and say so."""

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import InboundMessage
from messaging.views.portal.common import NewestPaginator


def test_pages_stop_at_the_cap_and_say_there_are_more():
    paginator = NewestPaginator(list(range(95)), 10)
    paginator.MAX_PAGES = 3
    assert paginator.num_pages == 3 and paginator.truncated and paginator.shown == 30
    assert paginator.get_page(999999).number == 3
    assert not NewestPaginator(list(range(25)), 10).truncated


@pytest.mark.django_db
def test_the_inbox_says_older_replies_are_found_by_searching(
    marketer_client, vendor_account, monkeypatch
):
    monkeypatch.setattr(NewestPaginator, "MAX_PAGES", 1)
    InboundMessage.objects.bulk_create(
        InboundMessage(
            vendor_account=vendor_account,
            phone=f"1380013{i:04d}",
            content="好",
            received_at=timezone.now(),
        )
        for i in range(40)
    )
    page = marketer_client.get(
        reverse("portal:inbox"), {"page": 999999}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Only the newest 30 are paged" in page
