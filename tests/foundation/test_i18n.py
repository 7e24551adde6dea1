import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_chinese_by_default_and_a_language_switch(admin_client):
    page = admin_client.get(reverse("admin:index"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'lang="zh-hans"' in html
    assert "短信营销平台" in html  # our own strings are translated too
    assert 'name="language"' in html
    response = admin_client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    assert response.status_code == 302
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert 'lang="en"' in html
    assert "SMS campaign portal" in html
