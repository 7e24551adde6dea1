"""Template helpers for the portal's pages (``{% load portal_tags %}``)."""

from __future__ import annotations

from django import template

from accounts import roles

from ..services import inbox

register = template.Library()


@register.filter
def can(user, capability: str) -> bool:
    """``{% if user|can:"approve" %}``: the same answer as the views' (``accounts.roles.can``),
    so a page shows no button its user would be refused."""
    return roles.can(user, capability)


@register.simple_tag(takes_context=True)
def unread_replies(context) -> int:
    """Unread replies, for the navigation's badge (0 for users who may not read replies)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    cache = getattr(request, "_portal_unread", None)
    if cache is None:
        cache = inbox.unread_count(user)
        request._portal_unread = cache
    return cache


@register.simple_tag(takes_context=True)
def nav_class(context, *names: str) -> str:
    """ "active" when the current page's URL name is one of ``names`` (``portal:dashboard``);
    a name ending in ``*`` matches every name it begins (``portal:import_*``)."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    current = f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name
    for name in names:
        if current == name or (name.endswith("*") and current.startswith(name[:-1])):
            return "active"
    return ""


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.953 → "95.3%", 1.0 → "100%"; None → "—"."""
    if value is None or value == "":
        return "—"
    text = f"{float(value) * 100:.{int(digits)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


@register.filter
def pct_width(value) -> str:
    """0..1 → a CSS width such as "42.0%"."""
    try:
        return f"{max(0.0, min(1.0, float(value))) * 100:.1f}%"
    except (TypeError, ValueError):
        return "0%"
