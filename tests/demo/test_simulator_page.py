"""The demo's simulator page exists in demo mode only, for the portal's users only, and says
so plainly when the simulator does not answer or the input is wrong."""

import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.harness.processes import ROOT

pytestmark = pytest.mark.django_db

PAGES = [
    ("get", "demo:simulator"),
    ("post", "demo:reply"),
    ("post", "demo:fault"),
    ("post", "demo:review"),
]
CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture
def demo_mode(settings):
    settings.DEMO_MODE = True
    settings.SIMULATOR_URL = CLOSED_PORT_URL


@pytest.mark.parametrize(("method", "name"), PAGES)
def test_outside_demo_mode_the_page_does_not_exist_for_anyone(
    settings, method, name, admin_client, marketer_client, django_user_model
):
    settings.DEMO_MODE = False
    superuser = django_user_model.objects.create_superuser("root", password="pw-root")
    root_client = Client()
    root_client.force_login(superuser)
    for client in (Client(), marketer_client, admin_client, root_client):
        response = getattr(client, method)(reverse(name))
        assert response.status_code == 404


def test_production_settings_have_no_demo_mode():
    # DEMO_MODE needs DEBUG: PORTAL_DEMO=true alone does not open the page in production.
    code = "from smsportal import settings; print(settings.DEMO_MODE)"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_DEBUG": "false",
        "PORTAL_DEMO": "true",
        "DJANGO_SECRET_KEY": "x" * 60,
        "FIELD_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr


def test_the_dashboard_links_the_page_in_demo_mode_only(settings, marketer_client):
    settings.DEMO_MODE = False
    assert b"demo-simulator-link" not in marketer_client.get(reverse("portal:dashboard")).content
    settings.DEMO_MODE = True
    page = marketer_client.get(reverse("portal:dashboard")).content.decode()
    assert "demo-simulator-link" in page
    assert reverse("demo:simulator") in page


@pytest.mark.parametrize(("method", "name"), PAGES)
def test_in_demo_mode_a_visitor_must_log_in(demo_mode, client, method, name):
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_simulator_that_does_not_answer_is_said_so(demo_mode, marketer_client):
    with translation.override("en"):
        response = marketer_client.get(reverse("demo:simulator"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="simulator-unreachable"' in page
    assert CLOSED_PORT_URL in page


def test_an_action_on_a_simulator_that_does_not_answer_is_an_error_not_a_500(
    demo_mode, marketer_client
):
    response = marketer_client.post(
        reverse("demo:fault"), {"vendor": "smscn", "mode": "error"}, follow=True
    )
    assert response.status_code == 200
    assert "does not answer" in response.content.decode()


def test_a_review_without_a_decision_is_refused_plainly(demo_mode, marketer_client):
    response = marketer_client.post(
        reverse("demo:review"), {"vendor": "ashx5g", "template": "7"}, follow=True
    )
    assert response.status_code == 200
    assert 'class="notice error"' in response.content.decode()
