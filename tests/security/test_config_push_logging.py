"""Push tokens never reach a log line, and a bad push costs one warning line, not a traceback.

The token in /vendor/push/<id>/<token>/ is a push's only credential.  Django's request
warnings (4xx / 5xx) and the development server's access log used to print it; the
``push_tokens`` filter of ``LOGGING`` rewrites it to "…", and the receiver names a push by its
account."""

import json
import logging

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from django.urls import reverse

from messaging.models import PushRecord, VendorAccount
from smsportal.log_filters import HidePushTokens, hide_push_tokens

pytestmark = pytest.mark.django_db


def account_for(vendor: str, account_id: str = "demo", **fields) -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=vendor,
        name=f"{vendor} logging",
        base_url=f"http://127.0.0.1:9/{vendor}",
        account_id=account_id,
        secret="push-secret-1",
        signature="【测试商城】",
        **fields,
    )


def lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def loud(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_the_filter_hides_the_token_of_the_real_push_url():
    path = reverse("push:receive", kwargs={"account_pk": 42, "token": "s3cr3t-T0ken_x"})
    assert hide_push_tokens(f'"POST {path}?a=1 HTTP/1.1" 200 2') == (
        '"POST /vendor/push/42/…/?a=1 HTTP/1.1" 200 2'
    )
    assert hide_push_tokens("/portal/campaigns/3/") == "/portal/campaigns/3/"


@pytest.mark.parametrize("name", ["django.request", "django.server"])
def test_the_filter_is_set_on_the_request_and_server_loggers(name):
    assert any(isinstance(f, HidePushTokens) for f in logging.getLogger(name).filters)


def test_a_wrong_token_is_logged_without_it(client, caplog):
    account = account_for("actiongw")
    with caplog.at_level(logging.INFO):
        response = client.post(
            f"/vendor/push/{account.pk}/not-the-Token-42/", data=b"[]", content_type="x/y"
        )
    assert response.status_code == 404
    assert not any("not-the-Token-42" in line for line in lines(caplog))
    assert f"Not Found: /vendor/push/{account.pk}/…/" in lines(caplog)


def test_a_refused_push_with_the_real_token_is_logged_without_it(client, caplog):
    account = account_for("actiongw", push_enabled=False)
    with caplog.at_level(logging.INFO):
        response = client.post(account.push_path, data=b"[]", content_type="application/json")
    assert response.status_code == 403
    assert not any(account.push_token in line for line in lines(caplog))
    assert [r.getMessage() for r in loud(caplog)] == [f"Forbidden: /vendor/push/{account.pk}/…/"]


def test_montnets_push_with_a_non_ascii_pwd_is_one_warning_line(client, caplog):
    account = account_for("montnets", "E10ABC")
    push = {
        "userid": "E10ABC",
        "pwd": "密码不是十六进制",
        "timestamp": "0803192020",
        "cmd": "RPT_REQ",
        "seqid": 7,
        "rpts": [],
    }
    with caplog.at_level(logging.INFO):
        response = client.post(
            account.push_path,
            data=json.dumps(push, ensure_ascii=False).encode(),
            content_type="application/json",
        )
    assert response.status_code == 403
    warnings = loud(caplog)
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert warnings[0].exc_info is None  # no traceback
    assert warnings[0].getMessage() == f"Forbidden: /vendor/push/{account.pk}/…/"
    assert not any(account.push_token in line for line in lines(caplog))
    record = PushRecord.objects.get()
    assert record.outcome == PushRecord.Outcome.UNAUTHENTICATED


def test_the_receiver_names_a_failing_push_by_its_account(client, caplog, monkeypatch):
    from messaging.vendors import registry

    account = account_for("actiongw")
    broken = registry.vendor("actiongw")

    def explode(request, config):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(
        "messaging.services.pushes.vendor",
        lambda key: type(broken)(broken.key, broken.client, explode, None),
    )
    with caplog.at_level(logging.INFO):
        response = client.post(account.push_path, data=b"[]", content_type="application/json")
    assert response.status_code == 400
    assert f"push parser failed for account={account.pk}" in lines(caplog)
    assert not any(account.push_token in line for line in lines(caplog))


def test_the_access_log_line_shows_no_token(caplog):
    """What runserver writes for each request (WSGIRequestHandler.log_message), through the
    configured ``django.server`` logger and its handler's format."""
    server_log = logging.getLogger("django.server")
    handler = next(h for h in server_log.handlers if h is not caplog.handler)

    class Handler:
        request = None

        def log_date_time_string(self):
            return "30/Nov/2026 12:00:00"

    server_log.addHandler(caplog.handler)
    try:
        for status in ("200", "404"):
            WSGIRequestHandler.log_message(
                Handler(), '"%s" %s %s', "POST /vendor/push/7/tok-EN_123/ HTTP/1.1", status, "2"
            )
    finally:
        server_log.removeHandler(caplog.handler)
    shown = [handler.format(record) for record in caplog.records]
    assert shown == [
        '[30/Nov/2026 12:00:00] "POST /vendor/push/7/…/ HTTP/1.1" 200 2',
        '[30/Nov/2026 12:00:00] "POST /vendor/push/7/…/ HTTP/1.1" 404 2',
    ]
