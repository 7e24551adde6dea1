"""The admin import through django-import-export: preview (dry run), then confirm."""

import pytest
from django.urls import reverse
from django.utils import translation

from messaging.models import Recipient, RecipientList, Suppression

from .conftest import fixture_upload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("client_fixture", ["admin_client", "marketer_client"])
def test_preview_then_confirm(request, client_fixture, recipient_list):
    client = request.getfixturevalue(client_fixture)
    Recipient.objects.create(recipient_list=recipient_list, phone="13800000002")
    Suppression.objects.create(phone="13800000003", reason=Suppression.Reason.MANUAL)
    url = reverse("admin:messaging_recipient_import")
    page = client.get(url + f"?recipient_list={recipient_list.pk}")
    assert page.status_code == 200
    assert page.context["form"].initial["recipient_list"] == str(recipient_list.pk)

    with translation.override("en"):
        preview = client.post(
            url,
            {
                "recipient_list": recipient_list.pk,
                "import_file": fixture_upload("duplicates_invalid.xlsx"),
                "format": "0",
                "resource": "0",
                "phone_column": "",
            },
        )
    assert preview.status_code == 200
    result = preview.context["result"]
    assert not result.has_errors(), [e.error for e in result.base_errors]
    summary = result.summary
    assert (summary.accepted, summary.duplicate_in_file, summary.duplicate_in_list) == (2, 3, 1)
    assert summary.suppressed == 1 and summary.rejected_count == 6
    html = preview.content.decode()
    assert 'id="rejected-rows"' in html and "not a phone number" in html
    assert Recipient.objects.count() == 1  # a dry run

    confirm = preview.context["confirm_form"]
    data = {name: confirm.initial.get(name, "") for name in confirm.fields}
    data["allow_international"] = ""
    response = client.post(reverse("admin:messaging_recipient_process_import"), data)
    assert response.status_code == 302
    assert sorted(
        Recipient.objects.filter(recipient_list=recipient_list).values_list("phone", flat=True)
    ) == ["13800000001", "13800000002", "13800000004"]
    assert Recipient.objects.get(phone="13800000004").source_row == 13
    recipient_list.refresh_from_db()
    assert recipient_list.columns == ["姓名"]


def test_admin_import_gbk_and_chosen_phone_column(admin_client):
    target = RecipientList.objects.create(name="gbk")
    url = reverse("admin:messaging_recipient_import")
    preview = admin_client.post(
        url,
        {
            "recipient_list": target.pk,
            "import_file": fixture_upload("gbk_excel.csv"),
            "format": "0",
            "phone_column": "手机",
        },
    )
    assert preview.context["result"].summary.accepted == 4
    confirm = preview.context["confirm_form"]
    data = {name: confirm.initial.get(name, "") for name in confirm.fields}
    admin_client.post(reverse("admin:messaging_recipient_process_import"), data)
    assert Recipient.objects.get(phone="13700000001").variables["姓名"] == "陈小明"


def test_admin_import_reports_unreadable_files_and_missing_columns(admin_client, recipient_list):
    url = reverse("admin:messaging_recipient_import")
    with translation.override("en"):
        page = admin_client.post(
            url,
            {
                "recipient_list": recipient_list.pk,
                "import_file": fixture_upload("not_a_spreadsheet.xlsx"),
                "format": "0",
            },
        )
    assert page.context["form"].errors["import_file"] == [
        "This file is not a spreadsheet (CSV, XLSX or XLS)."
    ]
    with translation.override("en"):
        page = admin_client.post(
            url,
            {
                "recipient_list": recipient_list.pk,
                "import_file": fixture_upload("no_phone_column.csv"),
                "format": "0",
            },
        )
    result = page.context["result"]
    assert result.has_errors()
    assert "No phone column found" in str(result.base_errors[0].error)
    assert "confirm_form" not in page.context
    assert not Recipient.objects.exists()


def test_admin_import_is_all_or_nothing(admin_client, recipient_list, monkeypatch):
    from messaging.importing.resources import RecipientResource

    url = reverse("admin:messaging_recipient_import")
    preview = admin_client.post(
        url,
        {
            "recipient_list": recipient_list.pk,
            "import_file": fixture_upload("utf8_formats.csv"),
            "format": "0",
        },
    )
    confirm = preview.context["confirm_form"]
    data = {name: confirm.initial.get(name, "") for name in confirm.fields}
    monkeypatch.setattr(RecipientResource._meta, "batch_size", 2)
    calls = []
    original = RecipientResource.bulk_create

    def fail_on_second_batch(self, *args, **kwargs):
        calls.append(len(self.create_instances))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RecipientResource, "bulk_create", fail_on_second_batch)
    with pytest.raises(RuntimeError):
        admin_client.post(reverse("admin:messaging_recipient_process_import"), data)
    assert not Recipient.objects.exists()
