# Price per part and template file limits move from VendorAccount.options into fields.

import django.core.validators
from decimal import Decimal, InvalidOperation, ROUND_CEILING
from django.db import migrations, models

# option key in VendorAccount.options -> field
MOVED = {
    "price_per_segment": "price_per_part",
    "max_file_kb": "max_file_kb",
    "max_template_kb": "max_template_kb",
}


def _number(value):
    """The option's value as a finite non-negative Decimal, or None (the old readers then
    used the default, as the field's default does now)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


def options_to_fields(apps, schema_editor):
    VendorAccount = apps.get_model("messaging", "VendorAccount")
    for account in VendorAccount.objects.all():
        options = dict(account.options) if isinstance(account.options, dict) else {}
        if not any(key in options for key in MOVED):
            continue
        for key, field in MOVED.items():
            if key not in options:
                continue
            number = _number(options.pop(key))
            if number is None:
                continue
            if field == "price_per_part":
                if number < Decimal("1000000"):
                    account.price_per_part = number.quantize(Decimal("0.0001"))
            else:
                # Whole KB now: a fraction rounds up, and the least is 1 KB.
                setattr(account, field, max(1, int(number.to_integral_value(ROUND_CEILING))))
        account.options = options
        account.save(update_fields=["options", *MOVED.values()])


def fields_to_options(apps, schema_editor):
    VendorAccount = apps.get_model("messaging", "VendorAccount")
    for account in VendorAccount.objects.all():
        options = dict(account.options) if isinstance(account.options, dict) else {}
        for key, field in MOVED.items():
            options[key] = str(getattr(account, field))
        account.options = options
        account.save(update_fields=["options"])


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0008_outcomes_leases_and_parts'),
    ]

    operations = [
        migrations.AddField(
            model_name='vendoraccount',
            name='max_file_kb',
            field=models.PositiveIntegerField(default=2048, help_text='The largest file of an MMS, video or 5G template the vendor takes.', validators=[django.core.validators.MinValueValidator(1)], verbose_name='largest template file (KB)'),
        ),
        migrations.AddField(
            model_name='vendoraccount',
            name='max_template_kb',
            field=models.PositiveIntegerField(default=5120, help_text="The largest total of one template's files the vendor takes.", validators=[django.core.validators.MinValueValidator(1)], verbose_name='largest template (KB)'),
        ),
        migrations.AddField(
            model_name='vendoraccount',
            name='price_per_part',
            field=models.DecimalField(decimal_places=4, default=Decimal('0.05'), help_text='What the vendor charges per billed part (an MMS, video or 5G message is one part). Vendors publish no price through their APIs: the cost shown before a send is an estimate from this price.', max_digits=10, validators=[django.core.validators.MinValueValidator(Decimal('0'))], verbose_name='price per part (yuan)'),
        ),
        migrations.RunPython(options_to_fields, fields_to_options),
    ]
