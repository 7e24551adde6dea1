"""Access rules and small helpers shared by the portal's views."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.roles import ADMINISTRATORS, MARKETERS, has_role


def can_use_portal(user) -> bool:
    """Marketers and administrators use the portal."""
    return user.is_authenticated and (
        user.is_superuser or has_role(user, MARKETERS) or has_role(user, ADMINISTRATORS)
    )


def is_administrator(user) -> bool:
    return user.is_authenticated and (user.is_superuser or has_role(user, ADMINISTRATORS))


def portal_view(*permissions: str):
    """Login required (the portal's login page), a portal role, and every named model
    permission; otherwise 403."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("login"))
            if not can_use_portal(request.user) or not request.user.has_perms(permissions):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def optional_url(name: str, *args) -> str:
    """A URL of another part of the portal that may not be installed (yet): "" when missing."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def safe_next(request, default: str) -> str:
    """The ``next`` field of a POST when it points into this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target if not urlsplit(target).netloc else default
    return default
