"""django-axes under a name administrators understand, in both languages."""

from axes.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoginLockoutsConfig(AppConfig):
    verbose_name = _("Login lockouts")
