"""The marketer's pages: upload → mapping → confirm → job page (progress JSON, report)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_q.conf import Conf

from messaging.importing import service
from messaging.models import ImportJob, Recipient

from .conftest import fixture_upload, text_upload

pytestmark = pytest.mark.django_db


def upload(client, recipient_list, file, **extra):
    return client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]), {"file": file, **extra}
    )


def test_upload_mapping_confirm_and_result(marketer_client, recipient_list):
    response = upload(marketer_client, recipient_list, fixture_upload("duplicates_invalid.xlsx"))
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("portal:import_mapping", args=[job.pk])

    with translation.override("en"):
        page = marketer_client.get(response.url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert page.context["job"].phone_column == "手机号"
    assert '<option value="手机号" selected>' in html
    assert page.context["counts"].valid == 4
    assert len(page.context["sample"]) == 10 and page.context["sample"][0]["ok"]

    response = marketer_client.post(
        reverse("portal:import_mapping", args=[job.pk]),
        {"phone_column": "手机号", "confirm": "1"},
    )
    assert response.status_code == 302 and response.url == reverse(
        "portal:import_job", args=[job.pk]
    )
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert job.created_by.username == "mike-marketer"
    assert Recipient.objects.filter(recipient_list=recipient_list).count() == 4

    status = marketer_client.get(reverse("portal:import_status", args=[job.pk])).json()
    assert status["finished"] and status["percent"] == 100
    assert (status["imported"], status["duplicate_in_file"], status["rejected"]) == (4, 3, 6)
    assert status["report_url"] == reverse("portal:import_rejected", args=[job.pk])

    page = marketer_client.get(reverse("portal:import_job", args=[job.pk]))
    assert 'id="rejected-report"' in page.content.decode()
    assert "progress.js" not in page.content.decode()  # finished: nothing to poll

    report = marketer_client.get(status["report_url"])
    assert report.status_code == 200
    body = b"".join(report.streaming_content).decode("utf-8-sig")
    assert "1380000000" in body and body.count("\n") == 7


def test_choosing_the_phone_column_and_the_sheet(marketer_client, recipient_list):
    upload(marketer_client, recipient_list, fixture_upload("no_phone_column.csv"))
    job = ImportJob.objects.get()
    url = reverse("portal:import_mapping", args=[job.pk])
    with translation.override("en"):
        page = marketer_client.get(url)
    assert 'name="confirm"' not in page.content.decode()
    marketer_client.post(url, {"phone_column": "城市", "refresh": "1"})
    job.refresh_from_db()
    assert job.phone_column == "城市"

    upload(marketer_client, recipient_list, fixture_upload("several_sheets.xlsx"))
    job = ImportJob.objects.latest("pk")
    assert job.sheet == "名单"
    marketer_client.post(
        reverse("portal:import_mapping", args=[job.pk]), {"sheet": "旧名单", "refresh": "1"}
    )
    job.refresh_from_db()
    assert job.sheet == "旧名单" and job.phone_column == "手机号"
    marketer_client.post(
        reverse("portal:import_mapping", args=[job.pk]),
        {"sheet": "旧名单", "phone_column": "手机号", "confirm": "1"},
    )
    assert list(Recipient.objects.values_list("phone", flat=True)) == ["13900000009"]


def test_an_unreadable_file_is_refused_on_the_form(marketer_client, recipient_list):
    with translation.override("en"):
        response = upload(marketer_client, recipient_list, fixture_upload("not_a_spreadsheet.xlsx"))
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "This file is not a spreadsheet (CSV, XLSX or XLS)."
    ]
    assert not ImportJob.objects.exists()


def test_a_large_file_runs_as_a_task_with_a_progress_page(
    marketer_client, recipient_list, monkeypatch
):
    monkeypatch.setattr(service, "SYNC_MAX_ROWS", 5)
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda *args, **kwargs: queued.append(args) or "task-1"
    )
    rows = "\n".join(["mobile"] + [f"137{i:08d}" for i in range(50)])
    upload(marketer_client, recipient_list, text_upload("big.csv", rows))
    job = ImportJob.objects.get()
    marketer_client.post(
        reverse("portal:import_mapping", args=[job.pk]), {"phone_column": "mobile", "confirm": "1"}
    )
    job.refresh_from_db()
    assert job.state == ImportJob.State.QUEUED and job.task_id == "task-1"
    assert queued == [("messaging.importing.tasks.import_recipients", job.pk, "en")]

    page = marketer_client.get(reverse("portal:import_job", args=[job.pk]))
    html = page.content.decode()
    assert "progress.js" in html and 'id="import-progress"' in html
    assert not marketer_client.get(reverse("portal:import_status", args=[job.pk])).json()[
        "finished"
    ]

    from messaging.importing.tasks import import_recipients

    assert import_recipients(job.pk, "en").startswith("done: 50")
    status = marketer_client.get(reverse("portal:import_status", args=[job.pk])).json()
    assert status["finished"] and status["imported"] == 50


def test_task_path_in_sync_mode(marketer_client, recipient_list, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(service, "SYNC_MAX_ROWS", 1)
    upload(marketer_client, recipient_list, fixture_upload("utf8_formats.csv"))
    job = ImportJob.objects.get()
    marketer_client.post(
        reverse("portal:import_mapping", args=[job.pk]), {"phone_column": "手机号", "confirm": "1"}
    )
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE and job.task_id and job.imported_count == 6


def test_list_page_links(marketer_client, recipient_list):
    page = marketer_client.get(reverse("portal:import_list", args=[recipient_list.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("portal:import_upload", args=[recipient_list.pk]) in html
    assert reverse("portal:export_recipients", args=[recipient_list.pk, "xlsx"]) in html


def test_login_and_permissions_are_required(recipient_list, django_user_model):
    url = reverse("portal:import_upload", args=[recipient_list.pk])
    assert Client().get(url).status_code == 302
    user = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(url).status_code == 403
    user.user_permissions.add(
        Permission.objects.get(codename="add_recipient"),
        Permission.objects.get(codename="view_recipientlist"),
    )
    client.force_login(type(user).objects.get(pk=user.pk))
    assert client.get(url).status_code == 200


def test_admin_recipient_list_page_links_to_the_import_page(admin_client, recipient_list):
    page = admin_client.get(
        reverse("admin:messaging_recipientlist_change", args=[recipient_list.pk])
    )
    html = page.content.decode()
    assert reverse("portal:import_list", args=[recipient_list.pk]) in html
    assert (
        reverse("admin:messaging_recipient_import") + f"?recipient_list={recipient_list.pk}" in html
    )
