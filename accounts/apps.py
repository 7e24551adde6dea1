from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and roles")

    def ready(self):
        from . import audit  # noqa: F401  (connects the login signals)

        post_migrate.connect(sync_roles_after_migrate, sender=self)


def sync_roles_after_migrate(sender, apps=None, **kwargs):
    """Keep the role groups in step with ``ROLE_PERMISSIONS`` after every migrate, so a model
    added later gets its permissions without a hand-written data migration."""
    from django.contrib.auth.management import create_permissions

    from .roles import sync_roles

    if apps is None:
        # A flush (as between transactional tests) sends no migration state; apps later in
        # INSTALLED_APPS may not have their permissions back yet.
        from django.apps import apps as registry
        from django.contrib.auth.models import Group, Permission

        for app_config in registry.get_app_configs():
            create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
        sync_roles(Group, Permission)
        return
    for app_config in apps.get_app_configs():
        # Historical app configs have no models module; create_permissions skips those.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))
