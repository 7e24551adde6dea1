from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and roles")

    def ready(self):
        post_migrate.connect(sync_roles_after_migrate, sender=self)


def sync_roles_after_migrate(sender, apps, **kwargs):
    """Keep the role groups in step with ``ROLE_PERMISSIONS`` after every migrate, so a model
    added later gets its permissions without a hand-written data migration."""
    from django.contrib.auth.management import create_permissions

    from .roles import sync_roles

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))
