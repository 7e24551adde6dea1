"""A list longer than a page counts itself, in real Chromium: the confirmation shows how far
the whole list's count is and no button, polls it, loads again with the whole list's figures
when it is done, and the send goes (``services.send_count``; tasks run where they are
enqueued here, so the count is done by the first poll)."""

import re

import pytest
from playwright.sync_api import expect

from messaging.models import Campaign, Recipient, RecipientList, Template
from messaging.services import send_count

from .test_marketer_journey import PASSWORD, portal  # noqa: F401
from .test_rules_journey import log_in_as, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_confirmation_waits_for_the_whole_list_then_sends(
    browser,
    portal,  # noqa: F811
    sim,
    screenshot,
    monkeypatch,
):
    monkeypatch.setattr(send_count, "INLINE_ROWS", 2)
    base = portal["url"]
    members = RecipientList.objects.create(name="大名单", columns=["name"])
    Recipient.objects.bulk_create(
        Recipient(recipient_list=members, phone=f"1380000000{i}", variables={"name": f"客{i}"})
        for i in range(1, 6)
    )
    template = Template.objects.create(
        name="大促", body="<name>您好，周末全场八折", created_by=portal["user"]
    )
    campaign = Campaign.objects.create(
        name="大促",
        template=template,
        vendor_account=portal["account"],
        recipient_list=members,
        created_by=portal["user"],
    )

    context, page, errors = new_page(browser, locale="en-US")
    log_in_as(page, base, "lily", PASSWORD)

    page.goto(f"{base}/portal/campaigns/{campaign.pk}/confirm/")
    # As served: the count under way, the first recipients' figures, no button.
    counting = page.locator('[data-send-count="counting"]')
    if counting.count():  # the poll may already have replaced it
        expect(page.locator("#confirm-button")).to_have_count(0)
        screenshot(page, "long-list-confirm-counting")
    # The poll finds the count done and loads the page again with the whole list's figures.
    expect(page.locator('[data-send-count="done"]')).to_be_visible()
    expect(page.locator('[data-figure="sendable"]')).to_have_text("5")
    screenshot(page, "long-list-confirm-counted")
    expect(page.locator("#confirm-button")).to_contain_text("Send 5 messages now")
    page.click("#confirm-button")
    page.wait_for_url(re.compile(rf"/portal/campaigns/{campaign.pk}/$"))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED, campaign.status_reason
    assert len(sim.accepted(vendor="ashx5g")) == 5
    assert errors == []
    context.close()
