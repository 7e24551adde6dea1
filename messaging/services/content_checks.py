"""Checks the marketer's pages run on a message before it is sent, and the cost estimate.

* ``check_content``: the local sensitive-word list (``SensitiveWord``, kept by administrators)
  and, for vendors that offer one (smsadmin's ``mgz``), the vendor's own check.
* ``price_per_segment`` / ``estimate_cost``: vendors publish no price through their APIs, so
  the estimate uses the account's ``price_per_part`` (yuan per billed part, set by the
  administrator; ``DEFAULT_PRICE_PER_SEGMENT`` for a new account).  It is an estimate only.
  A billed part is one part of an SMS, or one whole MMS / video / 5G message (see
  ``compose.billed_as_one_message``).
* ``frame_rules`` / ``check_frame_file``: which files an MMS / video / 5G template frame may hold
  for an account's vendor, and how large they may be, by the one table of the files' types
  (``media_types.MEDIA_TYPES``); ``media_duration`` reads a video's length for the
  composer's preview.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import BinaryIO

from django.utils.translation import gettext as _

from ..media_types import (  # noqa: F401 - the table's users import it from here too
    BROWSER_TYPES,
    MEDIA_TYPES,
    MediaType,
    extension_families,
    extensions_of,
    family,
    served_type,
)
from ..models import DEFAULT_PRICE_PER_PART, SensitiveWord, VendorAccount
from ..vendors.base import VendorError
from ..vendors.registry import vendor

log = logging.getLogger(__name__)

DEFAULT_PRICE_PER_SEGMENT = DEFAULT_PRICE_PER_PART
"""Yuan per billed part of a new account (``VendorAccount.price_per_part``)."""


# --------------------------------------------------------------------------- sensitive words


@dataclass
class ContentVerdict:
    local_words: list[str] = field(default_factory=list)
    vendor_checked: bool = False
    vendor_words: list[str] = field(default_factory=list)
    vendor_message: str = ""
    vendor_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.local_words and not self.vendor_words

    @property
    def words(self) -> list[str]:
        return list(dict.fromkeys([*self.local_words, *self.vendor_words]))

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "local_words": self.local_words,
            "vendor_checked": self.vendor_checked,
            "vendor_words": self.vendor_words,
            "vendor_message": self.vendor_message,
            "vendor_error": self.vendor_error,
        }


def local_sensitive_words(text: str) -> list[str]:
    """The words of the local list that ``text`` contains (case-insensitive), in list order."""
    folded = text.casefold()
    return [
        word
        for word in SensitiveWord.objects.values_list("word", flat=True)
        if word and word.casefold() in folded
    ]


def vendor_checks_content(account: VendorAccount | None) -> bool:
    return bool(account and vendor(account.vendor).capabilities.content_check)


def check_content(text: str, account: VendorAccount | None = None) -> ContentVerdict:
    """Check ``text`` (as it will be sent) against the local list and, when the account's
    vendor offers a check (smsadmin's mgz), against the vendor's.  A vendor that cannot be
    reached is reported in ``vendor_error``; it does not by itself block the send."""
    verdict = ContentVerdict(local_words=local_sensitive_words(text))
    if vendor_checks_content(account) and text:
        try:
            result = account.client().check_content(text)
        except VendorError as exc:
            verdict.vendor_error = str(exc)
        except Exception as exc:  # an adapter bug must not hide the local result
            log.exception("content check at %s failed", account)
            verdict.vendor_error = repr(exc)
        else:
            verdict.vendor_checked = True
            verdict.vendor_words = list(result.words)
            verdict.vendor_message = result.message
            if not result.ok and not result.words:
                # A refusal without words (e.g. a character the encoding cannot carry).
                verdict.vendor_words = [result.message or _("refused by the vendor")]
    return verdict


def check_message(text: str, body: str, account: VendorAccount | None) -> ContentVerdict:
    """The check of a message as it will be sent (``text``, at the account's vendor too), with
    the local list's words its template's ``body`` holds as written (a word split by a
    placeholder is still found): what the composer and the confirmation show."""
    verdict = check_content(text, account)
    body_words = check_content(body).local_words
    verdict.local_words = list(dict.fromkeys([*verdict.local_words, *body_words]))
    return verdict


# --------------------------------------------------------------------------- cost


def price_per_segment(account: VendorAccount) -> Decimal:
    """The account's price per billed part (``VendorAccount.price_per_part``)."""
    return Decimal(account.price_per_part)


def estimate_cost(segments: int, account: VendorAccount) -> Decimal:
    """Yuan, to the fen: billed parts × the account's price per part (an MMS / video / 5G
    message is one billed part, whatever its length)."""
    return (price_per_segment(account) * segments).quantize(Decimal("0.01"), ROUND_HALF_UP)


BALANCE_IN_MESSAGES = ("messages", "条")
"""Balance units that count billed parts (what every vendor here reports today)."""
BALANCE_IN_YUAN = ("yuan", "元", "CNY", "RMB")
"""Balance units that are money: compared with the estimated cost."""


def balance_covers(
    balance: Decimal | None, unit: str, segments: int, price_per_part: Decimal
) -> bool | None:
    """Whether a balance pays for ``segments`` billed parts: compared with the parts when the
    vendor counts messages, with their estimated cost when it counts yuan; None when the
    balance is unknown or in a unit we cannot compare."""
    if balance is None:
        return None
    if unit in BALANCE_IN_MESSAGES:
        return balance >= segments
    if unit in BALANCE_IN_YUAN:
        cost = (Decimal(price_per_part) * segments).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return balance >= cost
    return None


def balance_short_error() -> str:
    """Why a send whose balance falls short was not started (the confirmation box unticked)."""
    return _(
        "The vendor account's balance does not cover this send. Top it up first, or tick "
        "the box to confirm that you want to send anyway."
    )


# --------------------------------------------------------------------------- template files


@dataclass(frozen=True)
class FrameRules:
    supported: bool
    """The vendor sends MMS / video / 5G from uploaded templates."""
    content_types: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    max_file_bytes: int = 0
    max_total_bytes: int = 0

    def as_dict(self) -> dict:
        return {
            "supported": self.supported,
            "content_types": list(self.content_types),
            "extensions": list(self.extensions),
            "max_file_bytes": self.max_file_bytes,
            "max_total_bytes": self.max_total_bytes,
        }


def frame_rules(account: VendorAccount) -> FrameRules:
    capabilities = vendor(account.vendor).capabilities
    if not (capabilities.template_upload or capabilities.template_sends):
        return FrameRules(supported=False)
    types = tuple(MEDIA_TYPES)
    extensions = extensions_of(types)
    max_file = account.max_file_kb * 1024
    max_total = account.max_template_kb * 1024
    return FrameRules(True, types, extensions, max_file, max_total)


def content_type_for(filename: str, browser_type: str, rules: FrameRules) -> str | None:
    """The TemplateFile content type for an uploaded file, or None when the vendor does not
    take it.  The extension decides; the browser's type must not contradict it."""
    name = filename.lower()
    browser_type = BROWSER_TYPES.get(browser_type, browser_type)
    candidates = [
        t for t in rules.content_types if any(name.endswith(e) for e in MEDIA_TYPES[t].extensions)
    ]
    if not candidates:
        return None
    if browser_type in candidates:
        return browser_type
    given = family(browser_type) if browser_type else ""
    if given and given not in {family(c) for c in candidates} and given != "application":
        return None
    return candidates[0]


def check_frame_file(
    filename: str, browser_type: str, size: int, existing_bytes: int, rules: FrameRules
) -> tuple[str | None, str]:
    """(content type, "") for an acceptable file, else (None, why)."""
    if not rules.supported:
        return None, _("This vendor does not send MMS, video or 5G messages.")
    content_type = content_type_for(filename, browser_type, rules)
    if content_type is None:
        return None, _("%(name)s: this vendor accepts only %(types)s.") % {
            "name": filename,
            "types": ", ".join(rules.extensions),
        }
    if size > rules.max_file_bytes:
        return None, _("%(name)s is %(size)s KB; the limit is %(limit)s KB per file.") % {
            "name": filename,
            "size": -(-size // 1024),
            "limit": rules.max_file_bytes // 1024,
        }
    if existing_bytes + size > rules.max_total_bytes:
        return None, _("The template's files would exceed %(limit)s KB in all.") % {
            "limit": rules.max_total_bytes // 1024
        }
    return content_type, ""


# --------------------------------------------------------------------------- media facts


def media_duration(handle: BinaryIO, content_type: str) -> float | None:
    """A video's or sound's length in seconds, when it can be read cheaply: MP4 and 3GP keep it
    in their movie header ("mvhd").  None for the other types and for unreadable files."""
    if content_type not in ("video/mp4", "video/3gp"):
        return None
    try:
        return _movie_duration(handle)
    except (OSError, ValueError, IndexError, struct.error):
        return None


Box = tuple[bytes, int, int | None]
"""(type, where its content starts, where it ends: None for the end of the file)."""


def _boxes(handle: BinaryIO, start: int, end: int | None) -> Iterator[Box]:
    """The ISO media boxes (MP4, 3GP) in a range of a file."""
    position = start
    for _box in range(1000):
        if end is not None and position + 8 > end:
            return
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        content = position + 8
        if size == 1:
            size = struct.unpack(">Q", handle.read(8))[0]
            content += 8
        if size == 0:  # the box runs to the end
            yield kind, content, end
            return
        if size < content - position:
            return
        yield kind, content, position + size
        position += size


def _movie_duration(handle: BinaryIO) -> float | None:
    for kind, content, end in _boxes(handle, 0, None):
        if kind != b"moov":
            continue
        for inner, header, _end in _boxes(handle, content, end):
            if inner != b"mvhd":
                continue
            handle.seek(header)
            version = handle.read(4)[0]
            if version == 1:
                handle.seek(16, 1)  # creation and modification times
                timescale, duration = struct.unpack(">IQ", handle.read(12))
            else:
                handle.seek(8, 1)
                timescale, duration = struct.unpack(">II", handle.read(8))
            return duration / timescale if timescale else None
        return None
    return None
