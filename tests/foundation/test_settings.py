import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_locale_and_time_zone():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]


def test_orm_broker_by_default():
    assert settings.Q_CLUSTER.get("orm") == "default"
    assert "redis" not in settings.Q_CLUSTER


def test_redis_broker_from_environment():
    result = run_manage(
        "shell",
        "-v0",
        "-c",
        "from django.conf import settings; print(settings.Q_CLUSTER.get('redis'), "
        "'orm' in settings.Q_CLUSTER)",
        Q_REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/3", "False"]


def test_production_mode_refuses_to_start_without_secrets():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS")
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**env, "DJANGO_DEBUG": "false"},
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_check_deploy_is_clean():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-0123456789",
        FIELD_ENCRYPTION_KEYS="kXlKqfFZlJ5c3sC3vvx0rJ8n3J3d1Qe8e5Pp0uVqzq8=",
        DJANGO_ALLOWED_HOSTS="sms.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
