"""Recipient lists made on the portal (their recipients come by ``messaging.importing``)."""

from __future__ import annotations

from ..models import RecipientList


def create_recipient_list(*, name: str, description: str = "", created_by=None) -> RecipientList:
    """A new, empty list."""
    return RecipientList.objects.create(name=name, description=description, created_by=created_by)
