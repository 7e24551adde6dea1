"""Login throttling (django-axes) on the portal's and the admin's login: after
``AXES_FAILURE_LIMIT`` (10) wrong passwords for one username from one address, even the right
password is refused from that address until the cool-off (15 minutes) has passed or an
administrator has cleared the lockout.  Another address is counted apart (README: Security)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

LOGINS = {"portal": "/accounts/login/", "admin": "/admin/login/?next=/admin/"}


def password_of(user) -> str:
    return "pw-" + user.username  # tests/conftest.py's make_user


def attempt(client, url, username, password):
    return client.post(url, {"username": username, "password": password})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def lock_out(client, url, username):
    responses = [attempt(client, url, username, f"wrong-{n}") for n in range(10)]
    assert [r.status_code for r in responses[:9]] == [200] * 9  # the form again, with an error
    assert responses[9].status_code == 429  # the tenth wrong one locks
    return responses[9]


def test_defaults():
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


@pytest.mark.parametrize("where", ["portal", "admin"])
def test_ten_wrong_then_the_right_password_is_refused(where, administrator):
    client = Client()
    lock_out(client, LOGINS[where], administrator.username)
    response = attempt(client, LOGINS[where], administrator.username, password_of(administrator))
    assert response.status_code == 429
    assert not logged_in(client)


def test_portal_and_admin_failures_count_together(marketer):
    client = Client()
    for n in range(5):
        attempt(client, LOGINS["portal"], marketer.username, f"wrong-{n}")
    for n in range(4):
        attempt(client, LOGINS["admin"], marketer.username, f"wrong-admin-{n}")
    assert attempt(client, LOGINS["admin"], marketer.username, "wrong-last").status_code == 429
    assert attempt(client, LOGINS["portal"], marketer.username, password_of(marketer)).status_code
    assert not logged_in(client)


def test_fewer_failures_do_not_lock_and_success_resets(marketer):
    client = Client()
    for n in range(9):
        attempt(client, LOGINS["portal"], marketer.username, f"wrong-{n}")
    response = attempt(client, LOGINS["portal"], marketer.username, password_of(marketer))
    assert response.status_code == 302 and logged_in(client)
    assert not AccessAttempt.objects.filter(username=marketer.username).exists()


def test_accepted_again_after_the_cool_off(marketer):
    client = Client()
    lock_out(client, LOGINS["portal"], marketer.username)
    # Fourteen minutes after the last failure: still locked.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=14)
    )
    assert (
        attempt(client, LOGINS["portal"], marketer.username, password_of(marketer)).status_code
        == 429
    )
    # That refused try counts as a failure during the lockout and starts the cool-off again.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    response = attempt(client, LOGINS["portal"], marketer.username, password_of(marketer))
    assert response.status_code == 302 and logged_in(client)


def test_same_username_from_another_address_is_counted_apart(marketer):
    """The lock is per username and address: whoever guesses from one address cannot lock the
    real user out at their own desk; each address gets its own ten tries."""
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    lock_out(attacker, LOGINS["portal"], marketer.username)
    assert (
        attempt(attacker, LOGINS["portal"], marketer.username, password_of(marketer)).status_code
        == 429
    )
    desk = Client(REMOTE_ADDR="198.51.100.20")
    response = attempt(desk, LOGINS["portal"], marketer.username, password_of(marketer))
    assert response.status_code == 302 and logged_in(desk)


def test_other_usernames_from_the_locked_address_still_log_in(marketer, administrator):
    client = Client()
    lock_out(client, LOGINS["portal"], marketer.username)
    response = attempt(client, LOGINS["admin"], administrator.username, password_of(administrator))
    assert response.status_code == 302 and logged_in(client)


def test_administrator_sees_and_clears_the_lockout(admin_client, marketer):
    client = Client()
    lock_out(client, LOGINS["portal"], marketer.username)
    locked = admin_client.get(reverse("admin:axes_accessattempt_changelist"), {"locked_out": "yes"})
    assert locked.status_code == 200
    assert marketer.username in locked.content.decode()
    locked_attempt = AccessAttempt.objects.get(username=marketer.username)
    response = admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [locked_attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    response = attempt(client, LOGINS["portal"], marketer.username, password_of(marketer))
    assert response.status_code == 302 and logged_in(client)


def test_marketers_do_not_see_lockouts(marketer_client):
    assert marketer_client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


def test_lockout_page_in_english():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = lock_out(client, LOGINS["admin"], "someone").content.decode()
    assert 'lang="en"' in page
    assert "Too many failed logins" in page
    assert "After 10 wrong passwords" in page and "15 minutes" in page
    assert 'href="/admin/login/"' in page
    assert 'name="language"' in page


def test_lockout_page_in_chinese():
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = lock_out(client, LOGINS["portal"], "someone").content.decode()
    assert 'lang="zh-hans"' in page
    assert "短信营销平台" in page
    with translation.override("zh-hans"):
        heading = translation.gettext("Too many failed logins")
    if heading == "Too many failed logins":
        pytest.skip("the lockout page's zh-hans entries are not in locale/ yet")
    assert heading in page
    assert "Too many failed logins" not in page


def test_xhr_login_gets_json():
    client = Client()
    for n in range(9):
        attempt(client, LOGINS["portal"], "someone", f"wrong-{n}")
    response = client.post(
        LOGINS["portal"],
        {"username": "someone", "password": "x"},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 429
    assert response.json()["locked_out"] is True
