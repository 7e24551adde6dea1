"""The admin's lists of replies and pushes, newest first, read by an index a page at a time.

On PostgreSQL the indexes are built ``CONCURRENTLY`` (writes go on while they build; the
migration is therefore not atomic); elsewhere (SQLite: development and the tests) as usual."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgreSQL(AddIndexConcurrently):
    """``AddIndexConcurrently`` on PostgreSQL, a plain ``AddIndex`` on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="inboundmessage",
            index=models.Index(fields=["received_at"], name="reply_time"),
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="pushrecord",
            index=models.Index(fields=["received_at"], name="push_time"),
        ),
    ]
