"""The production stack as ``bin/serve`` runs it: gunicorn with the project's config, static
files by whitenoise (hashed, compressed, cached), ``/healthz``, and an access log that never
shows a push token.  A real gunicorn on a free port, production settings, a SQLite file."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "production-secret-key-for-the-stack-test-" + "x" * 20,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_STATIC_ROOT": str(home / "static"),
        "DJANGO_MEDIA_ROOT": str(home / "media"),
        "DJANGO_CACHE_DIR": str(home / "cache"),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "WEB_ACCESS_LOG": str(home / "access.log"),
    }
    env.pop("SMSPORTAL_TEST_DB", None)
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0"]):
        done = subprocess.run([*manage, *command], cwd=ROOT, env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    process = subprocess.Popen(
        [str(GUNICORN), "-c", "smsportal/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "error.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            break
        except (urllib.error.URLError, OSError):
            assert process.poll() is None, (home / "error.log").read_text()
            time.sleep(0.2)
    yield base, home
    process.terminate()
    process.wait(timeout=30)


def get(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_healthz_says_only_whether_the_database_and_broker_answer(server):
    base, _home = server
    status, headers, body = get(f"{base}/healthz")
    assert status == 200
    assert json.loads(body) == {"database": "ok", "broker": "ok"}
    assert "no-cache" in headers["Cache-Control"]


def test_static_files_are_hashed_compressed_and_cached_for_ever(server):
    base, _home = server
    status, _headers, page = get(f"{base}/accounts/login/")
    assert status == 200
    stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page.decode())
    assert stylesheets and all(re.search(r"\.[0-9a-f]{12}\.css$", href) for href in stylesheets)
    status, headers, body = get(base + stylesheets[0], **{"Accept-Encoding": "gzip"})
    assert status == 200 and body
    assert headers.get("Content-Encoding") == "gzip"
    assert "max-age=315360000" in headers["Cache-Control"]
    assert "immutable" in headers["Cache-Control"]


def test_the_access_log_never_shows_a_push_token(server):
    base, home = server
    get(f"{base}/vendor/push/1/the-secret-push-token/?report=1")
    get(f"{base}/healthz")
    time.sleep(0.5)  # the access log is written after the response
    log = (home / "access.log").read_text()
    assert "/vendor/push/1/…/" in log and "/healthz" in log
    assert "the-secret-push-token" not in log
