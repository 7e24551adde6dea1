"""Administrators run no code on the worker: no django-q schedule of their own, no task queued
or resubmitted from the admin, and nothing a task was given or returned is shown to them."""

import uuid

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success
from django_q.signing import SignedPackage

from accounts.roles import ADMINISTRATORS, ROLE_PERMISSIONS

pytestmark = pytest.mark.django_db

ARG = "ARG-7f3a-vendor-secret"
RESULT = "RESULT-91c2-vendor-secret"


@pytest.fixture
def superuser_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-1"))
    return client


def make_task(model, **extra):
    now = timezone.now()
    return model.objects.create(
        id=uuid.uuid4().hex,
        name="sad-ocean-seven",
        func="builtins.eval",
        hook="builtins.print",
        args=(ARG,),
        kwargs={"key": ARG},
        result=RESULT,
        started=now,
        stopped=now,
        success=model is Success,
        **extra,
    )


def test_the_roles_table_gives_no_task_scheduling():
    table = ROLE_PERMISSIONS[ADMINISTRATORS]
    assert table["django_q.schedule"] == ("view",)
    assert table["django_q.ormq"] == ("view",)
    for role_table in ROLE_PERMISSIONS.values():
        for label, actions in role_table.items():
            if label.startswith("django_q."):
                assert not {"add", "change"} & set(actions), label


def test_administrator_has_no_schedule_permission(administrator):
    assert administrator.has_perm("django_q.view_schedule")
    for action in ("add", "change", "delete"):
        assert not administrator.has_perm(f"django_q.{action}_schedule")
    assert not administrator.has_perm("django_q.delete_ormq")
    assert not administrator.has_perm("django_q.add_success")


def test_administrator_cannot_add_a_schedule(admin_client):
    url = reverse("admin:django_q_schedule_add")
    assert admin_client.get(url).status_code == 403
    response = admin_client.post(
        url,
        {
            "name": "x",
            "func": "builtins.eval",
            "args": "'__import__(\"os\").environ'",
            "schedule_type": "O",
            "repeats": "-1",
            "next_run_0": "2024-01-01",
            "next_run_1": "00:00:00",
        },
    )
    assert response.status_code == 403
    assert not Schedule.objects.filter(func="builtins.eval").exists()


def test_administrator_cannot_change_or_delete_a_schedule(admin_client):
    schedule = Schedule.objects.create(
        name="portal-dispatch", func="messaging.tasks.dispatch", args=repr(ARG)
    )
    change = reverse("admin:django_q_schedule_change", args=[schedule.pk])
    page = admin_client.get(change)
    assert page.status_code == 200  # read-only view
    html = page.content.decode()
    assert "portal-dispatch" in html and "messaging.tasks.dispatch" in html
    assert ARG not in html
    assert 'name="func"' not in html and 'name="_save"' not in html
    response = admin_client.post(change, {"name": "portal-dispatch", "func": "builtins.eval"})
    assert response.status_code == 403
    delete = reverse("admin:django_q_schedule_delete", args=[schedule.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    schedule.refresh_from_db()
    assert schedule.func == "messaging.tasks.dispatch"


def test_administrator_sees_task_history_without_arguments_or_results(admin_client):
    success = make_task(Success)
    failure = make_task(Failure)
    for model, task in (("success", success), ("failure", failure)):
        listing = admin_client.get(reverse(f"admin:django_q_{model}_changelist"))
        assert listing.status_code == 200
        html = listing.content.decode()
        assert "sad-ocean-seven" in html
        assert RESULT not in html and ARG not in html
        detail = admin_client.get(reverse(f"admin:django_q_{model}_change", args=[task.pk]))
        assert detail.status_code == 200
        html = detail.content.decode()
        assert "sad-ocean-seven" in html and "builtins.eval" in html
        assert RESULT not in html and ARG not in html
        assert "builtins.print" not in html  # the hook


def test_superuser_still_sees_the_whole_task(superuser_client):
    success = make_task(Success)
    html = superuser_client.get(
        reverse("admin:django_q_success_change", args=[success.pk])
    ).content.decode()
    assert RESULT in html and ARG in html


def test_administrator_cannot_resubmit_tasks(admin_client):
    tasks = [make_task(Success), make_task(Failure)]
    for model, task in zip(("success", "failure"), tasks, strict=True):
        url = reverse(f"admin:django_q_{model}_changelist")
        assert "resubmit_task" not in admin_client.get(url).content.decode()
        admin_client.post(url, {"action": "resubmit_task", "_selected_action": [task.pk]})
    assert OrmQ.objects.count() == 0
    assert Failure.objects.filter(pk=tasks[1].pk).exists()


def test_queued_tasks_read_only_without_arguments(admin_client):
    payload = SignedPackage.dumps(
        {
            "id": uuid.uuid4().hex,
            "name": "queued-blue-cat",
            "func": "messaging.tasks.send_batch",
            "args": (ARG,),
            "kwargs": {"token": ARG},
            "group": None,
        }
    )
    queued = OrmQ.objects.create(key="smsportal", payload=payload)
    detail = admin_client.get(reverse("admin:django_q_ormq_change", args=[queued.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "queued-blue-cat" in html and ARG not in html
    delete = reverse("admin:django_q_ormq_delete", args=[queued.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert OrmQ.objects.filter(pk=queued.pk).exists()


def test_even_a_granted_permission_adds_no_schedule(administrator, admin_client):
    """The admin itself refuses schedule changes to non-superusers, whatever the group says."""
    group = Group.objects.get(name=ADMINISTRATORS)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_q",
            codename__in=["add_schedule", "change_schedule", "delete_schedule"],
        )
    )
    assert admin_client.get(reverse("admin:django_q_schedule_add")).status_code == 403


def test_sync_roles_takes_back_schedule_permissions():
    group = Group.objects.get(name=ADMINISTRATORS)
    group.permissions.add(Permission.objects.get(codename="add_schedule"))
    call_command("sync_roles", stdout=None)
    assert not group.permissions.filter(codename="add_schedule").exists()


def test_every_migrate_takes_back_schedule_permissions():
    """The roles table is re-applied after every migrate (``accounts.apps``), so a database made
    before a change of the table gets it with its next deploy."""
    group = Group.objects.get(name=ADMINISTRATORS)
    stale = Permission.objects.filter(
        content_type__app_label="django_q",
        codename__in=["add_schedule", "change_schedule", "delete_schedule", "delete_ormq"],
    )
    group.permissions.add(*stale)
    call_command("migrate", verbosity=0)
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert not codenames & {"add_schedule", "change_schedule", "delete_schedule", "delete_ormq"}
    assert {"view_schedule", "view_accessattempt", "delete_accessattempt"} <= codenames
