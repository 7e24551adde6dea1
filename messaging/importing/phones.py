"""Phone number normalization for imported spreadsheets.

``normalize(value)`` returns a ``Phone`` (the normalized number) or a ``Rejection`` (a typed
reason).  It never guesses: a number Excel turned into scientific notation has lost digits and
is rejected, as is anything that is not clearly a Chinese mobile or, when the import allows
them, an international number.

Chinese mobiles are stored as the 11-digit national form (``13800000001``): that is what
``Recipient.phone`` holds and what the Chinese vendors expect.  International numbers become
E.164 (``+447400123456``) and are only accepted when the import allows them, because only
vendors with ``capabilities.international`` can send to them.

Chinese mobiles are checked by our own rule (a regular expression: the million-row imports
spend no time on them); international numbers, which are few, by the ``phonenumbers`` library
(Google's libphonenumber metadata: each country's lengths and number ranges), so that
``+44 7400 1234567`` (one digit too many for a UK mobile) is refused, not stored.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.utils.translation import gettext_lazy as _


class Reason(enum.Enum):
    """Why a row was rejected.  ``code`` goes into the downloadable report, ``message`` is
    shown to the marketer (translated)."""

    MISSING = ("missing", _("no phone number"))
    SCIENTIFIC = ("scientific", _("Excel scientific notation; digits lost"))
    NOT_A_NUMBER = ("not_a_number", _("not a phone number"))
    WRONG_LENGTH = ("wrong_length", _("wrong number of digits for a Chinese mobile"))
    NOT_MOBILE = ("not_mobile", _("not a Chinese mobile number (11 digits starting 13–19)"))
    INTERNATIONAL = (
        "international",
        _("international number; this list accepts Chinese mobiles only"),
    )
    BAD_INTERNATIONAL = ("bad_international", _("invalid international number"))
    INVALID = ("invalid", _("invalid phone number"))
    FORMULA = ("formula", _("formula cell without a saved value; open and save it in Excel"))
    CELL_ERROR = ("cell_error", _("the cell holds an Excel error"))

    def __init__(self, code: str, message) -> None:
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    value: str = ""

    @property
    def message(self) -> str:
        return str(self.reason.message)


class FormulaWithoutValue:
    """Marker a reader puts in a cell that holds a formula but no cached value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<formula without value>"


FORMULA_WITHOUT_VALUE = FormulaWithoutValue()


class CellError(str):
    """An Excel error value (``#N/A``, ``#VALUE!``…) as a reader found it."""


CHINESE_MOBILE = re.compile(r"1[3-9]\d{9}")
SCIENTIFIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
TRAILING_ZERO_DECIMALS = re.compile(r"(\d+)\.0+")
SEPARATORS = re.compile(r"[\s\-./()（）\u00a0\u200b\u2010-\u2015\ufeff]+")
DIGITS = re.compile(r"\d+")
# Quick path: already a plain 11-digit mobile (the vast majority of rows).
_PLAIN = re.compile(r"1[3-9]\d{9}").fullmatch


def _as_text(value) -> str | Rejection:
    if value is None:
        return ""
    if value is FORMULA_WITHOUT_VALUE:
        return Rejection(Reason.FORMULA)
    if isinstance(value, CellError):
        return Rejection(Reason.CELL_ERROR, str(value))
    if isinstance(value, bool):
        return Rejection(Reason.NOT_A_NUMBER, str(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A numeric cell keeps every digit (doubles hold 15 significant digits); only a whole
        # number can be a phone.
        if value != value or value in (float("inf"), float("-inf")):
            return Rejection(Reason.NOT_A_NUMBER, str(value))
        if value.is_integer():
            return str(int(value))
        return Rejection(Reason.NOT_A_NUMBER, repr(value))
    return str(value)


def normalize(value, *, allow_international: bool = False) -> str | Rejection:
    """The normalized phone for a cell value, or a ``Rejection``."""
    if type(value) is str and _PLAIN(value):
        return value
    text = _as_text(value)
    if isinstance(text, Rejection):
        return text
    raw = text
    # Full-width digits and signs (１３８…, ＋８６) as Chinese input methods type them.
    text = unicodedata.normalize("NFKC", text).strip().lstrip("'").strip()
    if not text:
        return Rejection(Reason.MISSING)
    if SCIENTIFIC.fullmatch(text.replace(" ", "")):
        return Rejection(Reason.SCIENTIFIC, raw)
    whole = TRAILING_ZERO_DECIMALS.fullmatch(text)
    if whole:  # 13800000001.0 — a number stored as a float
        text = whole.group(1)
    text = SEPARATORS.sub("", text)
    plus = text.startswith("+")
    if plus:
        text = text[1:]
    if not text or not DIGITS.fullmatch(text):
        return Rejection(Reason.NOT_A_NUMBER, raw)
    if plus or text.startswith("00"):
        digits = text[2:] if not plus else text
        if digits.startswith("86"):
            national = digits[2:]
            if CHINESE_MOBILE.fullmatch(national):
                return national
            if national.startswith("1"):
                return Rejection(
                    Reason.WRONG_LENGTH if len(national) != 11 else Reason.NOT_MOBILE, raw
                )
            return Rejection(Reason.NOT_MOBILE, raw)
        international = _international(digits, raw)
        if international.__class__ is str and not allow_international:
            return Rejection(Reason.INTERNATIONAL, raw)
        return international
    if CHINESE_MOBILE.fullmatch(text):
        return text
    if len(text) == 13 and text.startswith("86") and CHINESE_MOBILE.fullmatch(text[2:]):
        return text[2:]
    if text.startswith("1") and len(text) != 11:
        return Rejection(Reason.WRONG_LENGTH, raw)
    return Rejection(Reason.NOT_MOBILE, raw)


def _international(digits: str, raw: str) -> str | Rejection:
    """E.164 for the digits after ``+`` / ``00`` when they are a number in use in their
    country; ``INVALID`` when they start with no country code at all (``00000000000``),
    ``BAD_INTERNATIONAL`` when the country's plan has no such number."""
    if not digits or digits[0] == "0":
        return Rejection(Reason.INVALID, raw)
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return Rejection(Reason.INVALID, raw)
    if not phonenumbers.is_valid_number(number):
        return Rejection(Reason.BAD_INTERNATIONAL, raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
