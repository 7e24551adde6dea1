"""Uploaded files are served only by views that check permissions, never from MEDIA_ROOT.

An SVG added through the admin used to be served by ``static()`` at /media/… (DEBUG, the old
default) without login, on the portal's origin, where its script ran; rejected-rows reports
(phone numbers) were public there too under a guessable name."""

import importlib

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, clear_url_caches, get_resolver, reverse
from django.views.static import serve

from messaging.importing import service
from messaging.models import ImportJob, RecipientList, Template, TemplateFile

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def template(administrator):
    return Template.objects.create(name="mms", body="", created_by=administrator)


def stored(template, name: str, data: bytes, content_type: str) -> TemplateFile:
    item = TemplateFile(template=template, frame=1, order=1, content_type=content_type)
    item.file.save(name, ContentFile(data), save=True)
    return item


@pytest.fixture
def outsider(django_user_model):
    """Logged in, staff even, but with no role: none of the permissions."""
    user = django_user_model.objects.create_user("olly", password="pw-olly-1", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def assert_safe_headers(response):
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


# --------------------------------------------------------------------------- /media/ is gone


def all_patterns(resolver=None):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from all_patterns(pattern)
        else:
            assert isinstance(pattern, URLPattern)
            yield pattern


@pytest.mark.parametrize("debug", [False, True])
def test_media_url_answers_404_in_debug_and_not(settings, template, marketer_client, debug):
    item = stored(template, "evil.svg", SVG, "image/png")
    report = ContentFile(b"row,reason\n2,13800000000\n")
    report_name = "imports/rejected/1-list-rejected.csv"
    from django.core.files.storage import default_storage

    default_storage.save(report_name, report)
    import smsportal.urls

    settings.DEBUG = debug
    try:
        importlib.reload(smsportal.urls)
        clear_url_caches()
        assert not [p for p in all_patterns() if p.callback is serve]
        for client in (Client(), marketer_client):
            for name in (item.file.name, report_name):
                assert client.get(f"/media/{name}").status_code == 404
    finally:
        settings.DEBUG = False
        importlib.reload(smsportal.urls)
        clear_url_caches()


# --------------------------------------------------------------------------- template files


def test_a_template_file_needs_login_and_the_permission(template, outsider):
    item = stored(template, "photo.png", b"\x89PNG\r\n\x1a\n", "image/png")
    url = reverse("media:template_file", args=[item.pk])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert outsider.get(url).status_code == 403


@pytest.mark.parametrize(
    ("name", "data", "content_type", "served_as"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n", "image/png", "image/png"),
        # Stored before the admin checked uploads: an SVG is served as the type on record,
        # never sniffed, in a sandbox.
        ("evil.svg", SVG, "image/png", "image/png"),
        ("song.mp3", b"ID3", "audio/mp3", "audio/mpeg"),
        ("frame1.txt", b"hello", "text/plain", "text/plain; charset=utf-8"),
    ],
)
def test_a_template_file_is_served_with_our_type_never_sniffed_and_sandboxed(
    template, marketer_client, admin_client, name, data, content_type, served_as
):
    item = stored(template, name, data, content_type)
    for client in (marketer_client, admin_client):
        response = client.get(reverse("media:template_file", args=[item.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == served_as
        assert_safe_headers(response)
        assert b"".join(response.streaming_content) == data


def test_a_missing_template_file_is_a_404(template, marketer_client):
    item = stored(template, "photo.png", b"\x89PNG", "image/png")
    item.file.storage.delete(item.file.name)
    assert marketer_client.get(reverse("media:template_file", args=[item.pk])).status_code == 404


def test_the_admin_links_template_files_through_the_checked_view(template, admin_client):
    item = stored(template, "photo.png", b"\x89PNG\r\n\x1a\n", "image/png")
    page = admin_client.get(f"/admin/messaging/template/{template.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{reverse("media:template_file", args=[item.pk])}"' in html
    assert "/media/" not in html


# --------------------------------------------------------------------------- rejected rows


@pytest.fixture
def job_with_rejected_rows(db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    recipient_list = RecipientList.objects.create(name="会员")
    upload = SimpleUploadedFile(
        "会员名单.csv", "手机号,姓名\n13900000001,甲\nnot-a-phone,乙\n".encode()
    )
    job = service.run_import(service.inspect_upload(recipient_list, upload).pk)
    assert job.rejected_count == 1 and job.rejected_report
    return job


def test_the_rejected_rows_report_has_a_name_no_one_can_guess(job_with_rejected_rows):
    job = job_with_rejected_rows
    folder, name = job.rejected_report.name.rsplit("/", 1)
    assert name == f"{job.pk}-会员名单-rejected.csv"
    assert folder.startswith("imports/rejected/") and len(folder.rsplit("/", 1)[1]) >= 32


def test_the_rejected_rows_report_needs_login_and_the_import_permission(
    job_with_rejected_rows, outsider, django_user_model
):
    url = reverse("portal:import_rejected", args=[job_with_rejected_rows.pk])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert outsider.get(url).status_code == 403
    # One of the two import permissions is not enough.
    half = django_user_model.objects.create_user("half", password="pw-half-1")
    half.user_permissions.add(Permission.objects.get(codename="view_recipientlist"))
    client = Client()
    client.force_login(half)
    assert client.get(url).status_code == 403


def test_the_rejected_rows_report_is_a_download_no_browser_renders(
    job_with_rejected_rows, marketer_client
):
    job = job_with_rejected_rows
    response = marketer_client.get(reverse("portal:import_rejected", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "rejected.csv" in response["Content-Disposition"]
    assert_safe_headers(response)
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "not-a-phone" in body
    assert marketer_client.get(f"/media/{job.rejected_report.name}").status_code == 404


def test_no_import_job_file_is_linked_from_media(job_with_rejected_rows, admin_client):
    page = admin_client.get(f"/admin/messaging/importjob/{job_with_rejected_rows.pk}/change/")
    assert page.status_code == 200
    assert "/media/" not in page.content.decode()
    assert isinstance(job_with_rejected_rows, ImportJob)
