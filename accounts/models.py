from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
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


class AuditEvent(models.Model):
    """One action that changed what is sent or who can do what: who, when, from where, on
    what.  Written by ``accounts.audit.record`` only; never changed afterwards (``save``
    refuses an update, the admin shows it read-only), removed only by the retention purge
    after ``RETAIN_AUDIT_DAYS``."""

    class Action(models.TextChoices):
        LOGIN = "login", _("logged in")
        LOGIN_FAILED = "login_failed", _("login failed")
        LOGOUT = "logout", _("logged out")
        USER_ADDED = "user_added", _("user added")
        USER_CHANGED = "user_changed", _("user changed")
        USER_DELETED = "user_deleted", _("user deleted")
        ROLE_CHANGED = "role_changed", _("role changed")
        COMPOSED = "composed", _("campaign composed or changed")
        SUBMITTED = "submitted", _("submitted for approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        APPROVAL_VOIDED = "approval_voided", _("approval voided")
        SENT = "sent", _("send started")
        SCHEDULED = "scheduled", _("scheduled")
        PAUSED = "paused", _("paused")
        RESUMED = "resumed", _("resumed")
        CANCELLED = "cancelled", _("cancelled")
        TEST_SENT = "test_sent", _("test message sent")
        IMPORTED = "imported", _("recipients imported")
        EXPORTED = "exported", _("data exported")
        SUPPRESSION_ADDED = "suppression_added", _("suppression added")
        SUPPRESSION_REMOVED = "suppression_removed", _("suppression removed")
        COMPLIANCE_OVERRIDE = "compliance_override", _("compliance override")
        VENDOR_ACCOUNT_ADDED = "vendor_account_added", _("vendor account added")
        VENDOR_ACCOUNT_CHANGED = "vendor_account_changed", _("vendor account changed")
        VENDOR_ACCOUNT_DELETED = "vendor_account_deleted", _("vendor account deleted")
        TEMPLATE_CHANGED = "template_changed", _("template changed")
        SETTINGS_CHANGED = "settings_changed", _("settings changed")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    # Kept as written: the trail still says who when the user is renamed or deleted.
    actor_name = models.CharField(_("who (as then)"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    ip = models.GenericIPAddressField(_("from address"), null=True, blank=True)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")
        ordering = ("-at", "-id")
        indexes = [
            models.Index(fields=["action", "-at"], name="audit_action_at"),
            models.Index(fields=["actor", "-at"], name="audit_actor_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Audit events are never changed.")
        super().save(*args, **kwargs)
