from django.db import migrations, models

# What paused a campaign paused before the cause was kept, read from its reason as the pages
# read it until then (``campaign_commands``: "Paused: <the vendor's words>" for the vendor,
# in either language; ``resume_at`` for the send window; any other reason a person's).
VENDOR_PREFIXES = ("Paused: ", "已暂停：")


def causes_of_paused(apps, schema_editor):
    Campaign = apps.get_model("messaging", "Campaign")
    for campaign in Campaign.objects.filter(status="paused").only("resume_at", "status_reason"):
        lines = campaign.status_reason.splitlines()
        if campaign.resume_at is not None:
            cause = "window"
        elif any(line.startswith(VENDOR_PREFIXES) for line in lines):
            cause = "vendor"
        else:
            cause = "person"
        Campaign.objects.filter(pk=campaign.pk).update(pause_cause=cause)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0015_send_count"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="pause_cause",
            field=models.CharField(
                blank=True,
                choices=[
                    ("person", "a person"),
                    ("vendor", "the vendor, refusing the account"),
                    ("window", "the send window"),
                ],
                editable=False,
                max_length=10,
                verbose_name="paused by",
            ),
        ),
        migrations.RunPython(causes_of_paused, migrations.RunPython.noop),
    ]
