"""Logs say what happened once: an expected refusal is one line without a traceback, and no
page makes the browser ask for a favicon that is not there."""

import io
import logging

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_log(settings):
    """What the configured handlers write for ``django.request`` (with DEBUG on, as under
    ``bin/run``, where Django's own console handler is live too)."""
    settings.DEBUG = True
    buffer = io.StringIO()
    swapped = []
    logger = logging.getLogger("django.request")
    while logger:
        for handler in logger.handlers:
            # The configured console handlers (not pytest's capturing ones, subclasses).
            if type(handler) is logging.StreamHandler:
                swapped.append((handler, handler.setStream(buffer)))
        logger = logger.parent if logger.propagate else None
    yield buffer
    for handler, stream in swapped:
        handler.setStream(stream)


def test_an_expected_403_logs_one_line_without_a_traceback(request_log, client, django_user_model):
    # A user without a role may not use the portal: a PermissionDenied, answered 403.
    client.force_login(django_user_model.objects.create_user("nobody", password="pw-nobody"))
    request_log.seek(0)
    request_log.truncate()  # the login's own lines
    response = client.get(reverse("portal:campaigns"))
    assert response.status_code == 403
    lines = request_log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "Forbidden" in lines[0] and "/portal/campaigns/" in lines[0]
    assert "Traceback" not in request_log.getvalue()


def test_a_server_error_keeps_its_traceback(request_log, settings):
    logging.getLogger("django.request").error(
        "Internal Server Error: /x", exc_info=ValueError("boom"), extra={"status_code": 500}
    )
    assert "ValueError: boom" in request_log.getvalue()


def test_favicon_ico_answers(client):
    response = client.get("/favicon.ico")
    assert response.status_code in (200, 301, 302)
    if response.status_code != 200:
        # To the portal's icon among the static files (served by runserver or whitenoise).
        assert response["Location"] == static("portal/favicon.svg")
        assert finders.find("portal/favicon.svg")


def test_admin_pages_link_the_favicon(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
