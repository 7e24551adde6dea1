"""A marketer's day in real Chromium: log in, import a spreadsheet, compose a personalised
campaign with the column toolbar, test-send, confirm, watch it delivered by the simulator, and
read a reply and an opt-out in the inbox; the dashboard and composer on a phone too."""

import re

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from django_q.conf import Conf
from playwright.sync_api import expect

from accounts.roles import MARKETERS, sync_roles
from messaging.models import (
    Campaign,
    InboundMessage,
    Message,
    Recipient,
    RecipientList,
    SensitiveWord,
    Template,
    VendorAccount,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Marketer-pw-2024!"
SIM_SECRET = "sim-browser-secret"
ACCOUNT_ID = "960001"
PHONE_VIEWPORT = {"width": 390, "height": 844}
LAPTOP_VIEWPORT = {"width": 1366, "height": 900}
TIMEOUT_MS = 20_000
expect.set_options(timeout=10_000)


@pytest.fixture
def portal(live_server, sim, settings, monkeypatch):
    """The live portal with a marketer and an ashx5g account on the simulator, pushing reports
    and replies back to the live server; django-q2 runs tasks in the request (sync)."""
    settings.PORTAL_BASE_URL = live_server.url
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)
    if not Group.objects.filter(name=MARKETERS).exists():
        sync_roles()
    user = get_user_model().objects.create_user("lily", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETERS))
    account = VendorAccount.objects.create(
        vendor="ashx5g",
        name="5G 主账号",
        base_url=sim.url("ashx5g"),
        account_id=ACCOUNT_ID,
        secret=SIM_SECRET,
        extension="12",
        signature="【悦享商城】",
        balance=5000,
        balance_unit="messages",
        low_balance_threshold=10000,
    )
    sim.add_account(
        vendor="ashx5g",
        account_id=ACCOUNT_ID,
        secret=SIM_SECRET,
        extension="12",
        push_url=account.push_url,
    )
    # Every message delivered: the simulator's default mix fails a few at random.
    sim.state.outcome_weights = {"delivered": 1.0}
    SensitiveWord.objects.create(word="发票", note="税务类")
    return {"url": live_server.url, "account": account, "user": user}


@pytest.fixture
def spreadsheet(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["手机号", "name", "points"])
    sheet.append(["13800000001", "张三", 1200])
    sheet.append(["138 0000 0002", "李四", 880])
    sheet.append(["+86 139-0000-0003", "王五", 15])
    path = tmp_path / "会员.xlsx"
    book.save(path)
    return path


def sent_campaign(account, user):
    """A finished campaign with a reply, for the phone pages to show."""
    recipients = RecipientList.objects.create(name="老客户", columns=["name"])
    Recipient.objects.create(recipient_list=recipients, phone="13800000009", variables={})
    template = Template.objects.create(name="周末", body="周末大促，全场五折", created_by=user)
    campaign = Campaign.objects.create(
        name="周末大促",
        template=template,
        vendor_account=account,
        recipient_list=recipients,
        created_by=user,
        status=Campaign.State.COMPLETED,
        total_count=120,
        submitted_count=118,
        delivered_count=111,
        failed_count=7,
        skipped_count=2,
        segment_count=118,
    )
    InboundMessage.objects.create(
        vendor_account=account,
        campaign=campaign,
        phone="13800000009",
        content="退订",
        is_opt_out=True,
        received_at=timezone.now(),
        raw="",
    )
    return campaign


def log_in(page, base):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "lily")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/$"))


