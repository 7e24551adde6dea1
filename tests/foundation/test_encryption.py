import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from messaging.models import VendorAccount
from tests.conftest import SECRET


def stored_secret(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM messaging_vendoraccount WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_secret_is_encrypted_at_rest(vendor_account):
    raw = stored_secret(vendor_account.pk)
    assert raw.startswith("fernet:")
    assert SECRET not in raw
    assert VendorAccount.objects.get(pk=vendor_account.pk).secret == SECRET


def test_database_dump_shows_no_plaintext(vendor_account, tmp_path):
    out = tmp_path / "dump.sql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM messaging_vendoraccount")
        out.write_text(repr(cursor.fetchall()))
    assert SECRET not in out.read_text()


@pytest.mark.django_db
def test_key_rotation(settings, vendor_account):
    old_token = stored_secret(vendor_account.pk)
    new_key = Fernet.generate_key().decode()
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]
    call_command("rotate_secrets", stdout=io.StringIO())
    rotated = stored_secret(vendor_account.pk)
    assert rotated != old_token
    # The old key can go: the new key alone decrypts.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert VendorAccount.objects.get(pk=vendor_account.pk).secret == SECRET
