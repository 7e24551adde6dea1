from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.models import RecipientList

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "spreadsheets"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def recipient_list(db):
    return RecipientList.objects.create(name="会员")


def fixture_upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (FIXTURES / name).read_bytes())


def text_upload(name: str, text: str, encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding))


@pytest.fixture
def marketer_client(marketer_client, settings):
    """In English (the default language is Chinese) so that tests can read the pages."""
    marketer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return marketer_client


@pytest.fixture
def admin_client(admin_client, settings):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client
