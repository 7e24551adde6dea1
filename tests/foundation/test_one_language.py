"""One language at a time: the main portal and admin pages, rendered with demo-like data in
Chinese, show no English of ours, and in English no Chinese of ours.  What may show in either
language: the vendors' own words and names, codes, brand names and the users' own data."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import (
    Campaign,
    ImportJob,
    InboundMessage,
    Message,
    Recipient,
    RecipientList,
    Template,
    VendorAccount,
)
from messaging.services import campaign_commands, lifecycle, sending
from messaging.services.outcomes import decide
from messaging.services.reports import apply_status_events
from messaging.statuses import Status
from messaging.vendors.base import Code, StatusEvent
from messaging.vendors.registry import VENDOR_CHOICES, vendor
from messaging.vendors.smscn import codes as smscn_codes

pytestmark = pytest.mark.django_db

# The users' own data in this test is Chinese (a marketer's), apart from the logins.
USER_DATA = ["alice-admin", "mike-marketer", "【演示商城】", "张三", "李四", "王五", "赵六"]

# Never translated: brand and product names, the names of the languages in the switch,
# the vendors' parameter values and formats quoted in help texts, the headers a phone column
# is found by, sample SMS texts (sent to Chinese phones whatever the UI's language), and the
# image texts Django's admin hard-codes in English (its boolean icons, the search icon).
ALLOWED = {
    *("Django", "Excel", "WPS", "gzip", "English", "简体中文", "Webhook", "JSON"),
    *("gbk", "utf", "json", "xml", "kv", "http", "encode", "xlsx", "var", "points", "name"),
    *("手机号码", "手机号", "电话", "mobile", "phone"),
    *("回T退订", "拒收请回复R"),
    *("True", "False", "None", "Search"),
}
# Pages of the apps we only use, whose texts are theirs (django-q2's task admin, the login
# throttling's logs, Django's groups with their permission names stored in English).
OTHERS = ("/admin/django_q/", "/admin/axes/", "/admin/auth/group/")


def _vendor_words() -> set[str]:
    """Every text of the vendors' code tables (their own words, and our glosses of them: a
    page may show the vendor's words in either language) and the vendors' names."""
    words = {label for _key, label in VENDOR_CHOICES}
    for key, _label in VENDOR_CHOICES:
        codes = __import__(f"messaging.vendors.{key}.codes", fromlist=["codes"])
        for value in vars(codes).values():
            if isinstance(value, dict):
                for code, row in value.items():
                    if isinstance(row, Code):
                        words.update({str(code), row.zh})
    return {w for w in words if w}


class _Text(HTMLParser):
    """The text a user reads: text nodes (no scripts or styles) and the attributes shown."""

    SHOWN_ATTRS = {"title", "placeholder", "aria-label", "alt", "data-confirm"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.skip += 1
        attrs = dict(attrs)
        for name in self.SHOWN_ATTRS & attrs.keys():
            self.parts.append(attrs[name] or "")
        if tag == "input" and attrs.get("type") in ("submit", "button"):
            self.parts.append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def _strip(text: str, allowed: set[str]) -> str:
    for word in sorted(allowed, key=len, reverse=True):
        text = text.replace(word, " ")
    return text


# An English word: three letters or more, not all capitals (codes, CSV, SMS, MMS) and not
# part of an identifier, an address or a file name.
ENGLISH_WORD = re.compile(r"(?<![\w./@:-])[A-Za-z][a-z]{2,}(?![\w./@-])")
URL = re.compile(r"\S+://\S+")
# A masked value (the password's salt and hash on the user page: "edf*****…") is random text.
MASKED = re.compile(r"\S*\*{4,}\S*")
CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def _found(pattern: re.Pattern, pages: dict[str, str], allowed: set[str]) -> str:
    """Each word of the wrong language once, with where it shows and the line around it."""
    seen: dict[str, str] = {}
    for where, html in pages.items():
        # Addresses first: a push URL's random token is no word of either language.
        text = MASKED.sub(" ", URL.sub(" ", visible_text(html)))
        for line in _strip(text, allowed).splitlines():
            for word in pattern.findall(line):
                seen.setdefault(word, f"{where}: {' '.join(line.split())[:120]}")
    return "\n".join(f"{word!r} in {context}" for word, context in sorted(seen.items()))


@pytest.fixture
def demo(administrator, marketer):
    """Demo-like data: an account of each vendor (one with a balance in messages, one in yuan,
    one with a vendor's error), a template with placeholders, a list, a campaign with reports
    of every vendor's codes, a reply, an import that failed and one with rejected rows."""
    accounts = []
    for i, (key, _label) in enumerate(VENDOR_CHOICES):
        accounts.append(
            VendorAccount.objects.create(
                vendor=key,
                name=f"演示账户{i + 1}",
                base_url=f"http://127.0.0.1:9/{key}",
                account_id=f"DEMO0{i}",
                secret="demo-secret",
                extension="1234",
                signature="【演示商城】",
                push_enabled=True,
                balance=10000000 if i % 2 == 0 else 500000,
                balance_unit="messages" if i % 2 == 0 else "yuan",
                balance_checked_at=timezone.now(),
            )
        )
    # What a vendor's refusal leaves on its account (``services.vendor_accounts``): the
    # vendor's words and code, never our English gloss of them beside them.
    refusal = smscn_codes.error_for("101", "stat=101")
    assert refusal.description_en and str(refusal) == "验证失败 [101]"
    VendorAccount.objects.filter(pk=accounts[1].pk).update(last_error=str(refusal))
    template = Template.objects.create(
        name="会员积分提醒", body="<name>您好，您的会员积分为<points>。", created_by=marketer
    )
    people = RecipientList.objects.create(
        name="演示名单", columns=["name", "points"], created_by=marketer
    )
    names = ["张三", "李四", "王五", "赵六"]
    Recipient.objects.bulk_create(
        Recipient(
            recipient_list=people,
            phone=f"1380000000{i}",
            variables={"name": name, "points": str(i * 100)},
            source_row=i + 1,
        )
        for i, name in enumerate(names, start=1)
    )
    account = accounts[0]  # ashx5g: its reports carry the vendor's own words (sc_chn)
    campaign = Campaign.objects.create(
        name="演示活动",
        template=template,
        vendor_account=account,
        recipient_list=people,
        created_by=marketer,
    )
    sending.start_campaign(campaign.pk)
    Campaign.objects.create(
        name="演示草稿",
        template=template,
        vendor_account=account,
        recipient_list=people,
        created_by=marketer,
    )
    codes = vendor(account.vendor).client.__module__.rsplit(".", 1)[0] + ".codes"
    table = __import__(codes, fromlist=["codes"]).REPORT_CODES
    chosen = [c for c in table if table[c].meaning == Status.DELIVERED][:1] + [
        c for c in table if table[c].meaning != Status.DELIVERED
    ][:2]
    messages = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    now = timezone.now()
    # Reasons the workers store (``services.wording``), read here in either language: the
    # first message's answer did not list it (outcome unknown), and the window paused the
    # campaign.
    unknown, messages = messages[0], messages[1:]
    Message.objects.filter(pk=unknown.pk).update(status=Status.SUBMITTING, submitted_at=now)
    lifecycle.record_unknown([unknown.pk], decide(None).reason)
    campaign_commands.pause_for_window(campaign.pk, now + dt.timedelta(hours=8))
    events = []
    for i, (message, code) in enumerate(zip(messages, chosen, strict=False)):
        Message.objects.filter(pk=message.pk).update(
            status=Status.SUBMITTED, vendor_message_id=f"m{i}", submitted_at=now
        )
        row = table[code]
        events.append(
            StatusEvent(
                vendor_message_id=f"m{i}",
                status=row.meaning,
                vendor_code=code,
                description_zh=row.zh,
                description_en=row.en,
                phone=message.phone,
                done_at=now,
                raw=f"{code},{i}",
            )
        )
    apply_status_events(account, events, "poll")
    InboundMessage.objects.create(
        vendor_account=account,
        campaign=campaign,
        phone="13800000001",
        content="退订",
        is_opt_out=True,
        received_at=now - dt.timedelta(minutes=5),
        raw="",
    )
    for state, error in ((ImportJob.State.FAILED, "failed"), (ImportJob.State.DONE, "")):
        job = ImportJob.objects.create(
            recipient_list=people,
            created_by=marketer,
            original_name="会员.xlsx",
            file_format="xlsx",
            headers=["手机", "name", "points"],
            phone_column="手机",
            state=state,
            finished_at=now,
            rejected_count=0 if error else 1,
        )
        job.file.save("members.xlsx", ContentFile(b"x"), save=False)
        job.save()
    return {"campaign": campaign, "list": people, "account": account, "template": template}


def _portal_urls(demo) -> list[str]:
    campaign, people = demo["campaign"], demo["list"]
    draft = Campaign.objects.get(name="演示草稿")
    jobs = ImportJob.objects.order_by("pk")
    urls = [
        reverse("portal:dashboard"),
        reverse("portal:compose"),
        reverse("portal:compose_edit", args=[draft.pk]),
        reverse("portal:confirm", args=[draft.pk]),
        reverse("portal:campaigns"),
        reverse("portal:campaign", args=[campaign.pk]),
        reverse("portal:lists"),
        reverse("portal:list", args=[people.pk]),
        reverse("portal:import_list", args=[people.pk]),
        reverse("portal:inbox"),
    ]
    urls += [reverse("portal:import_job", args=[job.pk]) for job in jobs]
    return urls


def _admin_urls() -> list[str]:
    """Every registered model's list, add page and the change page of its first object (an
    admin without the page answers 403 and is left out)."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            urls.append(reverse(f"{prefix}_change", args=[obj.pk]))
    return urls


def _pages(user, language: str, urls: list[str]) -> dict[str, str]:
    client = Client(headers={"Accept-Language": language}, raise_request_exception=False)
    client.cookies["django_language"] = language
    client.force_login(user)
    pages = {}
    for url in urls:
        if url.startswith(OTHERS):
            continue
        response = client.get(url)
        assert response.status_code < 500, (user.username, url)
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            pages[url] = response.content.decode()
    return pages


def _all_pages(demo, administrator, marketer, language):
    urls = _portal_urls(demo)
    pages = {}
    login = Client(headers={"Accept-Language": language})
    login.cookies["django_language"] = language
    for url in (reverse("login"), reverse("admin:login")):
        pages[f"anonymous {url}"] = login.get(url).content.decode()
    for user in (marketer, administrator):
        for url, html in _pages(user, language, urls + _admin_urls()).items():
            pages[f"{user.username} {url}"] = html
    return pages


def test_chinese_pages_show_no_english_of_ours(demo, administrator, marketer):
    pages = _all_pages(demo, administrator, marketer, "zh-hans")
    assert len(pages) > 30, sorted(pages)
    # The marketer's every portal page rendered (none redirected or refused).
    assert {f"{marketer.username} {url}" for url in _portal_urls(demo)} <= pages.keys()
    allowed = ALLOWED | set(USER_DATA) | _vendor_words()
    found = _found(ENGLISH_WORD, pages, allowed)
    assert not found, "English in the Chinese UI:\n" + found


def test_english_pages_show_no_chinese_of_ours(demo, administrator, marketer):
    pages = _all_pages(demo, administrator, marketer, "en")
    assert len(pages) > 30, sorted(pages)
    user_data = {
        *USER_DATA,
        "演示账户",
        "演示名单",
        "演示活动",
        "演示草稿",
        "会员积分提醒",
        "您好，您的会员积分为",
        "退订",
        "会员",
        "手机",
    }
    allowed = ALLOWED | user_data | _vendor_words()
    found = _found(CHINESE, pages, allowed)
    assert not found, "Chinese in the English UI:\n" + found


@pytest.mark.parametrize(
    "language, help_text",
    [
        ("zh-hans", "<列名|默认值> 在收件人没有该值时显示默认值"),
        ("en", "<column|default> shows the default to recipients without a value"),
    ],
)
def test_placeholders_in_help_texts_show_as_text(
    demo, administrator, marketer, language, help_text
):
    """``<name>`` in a help text is text to read, not an HTML tag that vanishes."""
    pages = _pages(marketer, language, [reverse("portal:compose")])
    pages |= _pages(
        administrator,
        language,
        [reverse("admin:messaging_template_add"), reverse("admin:messaging_recipientlist_add")],
    )
    compose, template_add, list_add = (visible_text(html) for html in pages.values())
    assert help_text in compose
    assert "<var>" in template_add and "<name>" in template_add and "<points>" in template_add
    assert "<var>" in list_add
    for html in pages.values():
        assert "<name>" not in html and "<var>" not in html


def test_status_codes_show_the_vendors_words_and_our_meaning_in_one_language(demo, marketer):
    """The campaign's status codes (stats.json feeds the page's table and chart): the
    vendor's code and words as it sent them, our meaning in the user's language only."""
    url = reverse("portal:campaign_stats", args=[demo["campaign"].pk])
    by_language = {}
    for language in ("zh-hans", "en"):
        client = Client(headers={"Accept-Language": language})
        client.cookies["django_language"] = language
        client.force_login(marketer)
        by_language[language] = {c["code"]: c for c in client.get(url).json()["codes"]}
    chinese, english = by_language["zh-hans"], by_language["en"]
    assert len(chinese) == 3 and chinese.keys() == english.keys()
    for code, row in chinese.items():
        assert row["words"] == english[code]["words"] != ""  # the vendor's, in both
        assert not re.search("[A-Za-z]", row["description"]), row
        assert not CHINESE.search(english[code]["description"]), english[code]
        assert row["description"] and english[code]["description"]
