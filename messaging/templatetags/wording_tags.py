"""``{% load wording_tags %}``: ``{{ campaign.status_reason|in_ui_language }}`` shows a text the
portal stored in both languages in the reader's (``services.wording``)."""

from __future__ import annotations

from django import template

from ..services import wording

register = template.Library()


@register.filter
def in_ui_language(stored) -> str:
    return wording.shown(str(stored or ""))
