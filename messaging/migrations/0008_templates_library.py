"""Saved templates get a category, a "made from" link and when they were last used.

Existing data: before campaigns kept their own messages (``Template.is_draft``), the composer
saved every campaign's message as a library template named after the campaign.  Such a
template is marked as that campaign's own message when it is used by exactly one campaign,
carries that campaign's name, and was never registered at a vendor.  Left in the library:
templates used by several campaigns (shared, so nobody's own), templates no campaign uses
(saved on purpose: nothing to attach them to), and any template with a vendor registration
(its approval is what MMS / 5G campaigns are sent with, and marketers pick it from the
library).  Either way every campaign keeps the template it had: only the flag changes.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Max


def mark_campaigns_own_messages(apps, schema_editor):
    Template = apps.get_model("messaging", "Template")
    Campaign = apps.get_model("messaging", "Campaign")
    candidates = (
        Template.objects.filter(is_draft=False, registrations__isnull=True)
        .annotate(n=Count("campaigns"))
        .filter(n=1)
        .values_list("pk", "name")
    )
    own = []
    for pk, name in candidates.iterator():
        campaign_name = (
            Campaign.objects.filter(template_id=pk).values_list("name", flat=True).first() or ""
        )
        if name == campaign_name[:100]:
            own.append(pk)
    for start in range(0, len(own), 1000):
        Template.objects.filter(pk__in=own[start : start + 1000]).update(is_draft=True)
    # The library's "last used": its latest campaign.
    used = (
        Template.objects.filter(is_draft=False)
        .annotate(last=Max("campaigns__created_at"))
        .filter(last__isnull=False)
        .values_list("pk", "last")
    )
    for pk, last in used.iterator():
        Template.objects.filter(pk=pk).update(last_used_at=last)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0007_suppress_history_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="template",
            name="category",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="Groups saved templates in the portal's template list, e.g. Members or Promotions.",
                max_length=50,
                verbose_name="category",
            ),
        ),
        migrations.AddField(
            model_name="template",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last used"),
        ),
        migrations.AddField(
            model_name="template",
            name="source",
            field=models.ForeignKey(
                blank=True,
                help_text="The saved template a campaign's own message was copied from.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="copies",
                to="messaging.template",
                verbose_name="made from",
            ),
        ),
        migrations.RunPython(mark_campaigns_own_messages, migrations.RunPython.noop),
    ]
