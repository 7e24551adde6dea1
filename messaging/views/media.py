"""Uploaded files, served only by views that check permissions.

Nothing under ``MEDIA_ROOT`` is served directly, in any mode: ``smsportal/urls.py`` has no
``static()`` for ``MEDIA_URL``, so ``/media/…`` is a 404 with DEBUG on or off, and a production
web server must not serve that folder either.  Template files (the admin's links) are served
here; the portal's frame previews and the rejected-rows reports by their own views, with the
same headers (``protected_file_response``): the Content-Type comes from our own table
(``media_types.MEDIA_TYPES``), never from the file or a browser's sniffing, and a sandbox CSP
keeps any script a file may hold from running on the portal's origin.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from ..media_types import MEDIA_TYPES, served_type
from ..models import TemplateFile

SANDBOX_CSP = "default-src 'none'; sandbox"
"""What the portal's frame view sends too: no script, no plugin, no request, a unique origin."""
UNKNOWN_TYPE = "application/octet-stream"


def protected_file_response(
    file: FieldFile, content_type: str, *, attachment: bool = False, filename: str = ""
) -> FileResponse:
    """A stored file as a response that no browser renders as anything but ``content_type``.
    The caller has checked the permissions.  404 when the file is gone."""
    if not file:
        raise Http404
    try:
        handle = file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        content_type=content_type,
        as_attachment=attachment,
        filename=filename or PurePosixPath(file.name).name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@permission_required("messaging.view_templatefile", raise_exception=True)
def template_file(request, file_pk: int):
    """A template's file (the admin's template page links here)."""
    item = get_object_or_404(TemplateFile, pk=file_pk)
    if item.content_type in MEDIA_TYPES:
        return protected_file_response(item.file, served_type(item.content_type))
    # Not a type of our table: nothing a browser should show.
    return protected_file_response(item.file, UNKNOWN_TYPE, attachment=True)


def template_file_url(item: TemplateFile) -> str:
    return reverse("media:template_file", args=[item.pk])


app_name = "media"
urlpatterns = [
    path("template-files/<int:file_pk>/", template_file, name="template_file"),
]
