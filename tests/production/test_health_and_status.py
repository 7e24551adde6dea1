"""``/healthz`` and ``manage.py pipeline_status`` through their public interfaces."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from messaging.models import SendBatch
from smsportal import health

pytestmark = pytest.mark.django_db


def test_healthz_needs_no_login_and_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_healthz_names_what_does_not_answer_without_its_error(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("could not connect to server at db.internal (10.0.0.5)")

    monkeypatch.setattr(health.connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    # With the ORM broker, the broker is the database.
    assert response.json() == {"database": "unavailable", "broker": "unavailable"}
    assert b"10.0.0.5" not in response.content


def test_healthz_asks_redis_when_it_is_the_broker(client, settings):
    # Nothing listens on port 9 of this machine: the check fails fast and says so.
    with override_settings(Q_CLUSTER={**settings.Q_CLUSTER, "redis": "redis://127.0.0.1:9/0"}):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "unavailable"}


def test_pipeline_status_names_a_stalled_batch_and_fails(make_campaign, sim_account):
    from messaging.services import sending

    campaign = make_campaign(sim_account("smsadmin"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    SendBatch.objects.filter(pk=batch_id).update(
        state=SendBatch.State.SENDING, lease_until=timezone.now() - timedelta(minutes=1)
    )
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("pipeline_status", stdout=out)
    assert exit_.value.code == 1
    text = out.getvalue()
    assert f"stalled batches  {batch_id}" in text
    assert "clusters alive   0" in text
    assert campaign.vendor_account.name in text


def test_a_batch_leaves_one_line_an_operator_can_grep(sim, make_campaign, sim_account, caplog):
    from messaging import tasks
    from messaging.services import sending

    campaign = make_campaign(sim_account("smsadmin"), n=2)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    with caplog.at_level("INFO", logger="messaging.tasks"):
        tasks.send_batch(batch_id)
    lines = [r.getMessage() for r in caplog.records if r.name == "messaging.tasks"]
    wanted = f"batch={batch_id} campaign={campaign.pk} account={campaign.vendor_account_id} "
    assert any(line.startswith(wanted) and "2 submitted" in line for line in lines), lines
    secrets = [campaign.vendor_account.secret, "13800000001", "用户1"]
    assert not [line for line in lines for secret in secrets if secret and secret in line]
