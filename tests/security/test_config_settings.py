"""The configuration fails closed: production is the default, and production refuses missing
secrets and the repository's development ones.  Settings are loaded in a subprocess with an
environment controlled here (nothing inherited that names a mode, a secret or a settings
module)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTROLLED = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "DJANGO_ALLOWED_HOSTS",
)
DEV_SECRET = "dev-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LTAxMjM0NTY3ODlhYmM="
REAL_SECRET = "q7Lr-production-only-" + "Zx9w4Kp2Vn8Ty6Rb3Hm5Jd1Fs0Gc7Qa" * 2
# A fixed key of its own (a key made at collection would differ between xdist workers).
REAL_FIELD_KEY = "E7qqHemzfntS1pBQeU9XFlZR36ZYVrKILbW07PfiCis="

SHOW = (
    "import django; django.setup(); from django.conf import settings; "
    f"print(settings.DEBUG, settings.SECRET_KEY == {DEV_SECRET!r}, "
    "settings.FIELD_ENCRYPTION_KEYS)"
)


def dotenv_sets(name: str) -> bool:
    dotenv = ROOT / ".env"
    return dotenv.exists() and any(
        line.strip().startswith(f"{name}=") for line in dotenv.read_text().splitlines()
    )


def run(args, settings_module="smsportal.settings", **env):
    base = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    base["DJANGO_SETTINGS_MODULE"] = settings_module
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def load(settings_module="smsportal.settings", **env):
    return run([sys.executable, "-c", SHOW], settings_module, **env)


def manage(*args, **env):
    return run([sys.executable, "manage.py", *args], **env)


def test_production_is_the_default():
    if dotenv_sets("DJANGO_DEBUG"):
        pytest.skip(".env sets DJANGO_DEBUG")
    result = load(DJANGO_SECRET_KEY=REAL_SECRET, FIELD_ENCRYPTION_KEYS=REAL_FIELD_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


def test_production_refuses_a_missing_secret_key():
    result = load(DJANGO_DEBUG="false", FIELD_ENCRYPTION_KEYS=REAL_FIELD_KEY)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_without_any_variable_refuses_to_start():
    if dotenv_sets("DJANGO_DEBUG") or dotenv_sets("DJANGO_SECRET_KEY"):
        pytest.skip(".env sets the mode or the key")
    result = manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "DJANGO_DEBUG=true for development" in result.stderr


def test_production_refuses_the_development_secret_key():
    result = load(
        DJANGO_DEBUG="false", DJANGO_SECRET_KEY=DEV_SECRET, FIELD_ENCRYPTION_KEYS=REAL_FIELD_KEY
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is the repository's development key" in result.stderr


def test_production_refuses_missing_field_keys():
    if dotenv_sets("FIELD_ENCRYPTION_KEYS"):
        pytest.skip(".env sets the field keys")
    result = load(DJANGO_DEBUG="false", DJANGO_SECRET_KEY=REAL_SECRET)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


@pytest.mark.parametrize(
    "keys",
    [DEV_FIELD_KEY, f"{REAL_FIELD_KEY},{DEV_FIELD_KEY}", f"{DEV_FIELD_KEY},{REAL_FIELD_KEY}"],
)
def test_production_refuses_the_development_field_key(keys):
    result = load(DJANGO_DEBUG="false", DJANGO_SECRET_KEY=REAL_SECRET, FIELD_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS holds the repository's development key" in result.stderr


def test_production_with_real_values_passes_check_deploy():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=REAL_SECRET,
        FIELD_ENCRYPTION_KEYS=REAL_FIELD_KEY,
        DJANGO_ALLOWED_HOSTS="sms.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_is_asked_for_and_keeps_its_fallbacks():
    result = load(DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr
    debug, dev_secret, _keys = result.stdout.split(maxsplit=2)
    assert (debug, dev_secret) == ("True", "True")


def test_test_settings_ask_for_development_and_pass_it_on():
    """pytest's settings module asks for development mode and puts it in the environment, so
    the processes tests start (workers, the task cluster, manage.py shell) inherit it."""
    code = SHOW + "; import os; print(os.environ['DJANGO_DEBUG'])"
    result = run([sys.executable, "-c", code], "smsportal.settings_test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["True", "True"]
    assert result.stdout.split()[-1] == "true"
    # An explicit choice still wins over the test settings' default.
    result = run([sys.executable, "-c", SHOW], "smsportal.settings_test", DJANGO_DEBUG="false")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY is not set" in result.stderr


def test_this_test_run_and_its_subprocesses_are_in_development_mode():
    from django.conf import settings

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "smsportal.settings_test"
    assert os.environ["DJANGO_DEBUG"] == "true"
    assert settings.SECRET_KEY == DEV_SECRET  # the development fallback, as asked for
    # What tests/sending/test_kill.py's workers do: manage.py with the inherited environment.
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v0",
            "-c",
            "from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"


@pytest.mark.parametrize("script", ["bin/run", "bin/test", ".ci/run"])
def test_scripts_ask_for_development_mode(script):
    lines = (ROOT / script).read_text().splitlines()
    assert "export DJANGO_DEBUG=true" in lines
