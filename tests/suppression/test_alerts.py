"""Alerts: raised once per kind and subject, resolved when the condition clears, shown on the
dashboard, sent by e-mail (``mail.outbox``) and to a group robot's webhook (a local HTTP
server standing in for 企业微信 / 钉钉)."""

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation
from django_q.models import Schedule

from messaging.models import Alert, Campaign, PortalSettings, VendorAccount
from messaging.services import alerts, campaign_commands, schedules, wording
from tests.conftest import SIM_SECRET

pytestmark = pytest.mark.django_db

Kind = Alert.Kind


@pytest.fixture(autouse=True)
def english():
    """The texts below are compared in English (a client's request of another language
    activates that language and leaves it active)."""
    with translation.override("en"):
        yield


def configure(**fields):
    portal = PortalSettings.load()
    for name, value in fields.items():
        setattr(portal, name, value)
    portal.save()
    return portal


def test_one_open_alert_per_kind_and_subject_then_resolved(vendor_account):
    first = alerts.raise_alert(Kind.VENDOR_UNREACHABLE, vendor_account, "timeout")
    again = alerts.raise_alert(Kind.VENDOR_UNREACHABLE, vendor_account, "timeout again")
    assert again.pk == first.pk and again.message == "timeout again"
    assert again.last_seen >= first.last_seen
    other = alerts.raise_alert(Kind.LOW_BALANCE, vendor_account, "low")
    assert other.pk != first.pk and alerts.open_alerts().count() == 2

    assert alerts.resolve(Kind.VENDOR_UNREACHABLE, vendor_account) == 1
    assert alerts.resolve(Kind.VENDOR_UNREACHABLE, vendor_account) == 0
    back = alerts.raise_alert(Kind.VENDOR_UNREACHABLE, vendor_account, "down once more")
    assert back.pk != first.pk
    assert Alert.objects.filter(kind=Kind.VENDOR_UNREACHABLE).count() == 2


def test_a_new_alert_is_sent_once_after_commit(
    vendor_account, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        alert = alerts.raise_alert(Kind.LOW_BALANCE, vendor_account, "low")
        alerts.raise_alert(Kind.LOW_BALANCE, vendor_account, "still low")
    assert queued == [("messaging.tasks.notify_alert", alert.pk)]


def test_sweep_raises_low_balance_and_unreachable_and_resolves_them(vendor_account):
    configure(low_balance_threshold=Decimal("1000"))
    VendorAccount.objects.filter(pk=vendor_account.pk).update(
        balance=Decimal("120.000"), balance_unit="messages", last_error="connection refused"
    )
    alerts.sweep()
    low = Alert.objects.get(kind=Kind.LOW_BALANCE)
    assert low.subject_id == str(vendor_account.pk)
    assert "120 messages" in low.message and "1000" in low.message
    assert "connection refused" in Alert.objects.get(kind=Kind.VENDOR_UNREACHABLE).message
    alerts.sweep()
    assert alerts.open_alerts().count() == 2  # not raised twice

    # The account's own threshold wins over the portal's.
    VendorAccount.objects.filter(pk=vendor_account.pk).update(
        low_balance_threshold=Decimal("100"), last_error=""
    )
    alerts.sweep()
    assert not alerts.open_alerts().exists()
    assert Alert.objects.filter(resolved_at__isnull=False).count() == 2


def test_vendor_pause_alerts_until_the_campaign_is_no_longer_paused(sim_account, make_campaign):
    campaign = make_campaign(sim_account("ashx5g"), phones=["13800000001"])
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.SENDING)
    assert campaign_commands.pause_for_account(campaign.pk, "余额不足")
    alert = Alert.objects.get(kind=Kind.PAUSED_BY_VENDOR)
    assert alert.subject_id == str(campaign.pk) and "余额不足" in alert.message
    alerts.sweep()
    assert alerts.open_alerts().filter(kind=Kind.PAUSED_BY_VENDOR).exists()
    campaign_commands.resume(campaign.pk)
    alerts.sweep()
    assert not alerts.open_alerts().exists()


def test_send_window_pause_raises_through_the_same_service(sim_account, make_campaign):
    campaign = make_campaign(sim_account("ashx5g"), phones=["13800000001"])
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.PAUSED)
    alerts.raise_alert(Kind.PAUSED_BY_WINDOW, campaign, "outside 08:00–21:00")
    alerts.sweep()
    assert alerts.open_alerts().get().kind == Kind.PAUSED_BY_WINDOW
    campaign_commands.cancel(campaign.pk)
    alerts.sweep()
    assert not alerts.open_alerts().exists()


def test_awaiting_approval_source_takes_a_queryset(sim_account, make_campaign):
    campaign = make_campaign(sim_account("ashx5g"), phones=["13800000001"], name="双十一")
    waiting = [campaign.pk]
    source = alerts.awaiting_approval(lambda: Campaign.objects.filter(pk__in=waiting))
    alerts.sweep([source])
    alert = alerts.open_alerts().get()
    assert alert.kind == Kind.AWAITING_APPROVAL and "双十一" in alert.message
    waiting.clear()  # approved
    alerts.sweep([source])
    assert not alerts.open_alerts().exists()


