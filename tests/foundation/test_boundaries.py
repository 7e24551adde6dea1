"""Boundaries that import contracts (``lint-imports``, see pyproject.toml) cannot see.

* Views and tasks change state only through services: no module of theirs writes a model or
  a queryset itself (``.save()``, ``.delete()``, ``.create()``, ``.update()`` and the bulk and
  get-or-create forms).
* Production processes never import the vendor simulators: the registry names each simulator
  by dotted path, imported only when a test, the demo or ``run_simulators`` asks for it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

STATE_MODULES = sorted(
    {
        *(ROOT / "messaging" / "views").rglob("*.py"),
        *(ROOT / "accounts").glob("views*.py"),
        *(ROOT / "accounts").glob("views/**/*.py"),
        ROOT / "messaging" / "tasks.py",
        ROOT / "messaging" / "importing" / "tasks.py",
    }
)

ALWAYS_WRITES = {
    "save",
    "delete",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
}
"""Calls that write whatever they are called on."""
QUERYSET_WRITES = {"create", "update"}
"""Calls that write when called on a manager or a queryset (``X.objects.create``,
``….filter(…).update``, ``account.messages.create``); ``dict.update`` on a plain name or on
one of ``DICTS`` is not one."""
DICTS = {"attrs", "initial", "data", "cleaned_data", "context", "headers", "session", "extra"}

ALLOWED: set[tuple[str, str]] = set()
"""Calls that look like writes in a view or task module and are none."""


def _writes(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, receiver = node.func.attr, node.func.value
        on_queryset = isinstance(receiver, ast.Call) or (
            isinstance(receiver, ast.Attribute) and receiver.attr not in DICTS
        )
        if name in ALWAYS_WRITES or (name in QUERYSET_WRITES and on_queryset):
            found.append((node.lineno, ast.unparse(node.func)))
    return sorted(found)


def test_the_scanner_sees_writes_and_not_dict_updates(tmp_path):
    module = tmp_path / "view.py"
    module.write_text(
        "def view(request, account, form, context):\n"
        "    context.update(a=1)\n"
        "    form.fields['x'].widget.attrs.update({})\n"
        "    account.save()\n"
        "    Message.objects.filter(pk=1).update(status='x')\n"
        "    Message.objects.create(pk=1)\n"
        "    account.messages.create(pk=2)\n"
        "    Schedule.objects.update_or_create(name='x')\n"
    )
    assert [call for _line, call in _writes(module)] == [
        "account.save",
        "Message.objects.filter(pk=1).update",
        "Message.objects.create",
        "account.messages.create",
        "Schedule.objects.update_or_create",
    ]


def test_views_and_tasks_change_state_only_through_services():
    assert ROOT / "messaging" / "views" / "push.py" in STATE_MODULES
    found = []
    for path in STATE_MODULES:
        relative = path.relative_to(ROOT).as_posix()
        found += [
            f"{relative}:{line}: {call}(…)"
            for line, call in _writes(path)
            if (relative, call) not in ALLOWED
        ]
    assert not found, "write through a service instead:\n" + "\n".join(found)


PRODUCTION_START = """
import importlib, json, pkgutil, sys
import django
django.setup()
import messaging, accounts, smsportal.urls, smsportal.wsgi
skipped = (".simulator", ".management", ".migrations")
for package in (messaging, accounts):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not any(part in module.name for part in skipped):
            importlib.import_module(module.name)
from messaging.vendors.registry import all_vendors
all_vendors()
print(json.dumps(sorted(name for name in sys.modules if name.endswith("simulator"))))
"""


@pytest.fixture
def production_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="smsportal.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=Fernet.generate_key().decode() * 2,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        DJANGO_MEDIA_ROOT=str(tmp_path / "media"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_CACHE_DIR=str(tmp_path / "cache"),
    )
    return env


def test_production_processes_never_import_a_simulator(production_env):
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_START],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_registry_imports_a_simulator_when_asked():
    from messaging.vendors.registry import VENDOR_KEYS, vendor
    from messaging.vendors.simulator import VendorSimulator

    for key in VENDOR_KEYS:
        spec = vendor(key)
        assert spec.simulator_path.startswith(f"messaging.vendors.{key}.simulator.")
        assert issubclass(spec.simulator, VendorSimulator) and spec.simulator.key == key
