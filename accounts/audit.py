"""The audit trail: who did what, when, from which address, to which object.

Every action that changes what is sent or who can do what calls ``record`` — the campaign
commands, the compliance overrides, imports and exports, the suppression list, vendor
accounts, users and roles, logins.  The caller names the action and the object; who and from
where come from the request being served (``AuditMiddleware`` keeps them for the request's
duration), so a service called from a view, the admin or a test client records the person
without every signature carrying a request.  A task runs for nobody: its events say
"system" unless the caller passes the actor it acts for.

Rows are never changed (``AuditEvent.save``) and go only by the retention purge.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .models import AuditEvent

log = logging.getLogger(__name__)

Action = AuditEvent.Action

SYSTEM = "system"


@dataclass(frozen=True)
class Who:
    user: object | None
    ip: str | None


_current: contextvars.ContextVar[Who | None] = contextvars.ContextVar("audit_who", default=None)


def client_ip(request) -> str | None:
    """The address the request came from.  Behind our nginx (deploy/nginx.conf) REMOTE_ADDR
    is the proxy's; it sets X-Real-IP to the client's, which only a trusted proxy can, so
    it is read only when the request came from a loopback proxy."""
    remote = request.META.get("REMOTE_ADDR") or None
    real = request.META.get("HTTP_X_REAL_IP", "").strip()
    if real and remote in ("127.0.0.1", "::1"):
        return real
    return remote


class AuditMiddleware:
    """Keeps the request's user and address for ``record`` (after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(Who(getattr(request, "user", None), client_ip(request)))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)


def _object_fields(obj) -> dict:
    if obj is None:
        return {}
    return {
        "object_type": obj._meta.label_lower,
        "object_id": str(obj.pk or ""),
        "object_repr": str(obj)[:200],
    }


def record(
    action: str,
    obj=None,
    *,
    actor=None,
    ip: str | None = None,
    details: Mapping | None = None,
) -> AuditEvent:
    """Write one event.  ``obj`` is the model instance acted on (or None); ``details`` what
    a reader needs to understand the action (counts, fields changed — never a secret's
    value)."""
    who = _current.get()
    if actor is None and who is not None:
        actor = who.user
    if ip is None and who is not None:
        ip = who.ip
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else SYSTEM,
        ip=ip,
        details=dict(details or {}),
        **_object_fields(obj),
    )


def changed_fields(form) -> list[str]:
    """The labels of the fields a model form changed, for ``details``: names only, so a
    secret field says that it changed, never to what.  A write-only field left blank (kept
    as it was) is not a change."""
    return [
        str(form.fields[name].label or name) for name in form.changed_data if name in form.fields
    ]


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    record(Action.LOGIN, user, actor=user, ip=client_ip(request) if request else None)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(Action.LOGOUT, user, actor=user, ip=client_ip(request) if request else None)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # The username tried, never the password (Django already masks it; we keep only this).
    username = str(credentials.get("username", ""))[:150]
    record(
        Action.LOGIN_FAILED,
        ip=client_ip(request) if request is not None else None,
        details={"username": username},
    )
