"""Re-apply the roles table to existing databases: Administrators no longer add, change or
delete django-q schedules nor delete queued tasks (a schedule runs any dotted function)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def apply_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    from accounts.roles import sync_roles

    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_roles_login_lockouts")]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
