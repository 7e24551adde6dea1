"""The portal's own surfaces built from a vendor's errors carry no credential: the account's
last vendor error after a balance refresh, the dashboard's refresh message, a test send's
message and ``Message.error``, a campaign batch sent through the real django-q task (its
result text), the sensitive-word check, the messages export, and every text column of every
table at rest - for every vendor, down in the two ways that matter (a closed port, and an
HTTP 500 that echoes our request, credentials included, back)."""

import logging
import re

import pytest
from django.db import connection
from django.urls import reverse
from django_q.conf import Conf
from django_q.models import Task
from django_q.tasks import async_task

from messaging.models import (
    Message,
    VendorAccount,
)
from messaging.services import sending
from messaging.services.content_checks import check_content
from messaging.services.vendor_accounts import refresh_balance
from messaging.vendors.registry import VENDOR_KEYS, vendor

from .credentials import (
    PUSH_TOKEN,
    SECRET,
    HostileVendor,
    account_id,
    forbidden,
    leaks,
    record_texts,
)

pytestmark = pytest.mark.django_db(transaction=False)

MODES = ["refused", "echo500"]


@pytest.fixture(scope="module")
def hostile():
    server = HostileVendor().start()
    yield server
    server.stop()


@pytest.fixture
def sync_tasks(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)
    # One attempt per task: a transient error is not waited out inside the test.
    monkeypatch.setattr(sending, "INLINE_RETRY_S", 0.0)


def make_account(key: str, base_url: str) -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=key,
        name=f"{key} down",
        base_url=base_url,
        account_id=account_id(key),
        secret=SECRET,
        extension="12",
        signature="【测试商城】",
        push_token=f"{PUSH_TOKEN}-{key}",
    )


def needles(key: str) -> list[str]:
    return forbidden(SECRET, account_id(key), (f"{PUSH_TOKEN}-{key}",))


def tables_at_rest() -> list[str]:
    """Every value of every table, as stored (the push token column aside: it is where the
    token lives; the secret column holds a Fernet token, never the plaintext)."""
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if table == "messaging_vendoraccount" and column == "push_token":
                        continue
                    if isinstance(value, str | bytes | memoryview):
                        texts.append(bytes(value) if isinstance(value, memoryview) else value)
    # django-q's pickled columns, read back.
    for task in Task.objects.all():
        texts += [repr(task.result), repr(task.args), repr(task.kwargs)]
    return texts


def page_texts(response) -> list:
    texts = [response.content, response.get("Location", "")]
    context = getattr(response, "context", None)
    if context is not None and "messages" in context:
        texts += [str(m) for m in context["messages"]]
    return texts


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_no_credential_on_any_surface(
    key, mode, hostile, marketer, marketer_client, make_campaign, sync_tasks, caplog
):
    caplog.set_level(logging.DEBUG)
    account = make_account(key, hostile.url(mode, key))
    surfaces: dict[str, list] = {}

    # The balance refresh (a probe where the vendor has none), from the service and the page.
    check = refresh_balance(account)
    account.refresh_from_db()
    assert not check.ok and account.last_error
    surfaces["last_error"] = [account.last_error, str(check.error), check.error.raw]
    # The page's refresh is a second call: not held back by the vendor's poll interval.
    VendorAccount.objects.filter(pk=account.pk).update(
        reports_polled_at=None, replies_polled_at=None
    )
    page = marketer_client.post(reverse("portal:refresh_balance", args=[account.pk]), follow=True)
    surfaces["dashboard refresh"] = page_texts(page)

    # A test send, from the service and the page.
    campaign = make_campaign(account, n=2, body="<name>您好", created_by=marketer)
    message = sending.send_test_message(campaign, "13912345678")
    assert message.status != "submitted" and message.error
    surfaces["test send"] = [message.error]
    page = marketer_client.post(
        reverse("portal:test_send", args=[campaign.pk]), {"phone": "13912345679"}, follow=True
    )
    surfaces["test send page"] = page_texts(page)

    # A campaign batch through the real task (django-q2 in sync mode): its result text and
    # the messages' errors.
    (batch_id, *_) = sending.start_campaign(campaign.pk, exclude_missing=True).batches
    async_task("messaging.tasks.send_batch", batch_id)
    task = Task.objects.filter(func="messaging.tasks.send_batch").latest("started")
    assert task.success, task.result
    surfaces["task result"] = [task.result]
    surfaces["message errors"] = list(Message.objects.values_list("error", flat=True))
    assert any(surfaces["message errors"])

    # The sensitive-word check, where the vendor has one.
    if vendor(key).capabilities.content_check:
        verdict = check_content("您好，测试", account)
        assert verdict.vendor_error
        surfaces["content check"] = [verdict.vendor_error, repr(verdict.as_dict())]

    # The messages export and the campaign page.
    for fmt in ("csv", "xlsx"):
        export = marketer_client.get(reverse("portal:export_messages", args=[campaign.pk, fmt]))
        assert export.status_code == 200
        surfaces[f"export {fmt}"] = [
            b"".join(export.streaming_content) if export.streaming else export.content
        ]
    surfaces["campaign page"] = page_texts(
        marketer_client.get(reverse("portal:campaign", args=[campaign.pk]))
    )

    surfaces["at rest"] = tables_at_rest()
    surfaces["log records"] = record_texts(caplog.records)
    found = {
        name: hits
        for name, texts in surfaces.items()
        if (hits := {n for text in texts for n in leaks(text, needles(key))})
    }
    # Digests signed with a timestamp (ashx5g's md5 mode, montnets) cannot be listed: no
    # password field may keep a value either.
    fields = {
        name: hits
        for name, texts in surfaces.items()
        if (hits := {m[0] for text in texts for m in PASSWORD_FIELD.finditer(as_text(text))})
    }
    assert not found, f"{key} ({mode}): credentials in {found}"
    assert not fields, f"{key} ({mode}): password fields in {fields}"


PASSWORD_FIELD = re.compile(
    r"(?i)(?<![a-z0-9_])(pwd|pswd|passwd|password)(=|\"\s*:\s*\")(?!\[redacted\])[^\"&\s]+"
)


def as_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