def test_marketer_imports_composes_sends_and_reads_replies(
    browser, portal, sim, spreadsheet, screenshot
):
    base = portal["url"]
    context = browser.new_context(viewport=LAPTOP_VIEWPORT, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{base}/accounts/login/")
    screenshot(page, "01-login")
    log_in(page, base)
    expect(page.locator("[data-low-balance]")).to_be_visible()  # 5000 < 10000
    screenshot(page, "02-dashboard")

    # A new list, then the import pages: upload, mapping, confirm, job.
    page.goto(f"{base}/portal/lists/")
    page.fill("#new-list-form input[name=name]", "双十一会员")
    page.click("#new-list-form button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/lists/\d+/import/upload/"))
    screenshot(page, "03-import-upload")
    page.set_input_files("input[type=file][name=file]", str(spreadsheet))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/portal/imports/\d+/mapping/"))
    screenshot(page, "04-import-mapping")
    page.click("button[name=confirm]")
    page.wait_for_url(re.compile(r"/portal/imports/\d+/$"))
    expect(page.locator('[data-field="imported"]')).to_have_text("3")
    screenshot(page, "05-import-done")

    page.goto(f"{base}/portal/lists/")
    screenshot(page, "06-lists")
    page.click("text=双十一会员")
    expect(page.locator("#recipients-table")).to_contain_text("李四")
    screenshot(page, "07-list-detail")

    # Compose with the column toolbar; the preview comes from the server.
    page.goto(f"{base}/portal/compose/")
    page.fill("#id_name", "双十一积分提醒")
    page.select_option("#id_recipient_list", label="双十一会员")
    page.select_option("#id_vendor_account", label="5G 主账号 · 5G SMS (ashx)")
    page.click('#var-toolbar button[data-column="name"]')
    page.locator("#id_body").press("End")
    page.locator("#id_body").type("您好，您的积分为")
    page.click('#var-toolbar button[data-column="points"]')
    page.locator("#id_body").press("End")
    page.locator("#id_body").type("，双十一可兑换好礼。")
    expect(page.locator("#id_body")).to_have_value(
        "<name>您好，您的积分为<points>，双十一可兑换好礼。"
    )
    first = page.locator("#preview [data-sample]").first
    expect(first).to_have_text("【悦享商城】张三您好，您的积分为1200，双十一可兑换好礼。回T退订")
    expect(page.locator('#preview [data-figure="messages"]')).to_have_text("3")
    expect(page.locator('#preview [data-figure="segments"]')).to_have_text("3")
    expect(page.locator('#preview [data-figure="cost"]')).to_have_text("¥0.15")
    expect(page.locator("#instant-counter")).to_contain_text("1")
    # The sensitive-word check catches a word of the local list, and clears when it goes.
    page.locator("#id_body").press("End")
    page.locator("#id_body").type("开发票")
    page.click("#check-button")
    expect(page.locator("#check-result [data-check=blocked]")).to_contain_text("发票")
    for _ in range(3):
        page.locator("#id_body").press("Backspace")
    page.click("#check-button")
    expect(page.locator("#check-result [data-check=ok]")).to_be_visible()
    screenshot(page, "08-composer")

    page.click("#to-confirm")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/confirm/"))
    statement = page.locator("[data-confirm-statement]")
    expect(statement).to_contain_text("3")
    expect(statement).to_contain_text("¥0.15")
    page.fill("#test-send-form input[name=phone]", "13912345678")
    page.click("#test-send-form button[type=submit]")
    expect(page.locator(".messages .notice.success")).to_contain_text("13912345678")
    screenshot(page, "09-confirm")
    assert Message.objects.filter(campaign=None, phone="13912345678").exists()

    page.click("#confirm-button")
    page.wait_for_url(re.compile(r"/portal/campaigns/\d+/"))
    campaign = Campaign.objects.get(name="双十一积分提醒")
    # Reports come back by push from the simulator; the page refreshes every 2 s.
    expect(page.locator('[data-counter="delivered"]')).to_have_text("3", timeout=30_000)
    expect(page.locator("#progress-text")).to_have_text("100%")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED
    assert sorted(m["phone"] for m in sim.accepted(vendor="ashx5g")) == [
        "13800000001",
        "13800000002",
        "13900000003",
        "13912345678",
    ]
    accepted = {m["phone"]: m["content"] for m in sim.accepted(vendor="ashx5g")}
    assert (
        accepted["13800000002"] == "【悦享商城】李四您好，您的积分为880，双十一可兑换好礼。回T退订"
    )
    page.wait_for_timeout(500)  # let the charts finish drawing
    screenshot(page, "10-campaign")

    # Replies pushed by the simulator arrive in the inbox, linked to the campaign.
    sim.inject_reply(
        vendor="ashx5g", account_id=ACCOUNT_ID, phone="13800000001", content="好的，谢谢"
    )
    sim.inject_reply(vendor="ashx5g", account_id=ACCOUNT_ID, phone="13800000002", content="TD")
    page.goto(f"{base}/portal/inbox/")
    for _ in range(40):
        if InboundMessage.objects.count() == 2:
            break
        page.wait_for_timeout(250)
    page.reload()
    table = page.locator("#inbox-table")
    expect(table).to_contain_text("好的，谢谢")
    expect(table).to_contain_text("双十一积分提醒")
    expect(table.locator("[data-opt-out]")).to_have_count(1)
    screenshot(page, "11-inbox")
    page.select_option("select[name=opt_out]", "true")
    expect(page.locator("#inbox-table tbody tr")).to_have_count(1)
    expect(page.locator("#inbox-table")).to_contain_text("TD")
    assert InboundMessage.objects.filter(campaign=campaign).count() == 2

    page.goto(f"{base}/portal/campaigns/{campaign.pk}/")
    expect(page.locator("#replies")).to_contain_text("好的，谢谢")
    page.goto(f"{base}/portal/campaigns/")
    screenshot(page, "12-campaigns")
    page.goto(f"{base}/portal/")
    expect(page.locator("#recent-campaigns")).to_contain_text("100%")
    screenshot(page, "13-dashboard-after")

    # English through the switch.
    page.select_option("select[name=language]", "en")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Dashboard")
    screenshot(page, "14-dashboard-en")
    assert not errors, errors
    context.close()


def test_phone_layout(browser, portal, screenshot):
    base = portal["url"]
    context = browser.new_context(
        viewport=PHONE_VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    campaign = sent_campaign(portal["account"], portal["user"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, base)
    # The sidebar folds into a menu; nothing is wider than the screen.
    expect(page.locator(".sidebar")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    screenshot(page, "20-phone-dashboard")
    page.click("[data-nav-toggle]")
    expect(page.locator(".sidebar")).to_be_visible()
    screenshot(page, "21-phone-menu")
    page.click('.sidebar a[href="/portal/compose/"]')
    page.wait_for_url(re.compile(r"/portal/compose/"))
    expect(page.locator("#preview")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    screenshot(page, "22-phone-composer")
    for name, path in (
        ("23-phone-inbox", "/portal/inbox/"),
        ("24-phone-campaign", f"/portal/campaigns/{campaign.pk}/"),
        ("25-phone-campaigns", "/portal/campaigns/"),
    ):
        page.goto(base + path)
        page.wait_for_timeout(400)  # charts finish their short animation
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
        screenshot(page, name)
    context.close()
