"""Checks the marketer's pages run on a message before it is sent, and the cost estimate.

* ``check_content``: the local sensitive-word list (``SensitiveWord``, kept by administrators)
  and, for vendors that offer one (smsadmin's ``mgz``), the vendor's own check.
* ``price_per_segment`` / ``estimate_cost``: vendors publish no price through their APIs, so
  the estimate uses the account option ``price_per_segment`` (yuan per billed part), or
  ``DEFAULT_PRICE_PER_SEGMENT`` when the administrator set none.  It is an estimate only.
* ``frame_rules`` / ``check_frame_file``: which files an MMS / video / 5G template frame may hold
  for an account's vendor, and how large they may be.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _

from ..models import SensitiveWord, TemplateFile, VendorAccount
from ..vendors.base import VendorError
from ..vendors.registry import vendor

log = logging.getLogger(__name__)

DEFAULT_PRICE_PER_SEGMENT = Decimal("0.05")
"""Yuan per billed part when the account has no ``price_per_segment`` option (a typical
Chinese marketing SMS price; set the real one on the account)."""

DEFAULT_MAX_FILE_KB = 2048
"""Largest template file when the account has no ``max_file_kb`` option.  The vendors'
documents name no limit; carriers commonly refuse MMS parts above about 2 MB."""
DEFAULT_MAX_TEMPLATE_KB = 5120
"""Largest total of a template's files when the account has no ``max_template_kb`` option."""

# The content types of TemplateFile (the ashx5g document's table 5.3), by family.
FILE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "text/plain": (".txt",),
    "application/zip": (".zip",),
    "image/jpeg": (".jpeg", ".jpg"),
    "image/jpg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/bmp": (".bmp",),
    "image/png": (".png",),
    "video/mp4": (".mp4",),
    "video/3gp": (".3gp",),
    "audio/wmv": (".wmv",),
    "audio/mp3": (".mp3",),
    "audio/aac": (".aac",),
}
# What browsers call some of those types.
BROWSER_TYPES: dict[str, str] = {
    "audio/mpeg": "audio/mp3",
    "audio/x-ms-wmv": "audio/wmv",
    "video/x-ms-wmv": "audio/wmv",
    "video/3gpp": "video/3gp",
    "audio/x-aac": "audio/aac",
    "audio/aac": "audio/aac",
    "application/x-zip-compressed": "application/zip",
    "image/x-ms-bmp": "image/bmp",
}


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


# --------------------------------------------------------------------------- cost


def _decimal(value, default: Decimal) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return default
    return number if number.is_finite() and number >= 0 else default


def price_per_segment(account: VendorAccount) -> Decimal:
    return _decimal((account.options or {}).get("price_per_segment"), DEFAULT_PRICE_PER_SEGMENT)


def estimate_cost(segments: int, account: VendorAccount) -> Decimal:
    """Yuan, to the fen: billed parts × the account's price per part."""
    return (price_per_segment(account) * segments).quantize(Decimal("0.01"), ROUND_HALF_UP)


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
    options = account.options or {}
    types = tuple(code for code, _label in TemplateFile.CONTENT_TYPES)
    extensions = tuple(dict.fromkeys(ext for t in types for ext in FILE_EXTENSIONS.get(t, ())))
    max_file = int(_decimal(options.get("max_file_kb"), Decimal(DEFAULT_MAX_FILE_KB)) * 1024)
    max_total = int(
        _decimal(options.get("max_template_kb"), Decimal(DEFAULT_MAX_TEMPLATE_KB)) * 1024
    )
    return FrameRules(True, types, extensions, max_file, max_total)


def content_type_for(filename: str, browser_type: str, rules: FrameRules) -> str | None:
    """The TemplateFile content type for an uploaded file, or None when the vendor does not
    take it.  The extension decides; the browser's type must not contradict it."""
    name = filename.lower()
    browser_type = BROWSER_TYPES.get(browser_type, browser_type)
    candidates = [
        t for t in rules.content_types if any(name.endswith(e) for e in FILE_EXTENSIONS[t])
    ]
    if not candidates:
        return None
    if browser_type in candidates:
        return browser_type
    family = browser_type.split("/")[0] if browser_type else ""
    if family and family not in {c.split("/")[0] for c in candidates} and family != "application":
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
