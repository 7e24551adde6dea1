"""The files of an MMS / video / 5G template's frames: adding, removing and showing them.

A frame holds uploaded files or a text typed in the composer (stored as a UTF-8 ``.txt``
file).  Only a campaign's own message (``drafts``) has its frames changed here; a template
submitted to a vendor keeps its frames (``frames_fixed``).  After every change the template's
body follows its text frames (``templates.keep_body_with_frames``): a send passes the values
in the order the vendor numbers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from ..media_types import TEXT, family
from ..models import Template, TemplateFile, VendorAccount
from .compose import render
from .content_checks import check_frame_file, frame_rules, media_duration
from .templates import frame_texts, keep_body_with_frames

MAX_FRAME = 50
"""The highest frame number the composer offers."""


class FrameError(Exception):
    """A frame's file was refused; the message is for the marketer."""


class FramesFixed(FrameError):
    """The template was submitted to a vendor: its frames may not change."""

    def __init__(self):
        super().__init__(_("This template was submitted to a vendor; its frames are fixed."))


def frames_fixed(template: Template) -> bool:
    """Submitted to a vendor: its frames (and so its body's placeholders) may not change."""
    return template.registrations.exclude(review_status="draft").exists()


def has_text_frames(template: Template | None) -> bool:
    return bool(
        template is not None
        and template.pk
        and template.needs_vendor_approval
        and template.files.filter(content_type=TEXT).exists()
    )


def stored(item: TemplateFile) -> bool:
    """The file is in the storage (a file of a removed upload may be gone)."""
    try:
        return item.file.storage.exists(item.file.name)
    except Exception:
        return False


def frames_bytes(template: Template | None) -> int:
    """The size of a template's stored files, in all."""
    if template is None or template.pk is None:
        return 0
    return sum(f.file.size for f in template.files.all() if f.file and stored(f))


def grouped_frames(template: Template | None) -> list[dict]:
    """The template's files frame by frame: ``[{"number": 1, "files": [...]}, ...]``."""
    if template is None or template.pk is None:
        return []
    frames: dict[int, list[TemplateFile]] = {}
    for item in template.files.all():
        frames.setdefault(item.frame, []).append(item)
    return [{"number": n, "files": files} for n, files in sorted(frames.items())]


def frame_number(value) -> int:
    """A frame number as typed: 1 to ``MAX_FRAME``, 1 when not a number."""
    try:
        return max(1, min(int(value or 1), MAX_FRAME))
    except (TypeError, ValueError):
        return 1


def text_upload(text: str, frame: int) -> ContentFile:
    """A text typed for a frame, as the file it is stored as."""
    upload = ContentFile(text.encode("utf-8"), name=f"frame{frame}.txt")
    upload.content_type = TEXT
    return upload


def check_file(template: Template, account: VendorAccount, upload) -> str:
    """The content type ``upload`` is stored with in ``template``'s frames, when its frames
    may change and the account's vendor takes such a file of that size; else ``FrameError``."""
    if frames_fixed(template):
        raise FramesFixed
    content_type, error = check_frame_file(
        upload.name,
        getattr(upload, "content_type", "") or "",
        upload.size,
        frames_bytes(template),
        frame_rules(account),
    )
    if error:
        raise FrameError(error)
    return content_type


def add_file(template: Template, account: VendorAccount, frame: int, upload) -> TemplateFile:
    """Add ``upload`` (an uploaded file, or ``text_upload``) at the end of ``frame``
    (``check_file`` first)."""
    content_type = check_file(template, account, upload)
    last = template.files.filter(frame=frame).order_by("-order").values_list("order", flat=True)[:1]
    with transaction.atomic():
        item = TemplateFile.objects.create(
            template=template,
            frame=frame,
            order=(last[0] + 1) if last else 1,
            content_type=content_type,
            file=upload,
        )
        keep_body_with_frames(template)
    return item


def remove_file(template: Template, item: TemplateFile) -> bool:
    """Remove a file of ``template``'s frames (its stored file too); False when the frames are
    fixed."""
    if frames_fixed(template):
        return False
    item.file.delete(save=False)
    with transaction.atomic():
        item.delete()
        keep_body_with_frames(template)
    return True


def copy_files(source: Template, target: Template) -> dict[int, TemplateFile]:
    """Copy ``source``'s files into ``target`` (each stored anew, so that removing one from
    either template leaves the other's); returns the copies by the originals' ids."""
    copies = {}
    for item in source.files.order_by("frame", "order"):
        copy = TemplateFile(
            template=target, frame=item.frame, order=item.order, content_type=item.content_type
        )
        if stored(item):
            with item.file.open("rb") as handle:
                copy.file.save(
                    item.file.name.rsplit("/", 1)[-1], ContentFile(handle.read()), save=False
                )
        else:
            copy.file.name = item.file.name
        copy.save()
        copies[item.pk] = copy
    return copies


def handset_frames(
    files: Iterable[TemplateFile],
    values: Mapping,
    file_url: Callable[[TemplateFile], str] | None = None,
) -> list[dict]:
    """Frame by frame (numbered 1, 2, 3… as the vendor counts them), each file as the handset
    shows it: a text filled with ``values`` (a placeholder without a value stays as it is and
    is listed in ``missing``), an image (``url``: its thumbnail, when ``file_url`` is given),
    a video or sound with its size and, when it can be read, its length."""
    frames: dict[int, list[dict]] = {}
    for item in files:
        content_type = item.content_type
        entry = {
            "pk": item.pk,
            "kind": family(content_type),
            "content_type": content_type,
            "name": item.file.name.rsplit("/", 1)[-1],
            "size": None,
            "duration": "",
            "url": "",
            "text": "",
            "missing": [],
        }
        frames.setdefault(item.frame, []).append(entry)
        if not stored(item):
            continue
        entry["size"] = item.file.size
        if content_type == TEXT:
            texts = frame_texts([item])
            if texts:
                entry["text"], entry["missing"] = render(texts[0], values)
            else:
                entry["kind"] = "unreadable"
        elif entry["kind"] == "image":
            entry["url"] = file_url(item) if file_url else ""
        elif entry["kind"] in ("video", "audio"):
            try:
                with item.file.open("rb") as handle:
                    seconds = media_duration(handle, content_type)
            except OSError:
                seconds = None
            if seconds is not None:
                whole = round(seconds)
                entry["duration"] = f"{whole // 60}:{whole % 60:02d}"
    return [
        {"number": number, "items": items}
        for number, (_frame, items) in enumerate(sorted(frames.items()), 1)
    ]
