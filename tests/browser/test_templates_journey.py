"""Saved templates and scheduled campaigns in real Chromium: a message saved as a template
with a default (<name|顾客>), found on the templates page by its category, used for a new
campaign that is scheduled, re-timed, edited back to draft and duplicated."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule
from playwright.sync_api import expect

from messaging.models import Campaign, Recipient, RecipientList, Template
from messaging.services.campaign_commands import SCHEDULE_PREFIX

from .test_marketer_journey import LAPTOP_VIEWPORT, TIMEOUT_MS, log_in, portal  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_templates_and_scheduled_campaigns(browser, portal, screenshot):  # noqa: F811
    base = portal["url"]
    recipients = RecipientList.objects.create(name="会员", columns=["name"])
    Recipient.objects.create(recipient_list=recipients, phone="13800000001", variables={})
    Recipient.objects.create(
        recipient_list=recipients, phone="13800000002", variables={"name": "李四"}
    )
    context = browser.new_context(viewport=LAPTOP_VIEWPORT, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, base)

    # Composed with a default, saved as a template under a category.
    page.goto(f"{base}/portal/compose/")
    page.fill("#id_name", "会员日")
    page.select_option("#id_recipient_list", label="会员")
    page.select_option("#id_vendor_account", label="5G 主账号 · 5G SMS (ashx)")
    page.fill("#id_body", "<name|顾客>您好，会员日全场八折")
    expect(page.locator("#preview [data-sample]").first).to_have_text(
        "【悦享商城】顾客您好，会员日全场八折回T退订"
    )
    page.fill("#id_template_name", "会员日模板")
    page.check("#id_save_as_template")
    page.fill("#id_category", "会员")
    screenshot(page, "t1-composer-save-as-template")
    page.click("button[name=then][value=draft]")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/edit/"))

    # The templates page: filtered by category, used once.
    page.goto(f"{base}/portal/templates/")
    page.select_option("select[name=category]", "会员")
    page.click("form.filters button[type=submit]")
    row = page.locator("#templates-table tr[data-template]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("会员日模板")
    expect(row).to_contain_text("1")
    screenshot(page, "t2-templates")
    page.click("text=会员日模板")
    page.wait_for_url(re.compile(r"/portal/templates/\d+/"))
    screenshot(page, "t3-template")

    # Used for a new campaign, scheduled for tomorrow.
    page.click("a[data-use]")
    page.wait_for_url(re.compile(r"/portal/compose/\?template=\d+"))
    expect(page.locator("#id_body")).to_have_value("<name|顾客>您好，会员日全场八折")
    page.fill("#id_name", "会员日第二波")
    page.select_option("#id_recipient_list", label="会员")
    tomorrow = timezone.localtime() + timedelta(days=1)
    page.fill("#id_scheduled_at", tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.click("#to-confirm")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/confirm/"))
    page.click("button[name=confirm]")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/$"))
    campaign = Campaign.objects.get(name="会员日第二波")
    assert campaign.status == Campaign.State.SCHEDULED
    assert campaign.template == Template.objects.get(name="会员日模板")

    # Re-timed: the schedule moves.
    later = tomorrow + timedelta(days=1)
    page.fill("form[data-action=retime] input[name=scheduled_at]", later.strftime("%Y-%m-%dT%H:%M"))
    screenshot(page, "t4-scheduled-campaign")
    page.click("form[data-action=retime] button")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/$"))
    schedule = Schedule.objects.get(name=f"{SCHEDULE_PREFIX}{campaign.pk}")
    assert timezone.localtime(schedule.next_run).strftime("%Y-%m-%d %H:%M") == later.strftime(
        "%Y-%m-%d %H:%M"
    )

    # Edited: back to draft (after the browser's confirmation), in the composer.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form[data-action=edit-scheduled] button")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/edit/"))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    assert not Schedule.objects.filter(name=f"{SCHEDULE_PREFIX}{campaign.pk}").exists()

    # Duplicated from its page.
    page.goto(f"{base}/portal/campaigns/{campaign.pk}/")
    page.click("form[data-action=duplicate] button")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/edit/"))
    assert Campaign.objects.filter(name__startswith="会员日第二波").count() == 2
    screenshot(page, "t5-duplicate")
    assert errors == []
