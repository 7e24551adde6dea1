"""The one table of the files an MMS / video / 5G template frame may hold.

Every other list is derived from ``MEDIA_TYPES``: the model's choices
(``TemplateFile.CONTENT_TYPES``), the extensions a vendor accepts
(``content_checks.frame_rules``), what browsers call the types when they upload a file
(``BROWSER_TYPES``), what the portal serves a file as (``served_type``) and the families the
composer's script checks a file against before it is uploaded (``extension_families``).

The types are the ashx5g document's table 5.3.  This module has no ORM access, so the
models may import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaType:
    """One content type a template file may have."""

    extensions: tuple[str, ...]
    served_as: str = ""
    """The Content-Type the portal serves the file with (what browsers understand); the
    type itself when empty."""
    aliases: tuple[str, ...] = ()
    """What browsers call this type when they upload such a file."""


MEDIA_TYPES: dict[str, MediaType] = {
    "text/plain": MediaType((".txt",), "text/plain; charset=utf-8"),
    "application/zip": MediaType((".zip",), aliases=("application/x-zip-compressed",)),
    "image/jpeg": MediaType((".jpeg", ".jpg")),
    "image/jpg": MediaType((".jpg", ".jpeg"), "image/jpeg"),
    "image/gif": MediaType((".gif",)),
    "image/bmp": MediaType((".bmp",), aliases=("image/x-ms-bmp",)),
    "image/png": MediaType((".png",)),
    "video/mp4": MediaType((".mp4",)),
    "video/3gp": MediaType((".3gp",), "video/3gpp", aliases=("video/3gpp",)),
    "audio/wmv": MediaType(
        (".wmv",), "audio/x-ms-wmv", aliases=("audio/x-ms-wmv", "video/x-ms-wmv")
    ),
    "audio/mp3": MediaType((".mp3",), "audio/mpeg", aliases=("audio/mpeg",)),
    "audio/aac": MediaType((".aac",), aliases=("audio/x-aac",)),
}

CONTENT_TYPE_CHOICES: list[tuple[str, str]] = [
    (code, f"{code} ({media.extensions[0]})") for code, media in MEDIA_TYPES.items()
]
"""The model field's choices: "image/png (.png)"."""

BROWSER_TYPES: dict[str, str] = {
    alias: code for code, media in MEDIA_TYPES.items() for alias in media.aliases
}
"""Browsers' names of the types → ours."""

TEXT = "text/plain"
"""A text frame's type: its text is the message (``templates.frame_texts``)."""


def family(content_type: str) -> str:
    """A type's family: "text", "image", "video", "audio" or "application"."""
    return content_type.split("/", 1)[0]


def served_type(content_type: str) -> str:
    """The Content-Type to serve a template file of ``content_type`` with."""
    media = MEDIA_TYPES.get(content_type)
    return (media.served_as if media else "") or content_type


def extensions_of(content_types: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The extensions of these types, each once, in the table's order."""
    return tuple(
        dict.fromkeys(
            e for t in content_types if t in MEDIA_TYPES for e in MEDIA_TYPES[t].extensions
        )
    )


def extension_families() -> dict[str, list[str]]:
    """Per extension, the type families a browser may report for such a file (for the
    composer's script, which checks a file before it is uploaded)."""
    families: dict[str, list[str]] = {}
    for code, media in MEDIA_TYPES.items():
        for extension in media.extensions:
            known = families.setdefault(extension, [])
            for name in (code, *media.aliases):
                if family(name) not in known:
                    known.append(family(name))
    return families
