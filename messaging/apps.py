from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messaging")

    def ready(self):
        post_migrate.connect(create_periodic_tasks, sender=self)
        from .services.drafts import discard_with_campaign

        post_delete.connect(
            discard_with_campaign, sender="messaging.Campaign", dispatch_uid="campaign-drafts"
        )


def create_periodic_tasks(sender, **kwargs):
    from .services.schedules import ensure_schedules

    ensure_schedules()
