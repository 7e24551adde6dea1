from django.contrib.auth.models import AbstractUser
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """The portal's user.  Roles are groups (see ``accounts.roles``)."""

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_administrator(self) -> bool:
        from .roles import ADMINISTRATORS, has_role

        return self.is_superuser or has_role(self, ADMINISTRATORS)

    @property
    def is_marketer(self) -> bool:
        from .roles import MARKETERS, has_role

        return has_role(self, MARKETERS)
