"""Crawl every URL pattern of the URLconf as an anonymous visitor, a marketer, an approver,
an analyst and an administrator, with every vendor down (its port closed), a failed balance
refresh and failed sends stored, known secrets and known push tokens: no response body or
redirect shows a secret, its md5 (either case), sms.cn's md5(password + uid) or any push
token - except the push URL an administrator sees on a vendor account's own admin page, by
design.  Each role also gets the pages it should, and no others."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.admindocs.views import extract_views_from_urlpatterns, simplify_regex
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import get_resolver
from django_q.conf import Conf
from django_q.tasks import async_task

from messaging.models import (
    Campaign,
    ImportJob,
    InboundMessage,
    Message,
    Recipient,
    RecipientList,
    SensitiveWord,
    Template,
    VendorAccount,
)
from messaging.services import sending
from messaging.services.vendor_accounts import refresh_balance
from messaging.vendors.registry import VENDOR_KEYS

from .credentials import PUSH_TOKEN, SECRET, account_id, closed_port, forbidden, leaks

pytestmark = pytest.mark.django_db

ANONYMOUS, MARKETER, ADMINISTRATOR = "anonymous", "marketer", "administrator"
APPROVER, ANALYST = "approver", "analyst"


def token_of(key: str) -> str:
    return f"{PUSH_TOKEN}-{key}"


@dataclass
class World:
    accounts: dict[str, VendorAccount]
    campaigns: list[Campaign]
    recipients: RecipientList
    job: ImportJob
    administrator: object


@pytest.fixture
def world(administrator, marketer, monkeypatch) -> World:
    """Every vendor down, with its errors stored where the portal keeps them."""
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(sending, "INLINE_RETRY_S", 0.0)
    accounts = {
        key: VendorAccount.objects.create(
            vendor=key,
            name=f"{key} down",
            base_url=f"http://127.0.0.1:{closed_port()}/{key}",
            account_id=account_id(key),
            secret=SECRET,
            extension="12",
            signature="【测试商城】",
            push_token=token_of(key),
            polling_enabled=True,
        )
        for key in VENDOR_KEYS
    }
    for account in accounts.values():
        assert not refresh_balance(account).ok
    template = Template.objects.create(name="t", body="<name>您好", created_by=marketer)
    recipients = RecipientList.objects.create(name="list", created_by=marketer)
    Recipient.objects.bulk_create(
        Recipient(recipient_list=recipients, phone=f"138{i:08d}", variables={"name": f"用户{i}"})
        for i in range(1, 4)
    )
    campaigns = {}
    for key in ("smsadmin", "smscn"):
        campaign = Campaign.objects.create(
            name=f"{key} campaign",
            template=template,
            vendor_account=accounts[key],
            recipient_list=recipients,
            created_by=marketer,
        )
        sending.send_test_message(campaign, "13912345678")
        (batch, *_) = sending.start_campaign(campaign.pk, exclude_missing=True).batches
        async_task("messaging.tasks.send_batch", batch)
        campaigns[key] = campaign
    draft = Campaign.objects.create(
        name="draft",
        template=template,
        vendor_account=accounts["smsadmin"],
        recipient_list=recipients,
        created_by=marketer,
    )
    sending.send_test_message(draft, "13912345679")
    job = ImportJob.objects.create(
        recipient_list=recipients,
        created_by=marketer,
        file="imports/list.csv",
        original_name="list.csv",
        state=ImportJob.State.DONE,
    )
    InboundMessage.objects.create(
        vendor_account=accounts["smsadmin"],
        phone="13800000001",
        content="好的",
        received_at="2026-01-01T10:00:00+08:00",
        raw="13800000001/2026-01-01 10:00:00//好的/12",
    )
    SensitiveWord.objects.create(word="赌博")
    # The errors are stored where the portal keeps them.
    assert all(a.last_error for a in VendorAccount.objects.all())
    assert Message.objects.exclude(error="").count() >= 3
    return World(accounts, [*campaigns.values(), draft], recipients, job, administrator)


# --------------------------------------------------------------------------- the URLs


def first_pk(model) -> str:
    pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    return str(pk) if pk is not None else "1"


ADMIN_MODEL = re.compile(r"^/admin/(?P<app>\w+)/(?P<model>\w+)/")


def fill(route: str, world: World) -> list[str]:
    """Concrete paths for one pattern, its parameters taken from the fixtures (every value
    where there are several: each campaign, each vendor account, each export format)."""
    admin_model = ADMIN_MODEL.match(route)
    model = None
    if admin_model:
        try:
            model = apps.get_model(admin_model["app"], admin_model["model"])
        except LookupError:
            model = None
    campaigns = [str(c.pk) for c in world.campaigns]
    accounts = {str(a.pk): a for a in world.accounts.values()}
    values: dict[str, list[str]] = {
        "pk": campaigns,
        "campaign_pk": campaigns,
        "list_pk": [str(world.recipients.pk)],
        "job_pk": [str(world.job.pk)],
        "file_pk": ["999999"],
        "uidb64": ["MQ"],
        "token": ["set-password"],
        "url": ["no-such-page/"],
        "content_type_id": [str(ContentType.objects.get_for_model(Campaign).pk)],
        "id": [str(world.administrator.pk)],
        "object_id": [first_pk(model) if model else "1"],
        "app_label": ["messaging", "accounts", "auth", "django_q", "axes"],
        "fmt": list(FORMATS),
        "account_pk": list(accounts),
    }
    if route.startswith("/portal/accounts/"):
        values["pk"] = list(accounts)
    if route.startswith("/portal/lists/"):
        values["pk"] = [str(world.recipients.pk)]
    if model is VendorAccount:
        values["object_id"] = list(accounts)
    if PUSH.match(route):
        values["token"] = [a.push_token for a in accounts.values()]
    paths = [route]
    while any("<" in path for path in paths):
        expanded = []
        for path in paths:
            found = re.search(r"<(?:\w+:)?(\w+)>", path)
            if found is None:
                expanded.append(path)
                continue
            for value in values[found[1]]:
                expanded.append(path[: found.start()] + value + path[found.end() :])
        paths = expanded
    # A push receiver gets its own account's token (the values above pair every token with
    # every account: keep the matching pairs).
    return [
        path
        for path in paths
        if not PUSH.match(path) or path.split("/")[4] == accounts[path.split("/")[3]].push_token
    ]


FORMATS = ("csv", "xlsx")


def every_path(world: World) -> list[str]:
    patterns = extract_views_from_urlpatterns(get_resolver().url_patterns)
    routes = sorted({simplify_regex(regex) for _, regex, _, _ in patterns})
    return sorted({path for route in routes for path in fill(route, world)})


# --------------------------------------------------------------------------- the crawl


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def crawl(client: Client, paths: list[str]) -> dict[str, tuple[int, bytes, str]]:
    seen = {}
    for path in paths:
        response = client.get(path)
        seen[path] = (response.status_code, body(response), response.get("Location", ""))
    return seen


PUBLIC = {
    "/accounts/login/",
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
    "/admin/login/",
    "/healthz",  # whether the database and the broker answer, and nothing else
}
LOGIN = re.compile(r"^/(accounts|admin)/login/")
PUSH = re.compile(r"^/vendor/push/")
VENDOR_ACCOUNT_PAGE = re.compile(r"^/admin/messaging/vendoraccount/(\d+)/change/$")
# Administrators only (django-q's pages, users, groups, the task cluster, vendor accounts'
# add page, the audit trail, the portal's settings): every other role gets 403, or a
# redirect away.
MARKETER_DENIED = re.compile(
    r"^/admin/(accounts/user|accounts/auditevent|auth/group|django_q|task-cluster"
    r"|messaging/vendoraccount/add|messaging/portalsettings/\d+/change)"
)
# What composes or changes: approvers and analysts get 403.
COMPOSING = re.compile(
    r"^/portal/(compose/$|campaigns/\d+/edit/$)|^/admin/messaging/(campaign|template|recipientlist)/add/$"
)
# What sends or operates a campaign: analysts get 403.
SENDING = re.compile(r"^/portal/campaigns/\d+/confirm/$|^/admin/messaging/campaign/\d+/send/$")


def needles(world: World) -> list[str]:
    found = set()
    for key, account in world.accounts.items():
        found |= set(forbidden(SECRET, account.account_id, (account.push_token,)))
    return sorted(found, key=len, reverse=True)


def test_crawl(world, admin_client, marketer_client, approver_client, analyst_client, settings):
    # The demo's simulator page too (it exists in demo mode only), its simulator down as well.
    settings.DEMO_MODE = True
    settings.SIMULATOR_URL = f"http://127.0.0.1:{closed_port()}"
    paths = every_path(world)
    print("crawling", len(paths), "paths")
    assert len(paths) > 200
    assert sum(bool(PUSH.match(path)) for path in paths) == len(world.accounts)
    assert {f"/portal/campaigns/{c.pk}/" for c in world.campaigns} <= set(paths)
    # A push with a wrong token is as good as no page at all.
    wrong = f"/vendor/push/{world.accounts['smscn'].pk}/{'x' * 40}/"
    paths.append(wrong)
    results = {
        ANONYMOUS: crawl(Client(), paths),
        MARKETER: crawl(marketer_client, paths),
        APPROVER: crawl(approver_client, paths),
        ANALYST: crawl(analyst_client, paths),
        ADMINISTRATOR: crawl(admin_client, paths),
    }
    secrets = needles(world)
    tokens = {str(a.pk): a.push_token for a in world.accounts.values()}

    # 1. Nothing shows a credential - but an administrator's own vendor account page shows
    #    that account's push URL (to give to the vendor), and only that account's token.
    leaked = []
    for role, seen in results.items():
        for path, (status, content, location) in seen.items():
            allowed = set()
            page = VENDOR_ACCOUNT_PAGE.match(path)
            if role == ADMINISTRATOR and page:
                allowed = {tokens[page[1]]}
                assert tokens[page[1]].encode() in content, "the push URL is shown"
            hits = set(leaks(content, secrets)) | set(leaks(location, secrets))
            if hits - allowed:
                leaked.append((role, path, status, sorted(hits - allowed)))
    assert not leaked, leaked

    # 2. Anonymous: the login page, or nothing.
    anonymous = results[ANONYMOUS]
    for path, (status, _, location) in anonymous.items():
        if path in PUBLIC:
            assert status == 200, path
        elif PUSH.match(path):
            assert status in (400, 401, 403, 404, 405), (path, status)
        elif path == "/favicon.ico":
            assert status == 302 and location.startswith("/static/"), (path, status, location)
        elif path in ("/", "/i18n/setlang/"):
            assert (status == 302 and not LOGIN.match(location)) or "login" in location
        elif path in ("/accounts/logout/", "/admin/logout/"):
            assert status in (302, 405), (path, status)
        else:
            assert status == 302 and LOGIN.match(location), (path, status, location)
    assert anonymous[wrong][0] == 404

    # 3. Marketers, approvers, analysts: none of the administrators' pages.
    for role in (MARKETER, APPROVER, ANALYST):
        seen = results[role]
        for path, (status, _, location) in seen.items():
            if MARKETER_DENIED.match(path):
                # A redirect leads out of the administrators' pages, or to one that is refused.
                target = seen.get(location, (None,))[0]
                redirected = status == 302 and (
                    not MARKETER_DENIED.match(location) or target == 403
                )
                assert status in (403, 404) or redirected, (role, path, status, location)
            assert status != 500, (role, path)
        for path in ("/portal/", "/portal/campaigns/", "/portal/inbox/", "/portal/approvals/"):
            assert seen[path][0] == 200, (role, path)
        for campaign in world.campaigns:
            assert seen[f"/portal/approvals/{campaign.pk}/"][0] == 200, role
    marketer = results[MARKETER]
    assert marketer["/portal/compose/"][0] == 200

    # Approvers and analysts compose nothing; analysts send nothing.
    for role in (APPROVER, ANALYST):
        for path, (status, _, _) in results[role].items():
            if COMPOSING.match(path) or (role == ANALYST and SENDING.match(path)):
                assert status in (403, 404), (role, path, status)
    for campaign in world.campaigns:
        assert results[APPROVER][f"/admin/messaging/campaign/{campaign.pk}/send/"][0] == 200

    # 4. Administrators: the admin's pages for what exists.
    administrator = results[ADMINISTRATOR]
    for path, (status, _, _) in administrator.items():
        if (
            path in ("/admin/", "/admin/task-cluster/", "/admin/messaging/vendoraccount/add/")
            or re.match(r"^/admin/\w+/\w+/$", path)  # every changelist
            or VENDOR_ACCOUNT_PAGE.match(path)
            or re.match(r"^/admin/messaging/vendoraccount/\d+/history/$", path)
            or re.match(r"^/admin/(accounts/user|messaging/campaign)/\d+/(change|history)/$", path)
        ):
            assert status == 200, (path, status)


def test_marketers_cannot_change_or_add_vendor_accounts(world, marketer_client):
    account = world.accounts["smsadmin"]
    change = f"/admin/messaging/vendoraccount/{account.pk}/change/"
    response = marketer_client.post(change, {"name": "hijack", "secret": "x"})
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.name == "smsadmin down" and account.secret == SECRET
    page = marketer_client.get(change)
    # Read-only at most: no form, no push URL, no token.
    assert b'name="secret"' not in page.content and account.push_token.encode() not in page.content
    assert marketer_client.get("/admin/messaging/vendoraccount/add/").status_code == 403