def test_scheduled_refresh_reads_balances_and_alerts(sim, sim_account):
    account = sim_account("ashx5g")
    sim.add_account(
        vendor="ashx5g",
        account_id=account.account_id,
        secret=SIM_SECRET,
        extension="12",
        balance=300,
    )
    configure(low_balance_threshold=Decimal("1000"), balance_refresh_minutes=15)
    assert alerts.refresh_balances() == 1
    account.refresh_from_db()
    assert account.balance == 300 and account.balance_checked_at
    assert alerts.open_alerts().get().kind == Kind.LOW_BALANCE
    assert alerts.refresh_balances() == 0  # refreshed less than 15 minutes ago

    schedules.ensure_schedules()
    schedule = Schedule.objects.get(name=schedules.BALANCE_SCHEDULE)
    assert schedule.func == "messaging.tasks.refresh_balances" and schedule.minutes == 15
    assert Schedule.objects.get(name=schedules.ALERTS_SCHEDULE).minutes == 1
    configure(balance_refresh_minutes=5)
    schedules.sync_balance_schedule()
    assert Schedule.objects.get(name=schedules.BALANCE_SCHEDULE).minutes == 5


def test_unreachable_vendor_on_a_failed_balance_query(sim, sim_account):
    account = sim_account("ashx5g", base_url="http://127.0.0.1:9/ashx5g")
    alerts.refresh_balances()
    alert = alerts.open_alerts().get()
    assert alert.kind == Kind.VENDOR_UNREACHABLE and alert.subject_id == str(account.pk)


def test_dashboard_shows_open_alerts(marketer_client, vendor_account):
    alerts.raise_alert(Kind.LOW_BALANCE, vendor_account, "Main ashx5g: balance 12 is low")
    body = marketer_client.get(reverse("portal:dashboard")).content.decode()
    assert 'data-alert="low_balance"' in body and "balance 12 is low" in body
    page = marketer_client.get(reverse("portal:alerts")).content.decode()
    assert "balance 12 is low" in page and "Send a test alert" not in page


def test_an_alert_a_task_raised_reads_in_each_readers_language(marketer_client, vendor_account):
    configure(low_balance_threshold=Decimal("1000"))
    VendorAccount.objects.filter(pk=vendor_account.pk).update(
        balance=Decimal("120"), balance_unit="messages"
    )
    with translation.override("zh-hans"):  # a task's language
        alerts.sweep()
    marketer_client.cookies["django_language"] = "en"
    english = marketer_client.get(reverse("portal:alerts")).content.decode()
    assert "balance 120 messages is below 1000" in english
    marketer_client.cookies["django_language"] = "zh-hans"
    chinese = marketer_client.get(reverse("portal:dashboard")).content.decode()
    assert "120" in chinese and "is below" not in chinese and "120 messages" not in chinese


# --------------------------------------------------------------------------- delivery


class Robot(BaseHTTPRequestHandler):
    answer = (200, {"errcode": 0, "errmsg": "ok"})
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Robot.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        status, answer = Robot.answer
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    Robot.received = []
    Robot.answer = (200, {"errcode": 0, "errmsg": "ok"})
    server = HTTPServer(("127.0.0.1", 0), Robot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cgi-bin/webhook/send?key=SECRET-KEY"
    server.shutdown()
    server.server_close()


def test_alert_goes_by_e_mail_and_webhook_once(vendor_account, robot):
    configure(alert_emails="ops@example.com\nboss@example.com", alert_webhook_url=robot)
    alert = alerts.raise_alert(Kind.LOW_BALANCE, vendor_account, "balance 12")
    result = alerts.notify(alert.pk)
    assert result == "e-mail sent to 2 addresses; webhook answered 200"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com", "boss@example.com"]
    assert "balance 12" in mail.outbox[0].body
    [(path, content_type, body)] = Robot.received
    assert path.endswith("key=SECRET-KEY") and content_type == "application/json"
    assert body["msgtype"] == "text" and "balance 12" in body["text"]["content"]
    assert alerts.notify(alert.pk) == "already notified"
    assert len(mail.outbox) == 1 and len(Robot.received) == 1
    alert.refresh_from_db()
    assert alert.notified_at and wording.shown(alert.notify_result, "en") == result
    assert "e-mail" not in wording.shown(alert.notify_result, "zh-hans")  # kept in both


def test_a_refusing_or_missing_robot_is_reported_never_raised(vendor_account, robot):
    configure(alert_webhook_url=robot)
    Robot.answer = (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    alert = alerts.raise_alert(Kind.LOW_BALANCE, vendor_account, "x")
    result = alerts.notify(alert.pk)
    assert "no e-mail recipients" in result
    assert "webhook failed: errcode 93000: invalid webhook url" in result

    Robot.answer = (500, {})
    assert "webhook failed: HTTP 500" in alerts.notify(alert.pk, again=True)

    configure(alert_webhook_url="http://127.0.0.1:9/robot?key=SECRET-KEY")
    result = alerts.notify(alert.pk, again=True)
    assert result.startswith("no e-mail recipients; webhook failed: ConnectionError")
    assert "SECRET-KEY" not in result


def test_a_failing_mail_server_is_reported(vendor_account, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    configure(alert_emails="ops@example.com")
    alert = alerts.raise_alert(Kind.LOW_BALANCE, vendor_account, "x")
    assert alerts.notify(alert.pk).startswith("e-mail failed: ConnectionRefusedError")


def test_test_button_is_for_administrators_and_says_what_happened(
    admin_client, marketer_client, robot, sync_tasks, django_capture_on_commit_callbacks
):
    configure(alert_emails="ops@example.com", alert_webhook_url=robot)
    url = reverse("portal:alert_test")
    assert marketer_client.post(url).status_code == 403
    assert not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url)
    assert response.status_code == 302
    page = admin_client.get(reverse("portal:alerts")).content.decode()
    assert "e-mail sent to 1 addresses; webhook answered 200" in page
    assert len(mail.outbox) == 1 and len(Robot.received) == 1
    # A test alert is not an alert to act on.
    assert "data-alert" not in admin_client.get(reverse("portal:dashboard")).content.decode()
