"""Pages on a 1366-px laptop screen, in Chinese.  The administrators' campaign and reply lists:
every column on screen (none scrolled off to the right) and no cell so narrow that a name wraps
a character per line.  The campaign page: the status-code legend shows every code, and the
buttons follow the status as the page refreshes.  Full-page screenshots go to var/screenshots/
for review."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from messaging.models import (
    Campaign,
    CampaignCodeCount,
    InboundMessage,
    Message,
    RecipientList,
    Template,
    VendorAccount,
)
from messaging.statuses import Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP_VIEWPORT = {"width": 1366, "height": 900}
QUESTION = "好的，请问这次活动的积分兑换截止到什么时候？我上次的积分还能用吗？"
NARROWEST_CELL_PX = 44
"""Two Chinese characters and the cell's padding: a narrower column wraps names a character
per line."""

# Each cell's box against the viewport and the cells too narrow for their text.
MEASURE = """([selector, NARROWEST]) => {
  // The table scrolls inside its container (Django's ".results"): a column past either
  // edge is off-screen.
  const frame = document.querySelector(selector).parentElement.getBoundingClientRect();
  const viewport = document.documentElement.clientWidth;
  const width = Math.min(viewport, frame.right);
  const cells = [...document.querySelectorAll(selector + " tr > *")]
    .filter((c) => c.offsetParent !== null);
  const offscreen = [], narrow = [];
  for (const c of cells) {
    const box = c.getBoundingClientRect();
    const label = (c.className || c.tagName) + ": " + c.textContent.trim().slice(0, 30);
    if (box.right > width + 1) offscreen.push(label + " ends at " + Math.round(box.right));
    if (c.textContent.trim() && !c.classList.contains("action-checkbox")
        && !c.classList.contains("action-checkbox-column") && box.width < NARROWEST)
      narrow.push(label + " is " + Math.round(box.width) + " px wide");
  }
  return {viewport, scrollWidth: document.documentElement.scrollWidth, offscreen, narrow};
}"""


@pytest.fixture
def data(db):
    user = get_user_model().objects.create_superuser("ada", password="Admin-pw-2024!x")
    account = VendorAccount.objects.create(
        vendor="ashx5g",
        name="5G 主账号（华南大区营销专用通道）",
        base_url="http://127.0.0.1:9/",
        account_id="960001",
        secret="s",
        signature="【悦享商城】",
    )
    recipients = RecipientList.objects.create(name="2024 年双十一全部会员（含沉睡客户）")
    template = Template.objects.create(name="促销", body="x", created_by=user)
    names = [
        "双十一会员专享积分兑换提醒第二轮（华南地区）",
        "周末大促",
        "Spring sale reminder for members who have not bought anything since last year",
    ]
    for i, name in enumerate(names * 4):
        campaign = Campaign.objects.create(
            name=name,
            template=template,
            vendor_account=account,
            recipient_list=recipients,
            created_by=user,
            status=[Campaign.State.COMPLETED, Campaign.State.SENDING, Campaign.State.DRAFT][i % 3],
            scheduled_at=timezone.now(),
            total_count=1_234_567,
            submitted_count=1_200_000,
            delivered_count=1_100_000,
            failed_count=100_000,
        )
        message = Message.objects.create(
            campaign=campaign,
            vendor_account=account,
            phone=f"1380000{i:04d}",
            content="x",
            custom_id=f"c{i}",
            status=Status.DELIVERED,
        )
        InboundMessage.objects.create(
            vendor_account=account,
            campaign=campaign,
            message=message,
            phone=f"+86 1380000{i:04d}",
            extension="1068112227282012",
            content=QUESTION * (1 + i % 2),
            is_opt_out=i % 4 == 0,
            received_at=timezone.now(),
            raw="",
        )
    return user


def logged_in(browser, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=LAPTOP_VIEWPORT, locale="zh-CN")
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            },
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": "zh-hans", "url": live_server.url},
        ]
    )
    return context


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/admin/messaging/campaign/", "admin-campaigns-1366"),
        ("/admin/messaging/inboundmessage/", "admin-replies-1366"),
    ],
)
def test_admin_lists_fit_a_laptop_screen(browser, live_server, data, screenshot, path, name):
    context = logged_in(browser, live_server, data)
    page = context.new_page()
    page.goto(live_server.url + path)
    assert page.locator("#result_list tbody tr").count() == 12
    screenshot(page, name)
    found = page.evaluate(MEASURE, ["#result_list", NARROWEST_CELL_PX])
    context.close()
    assert not found["offscreen"], found
    assert not found["narrow"], found
    assert found["scrollWidth"] <= found["viewport"], found


def test_campaign_page_legend_shows_every_code_and_buttons_follow_the_status(
    browser, live_server, data, screenshot
):
    campaign = Campaign.objects.filter(status=Campaign.State.SENDING).first()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.SCHEDULED)
    codes = [
        ("DELIVRD", "成功", Status.DELIVERED),
        ("MK:0001", "用户不存在或已停机，号码状态异常，请核对后重新提交", Status.UNDELIVERED),
        ("MK:0005", "运营商网关拒绝：内容含有疑似营销敏感信息", Status.UNDELIVERED),
        ("MI:0013", "空号", Status.UNDELIVERED),
        ("MI:0024", "关机时间过长，消息已过期", Status.UNDELIVERED),
        ("DB:0108", "黑名单号码", Status.UNDELIVERED),
        ("IC:0151", "用户欠费停机", Status.UNDELIVERED),
        ("ID:0012", "短信中心拒绝：超出发送频率限制", Status.UNDELIVERED),
        ("EXPIRED", "消息过期", Status.UNDELIVERED),
        ("UNKNOWN", "未知错误", Status.UNDELIVERED),
    ]
    for i, (code, words, status) in enumerate(codes):
        CampaignCodeCount.objects.create(
            campaign=campaign, code=code, description=words, status=status, messages=1000 - i
        )
    context = logged_in(browser, live_server, data)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/portal/campaigns/{campaign.pk}/")
    legend = page.locator("#codes-legend li")
    expect(legend).to_have_count(len(codes))
    for i in range(len(codes)):
        expect(legend.nth(i)).to_be_visible()
    # Each code whole inside its card: nothing cut off at the card's edge.
    clipped = page.evaluate(
        """() => {
          const card = document.getElementById("codes-legend").closest(".card-body");
          const edge = card.getBoundingClientRect();
          return [...document.querySelectorAll("#codes-legend li")]
            .filter((li) => {
              const box = li.getBoundingClientRect();
              return box.right > edge.right + 1 || box.bottom > edge.bottom + 1
                || li.scrollWidth > li.clientWidth + 1;
            })
            .map((li) => li.textContent);
        }"""
    )
    assert not clipped
    expect(page.locator('[data-action="review"]')).to_be_visible()
    screenshot(page, "campaign-codes-1366")

    # The schedule starts and finishes elsewhere: the refresh hides "Review", nothing stale.
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.COMPLETED)
    expect(page.locator('[data-action="review"]')).to_be_hidden(timeout=20_000)
    expect(page.locator('[data-action="cancel"]')).to_be_hidden()

    # A draft's page does not refresh by itself; sent from another tab, it is brought up to
    # date when it is looked at again: no stale "Edit" / "Check and send".
    draft = Campaign.objects.filter(status=Campaign.State.DRAFT).first()
    page.goto(f"{live_server.url}/portal/campaigns/{draft.pk}/")
    expect(page.locator('[data-action="edit"]')).to_be_visible()
    Campaign.objects.filter(pk=draft.pk).update(status=Campaign.State.COMPLETED)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator('[data-action="edit"]')).to_be_hidden(timeout=20_000)
    expect(page.locator('[data-action="confirm"]')).to_be_hidden()
    expect(page.locator("#status-badge")).to_have_class("badge completed")
    context.close()
    assert not errors
