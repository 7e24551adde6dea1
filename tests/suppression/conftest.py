import pytest

from tests.portal.conftest import sync_tasks  # noqa: F401 - tasks run in the caller


@pytest.fixture
def marketer_client(marketer_client):
    """In English, so that the tests read the messages the page shows."""
    marketer_client.cookies["django_language"] = "en"
    return marketer_client


@pytest.fixture
def admin_client(admin_client):
    admin_client.cookies["django_language"] = "en"
    return admin_client
