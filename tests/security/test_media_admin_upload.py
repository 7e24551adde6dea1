"""The admin's template-file inline applies the portal's frame-upload checks.

It used to take any file (SVG, HTML, 50 MB) that the composer refuses; an SVG uploaded there
ran script in an administrator's browser.  Both roles reach that inline (marketers manage
templates in the admin too)."""

from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.models import (
    DEFAULT_MAX_FILE_KB,
    Template,
    TemplateFile,
    TemplateRegistration,
    VendorAccount,
)

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def template(administrator):
    return Template.objects.create(
        name="mms", kind=Template.Kind.MMS, body="周末大促", created_by=administrator
    )


class FormFields(HTMLParser):
    """The values a browser would send for the admin's change form (no files, no buttons)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name") or ""
        if "__prefix__" in name:
            return
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("file", "submit", "button", "image"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields[name] = attrs.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data.removeprefix("\n")


def add_file(client, template, upload, content_type):
    """Add ``upload`` as a new row of the template-file inline, as the admin's form does."""
    url = f"/admin/messaging/template/{template.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    parser = FormFields()
    parser.feed(page.content.decode())
    data = parser.fields
    index = int(data["files-TOTAL_FORMS"])
    data["files-TOTAL_FORMS"] = str(index + 1)
    data.update(
        {
            f"files-{index}-template": str(template.pk),
            f"files-{index}-frame": "1",
            f"files-{index}-order": str(index + 1),
            f"files-{index}-content_type": content_type,
            f"files-{index}-file": upload,
        }
    )
    return client.post(url, data)


def refused(response, media_root) -> dict:
    """The inline's errors: the form comes again with them, nothing stored."""
    assert response.status_code == 200  # the form again, with the error
    assert not TemplateFile.objects.exists()
    assert not list(media_root.rglob("*.*"))
    (files,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "files"
    ]
    (errors,) = [form.errors for form in files.forms if form.errors]
    return errors


@pytest.mark.parametrize("role_client", ["admin_client", "marketer_client"])
@pytest.mark.parametrize(
    ("name", "data", "browser_type", "chosen"),
    [
        ("evil.svg", SVG, "image/svg+xml", "image/png"),
        ("evil.svg", SVG, "image/png", "image/png"),
        ("page.html", HTML, "text/html", "text/plain"),
        ("page.htm", HTML, "text/plain", "text/plain"),
        ("evil.xhtml", HTML, "application/xhtml+xml", "text/plain"),
    ],
)
def test_script_bearing_files_are_refused(
    request, role_client, template, media_root, name, data, browser_type, chosen
):
    client = request.getfixturevalue(role_client)
    upload = SimpleUploadedFile(name, data, content_type=browser_type)
    errors = refused(add_file(client, template, upload, chosen), media_root)
    assert list(errors) == ["file"]
    assert name in errors["file"][0] and ".png" in errors["file"][0]  # what it accepts


def test_a_file_over_the_size_limit_is_refused(admin_client, template, media_root):
    big = PNG + b"\0" * (DEFAULT_MAX_FILE_KB * 1024)
    upload = SimpleUploadedFile("big.png", big, content_type="image/png")
    errors = refused(add_file(admin_client, template, upload, "image/png"), media_root)
    assert list(errors) == ["file"] and f"{DEFAULT_MAX_FILE_KB} KB" in errors["file"][0]


def test_the_limits_of_the_accounts_it_is_registered_for_apply(admin_client, template, media_root):
    account = VendorAccount.objects.create(
        vendor="ashx5g",
        name="small files",
        base_url="http://127.0.0.1:9/ashx5g",
        account_id="960001",
        secret="x",
        max_file_kb=1,
    )
    TemplateRegistration.objects.create(template=template, vendor_account=account)
    upload = SimpleUploadedFile("photo.png", PNG + b"\0" * 2048, content_type="image/png")
    errors = refused(add_file(admin_client, template, upload, "image/png"), media_root)
    assert list(errors) == ["file"] and "1 KB" in errors["file"][0]


def test_the_content_type_must_be_the_one_the_extension_names(admin_client, template, media_root):
    upload = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    errors = refused(add_file(admin_client, template, upload, "video/mp4"), media_root)
    assert list(errors) == ["content_type"] and "photo.png" in errors["content_type"][0]


def test_a_proper_file_is_taken_and_linked_through_the_checked_view(
    admin_client, template, media_root
):
    upload = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    response = add_file(admin_client, template, upload, "image/png")
    assert response.status_code == 302, response.context["errors"]
    item = TemplateFile.objects.get()
    assert item.content_type == "image/png" and item.file.read() == PNG
    page = admin_client.get(f"/admin/messaging/template/{template.pk}/change/").content.decode()
    assert f"/files/template-files/{item.pk}/" in page and "/media/" not in page
    # The next file counts the first one towards the template's total, and saving the page
    # again with nothing new re-checks nothing.
    upload = SimpleUploadedFile("song.mp3", b"ID3" + b"\0" * 64, content_type="audio/mpeg")
    assert add_file(admin_client, template, upload, "audio/mp3").status_code == 302
    assert TemplateFile.objects.count() == 2
