"""The audit trail's core: who and from where come from the request, rows never change,
logins and failed logins are recorded, the purge removes old events."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Action, record
from accounts.models import AuditEvent
from messaging.services import retention

pytestmark = pytest.mark.django_db


def test_record_outside_a_request_is_by_the_system(django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw-123456789")
    event = record(Action.SETTINGS_CHANGED, user, details={"field": "x"})
    assert event.actor is None and event.actor_name == "system"
    assert event.object_type == "accounts.user" and event.object_id == str(user.pk)
    assert event.object_repr == "ann" and event.details == {"field": "x"}


def test_events_are_never_changed():
    event = record(Action.SETTINGS_CHANGED)
    event.action = Action.LOGIN
    with pytest.raises(ValueError):
        event.save()


def test_login_and_failed_login_are_recorded_with_the_address(client, django_user_model):
    django_user_model.objects.create_user("bob", password="pw-123456789")
    client.post(
        reverse("login"),
        {"username": "bob", "password": "wrong"},
        REMOTE_ADDR="10.1.2.3",
    )
    failed = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert failed.ip == "10.1.2.3" and failed.details == {"username": "bob"}
    assert "wrong" not in str(failed.details)
    client.post(
        reverse("login"),
        {"username": "bob", "password": "pw-123456789"},
        REMOTE_ADDR="10.1.2.4",
    )
    login = AuditEvent.objects.get(action=Action.LOGIN)
    assert login.actor.username == "bob" and login.actor_name == "bob"
    assert login.ip == "10.1.2.4"


def test_behind_the_local_proxy_the_client_address_is_recorded(client, django_user_model):
    django_user_model.objects.create_user("cy", password="pw-123456789")
    client.post(
        reverse("login"),
        {"username": "cy", "password": "pw-123456789"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_REAL_IP="203.0.113.9",
    )
    assert AuditEvent.objects.get(action=Action.LOGIN).ip == "203.0.113.9"
    # From anywhere else the header is the client's own claim and is ignored.
    client.logout()
    client.post(
        reverse("login"),
        {"username": "cy", "password": "pw-123456789"},
        REMOTE_ADDR="198.51.100.7",
        HTTP_X_REAL_IP="203.0.113.9",
    )
    assert AuditEvent.objects.filter(action=Action.LOGIN).first().ip == "198.51.100.7"


def test_the_purge_removes_events_older_than_the_window(settings):
    settings.RETAIN_AUDIT_DAYS = 30
    old = record(Action.SETTINGS_CHANGED)
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    recent = record(Action.SETTINGS_CHANGED)
    result = retention.purge()
    assert result.counts["audit events"] == 1
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [recent.pk]
