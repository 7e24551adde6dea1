"""The rules in real Chromium, in both languages and on a phone: a marketer (Chinese) submits a
campaign for approval, an approver (English) reviews its rendered messages and approves it,
the marketer sends it and the simulator delivers it; an opt-out reply shows on the suppression
page with its evidence; an analyst on a phone reads the pages without a button to change
anything; an administrator finds every step in the audit trail."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import AuditEvent
from accounts.roles import ADMINISTRATORS, ANALYSTS, APPROVERS
from messaging.models import Campaign, PortalSettings, Recipient, RecipientList, Suppression
from tests.conftest import make_user

from .test_marketer_journey import (  # noqa: F401
    ACCOUNT_ID,
    LAPTOP_VIEWPORT,
    PASSWORD,
    PHONE_VIEWPORT,
    TIMEOUT_MS,
    portal,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_as(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/(portal|admin)/$"))


def wide(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") > page.viewport_size["width"]


def new_page(browser, *, locale, viewport=LAPTOP_VIEWPORT, phone=False):
    options = {"viewport": viewport, "locale": locale}
    if phone:
        options |= {"device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def test_approval_send_opt_out_and_audit(
    browser,
    portal,  # noqa: F811
    sim,
    screenshot,
    django_user_model,
):
    base = portal["url"]
    rules = PortalSettings.load()
    rules.approval_required = True
    rules.approval_min_recipients = 0
    rules.save()
    approver = make_user(django_user_model, "anna", APPROVERS)
    analyst = make_user(django_user_model, "ivy", ANALYSTS)
    make_user(django_user_model, "root", ADMINISTRATORS)
    members = RecipientList.objects.create(name="会员", columns=["name"])
    for phone, name in (("13800000001", "张三"), ("13800000002", "")):
        Recipient.objects.create(recipient_list=members, phone=phone, variables={"name": name})

    # The marketer, in Chinese: composed, then submitted for approval from the confirm page.
    context, page, errors = new_page(browser, locale="zh-CN")
    log_in_as(page, base, "lily", PASSWORD)
    page.goto(f"{base}/portal/compose/")
    page.fill("#id_name", "会员日")
    page.select_option("#id_recipient_list", label="会员")
    page.select_option("#id_vendor_account", label="5G 主账号 · 5G SMS (ashx)")
    page.fill("#id_body", "<name|顾客>您好，会员日全场八折")
    page.click("#to-confirm")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/confirm/"))
    expect(page.locator("[data-approval-needed]")).to_be_visible()
    expect(page.locator("#confirm-button")).to_have_count(0)
    screenshot(page, "r1-confirm-needs-approval")
    page.click("#submit-button")
    campaign = Campaign.objects.get(name="会员日")
    assert campaign.approval_status == "pending"

    # The approver, in English: the queue, the rendered messages, approved with a comment.
    approver_context, approver_page, approver_errors = new_page(browser, locale="en-US")
    log_in_as(approver_page, base, approver.username, "pw-" + approver.username)
    approver_page.goto(f"{base}/portal/approvals/")
    expect(approver_page.locator("html")).to_have_attribute("lang", "en")
    expect(approver_page.locator("main")).to_contain_text("会员日")
    screenshot(approver_page, "r2-approvals-en")
    approver_page.goto(f"{base}/portal/approvals/{campaign.pk}/")
    samples = approver_page.locator("[data-sample]")
    expect(samples.first).to_have_text("【悦享商城】张三您好，会员日全场八折回T退订")
    expect(samples.nth(1)).to_have_text("【悦享商城】顾客您好，会员日全场八折回T退订")
    approver_page.fill("#approval-form textarea[name=comment]", "OK for Saturday")
    screenshot(approver_page, "r3-review-en")
    approver_page.click("#approve-button")
    approver_page.wait_for_url(re.compile(r"/portal/approvals/$"))
    expect(approver_page.locator(".messages")).to_contain_text("Approved")
    approver_page.goto(f"{base}/portal/approvals/{campaign.pk}/")
    expect(approver_page.locator("#approval-decision")).to_contain_text("OK for Saturday")
    campaign.refresh_from_db()
    assert campaign.approval_status == "approved" and campaign.approved_by == approver

    # The marketer sends it; the simulator delivers both messages.
    page.goto(f"{base}/portal/campaigns/{campaign.pk}/confirm/")
    page.click("#confirm-button")
    page.wait_for_url(re.compile(rf"/portal/campaigns/{campaign.pk}/$"))
    expect(page.locator('[data-counter="delivered"]')).to_have_text("2", timeout=30_000)
    screenshot(page, "r4-campaign-delivered")

    # An opt-out reply: the suppression page says why and since when, with the reply.
    sim.inject_reply(vendor="ashx5g", account_id=ACCOUNT_ID, phone="13800000002", content="TD")
    for _ in range(60):
        if Suppression.objects.active().filter(phone="13800000002").exists():
            break
        page.wait_for_timeout(250)
    page.goto(f"{base}/portal/suppressions/?q=138 0000 0002")
    expect(page.locator('[data-state="suppressed"]')).to_be_visible()
    expect(page.locator("[data-reply]")).to_contain_text("TD")
    screenshot(page, "r5-suppression-zh")

    # The analyst on a phone, in English: reads everything, offered nothing to change.
    phone_context, phone_page, phone_errors = new_page(
        browser, locale="en-US", viewport=PHONE_VIEWPORT, phone=True
    )
    log_in_as(phone_page, base, analyst.username, "pw-" + analyst.username)
    for name, path in (
        ("r6-phone-analyst-dashboard", "/portal/"),
        ("r7-phone-analyst-campaign", f"/portal/campaigns/{campaign.pk}/"),
        ("r8-phone-analyst-suppressions", "/portal/suppressions/?q=13800000002"),
        ("r9-phone-analyst-templates", "/portal/templates/"),
    ):
        phone_page.goto(base + path)
        phone_page.wait_for_timeout(300)
        screenshot(phone_page, name)
        assert not wide(phone_page), path
    expect(phone_page.locator("#add-form")).to_have_count(0)
    expect(phone_page.locator("#lift-form")).to_have_count(0)
    phone_page.goto(f"{base}/portal/campaigns/{campaign.pk}/")
    expect(phone_page.locator('form[data-action="duplicate"]')).to_have_count(0)

    # The administrator, in English: every step in the audit trail.
    admin_context, admin_page, admin_errors = new_page(browser, locale="en-US")
    log_in_as(admin_page, base, "root", "pw-root")
    admin_page.goto(f"{base}/admin/accounts/auditevent/")
    trail = admin_page.locator("#result_list")
    for label in ("submitted for approval", "approved", "send started", "logged in"):
        expect(trail).to_contain_text(label)
    screenshot(admin_page, "r10-audit-trail-en")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"submitted", "approved", "sent", "login"} <= actions

    assert not (errors or approver_errors or phone_errors or admin_errors)
    for each in (context, approver_context, phone_context, admin_context):
        each.close()
