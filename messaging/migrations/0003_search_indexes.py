"""The admin's lists read by an index a page at a time: replies and pushes newest first, a
campaign's messages newest first (an index of (campaign, id) that also serves every lookup by
campaign, so it takes the place of the foreign key's own index, dropped once it is built).

On PostgreSQL the indexes are built ``CONCURRENTLY`` (writes go on while they build; the
migration is therefore not atomic); elsewhere (SQLite: development and the tests) as usual."""

import django.db.models.deletion
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
        ("messaging", "0002_retention_archive"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="message",
            index=models.Index(fields=["campaign", "id"], name="message_campaign_newest"),
        ),
        migrations.AlterField(
            model_name="message",
            name="campaign",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                help_text="Empty for test sends.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to="messaging.campaign",
                verbose_name="campaign",
            ),
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="inboundmessage",
            index=models.Index(fields=["received_at"], name="reply_time"),
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="pushrecord",
            index=models.Index(fields=["received_at"], name="push_time"),
        ),
    ]
