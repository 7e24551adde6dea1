"""Our words written now and read later, by users of either language.

A reason the portal stores — why a recipient was skipped, why a campaign paused, why a
message's outcome is unknown — is written by a worker or a task, in no user's language, and
read later on pages in Chinese or in English.  It is stored in both, Chinese first, a line
break between (``both``), and shown in the reader's language only (``shown``).  A text
without a line break reads the same in both: the vendor's words as it sent them, a user's
name.  The vendor's descriptions of its codes are stored the same way
(``reports.join_descriptions``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils import translation
from django.utils.functional import Promise

CHINESE, ENGLISH = "zh-hans", "en"

HOLE = "\ue000"
"""A stand-in for what is filled in later (names, characters) in a text stored in both
languages: ``both(lambda: _("Missing: %(names)s") % {"names": HOLE}).replace(HOLE, names)``.
A private-use character: no message, name or translation carries it."""


def split(stored: str) -> tuple[str, str]:
    """(Chinese, English) of a stored text; a text of one language serves as both."""
    zh, _, en = (stored or "").partition("\n")
    return zh, en or zh


def join(zh: str, en: str) -> str:
    """One stored text of the two (one when they are the same).  A line break inside either
    becomes a space: it would be taken for the boundary."""
    zh, en = _unbroken(zh), _unbroken(en)
    return zh if zh == en or not en else f"{zh}\n{en}" if zh else en


def both(text: Promise | Callable[[], str]) -> str:
    """``text`` — a lazy translation, or a function that builds one (``lambda: _("Paused:
    %(why)s") % {"why": shown(why)}``) — rendered in each language and stored as one text.
    A stored text used inside it is taken in the language being rendered (``shown``)."""
    rendered = []
    for language in (CHINESE, ENGLISH):
        with translation.override(language):
            rendered.append(str(text() if callable(text) else text))
    return join(*rendered)


def reads_english(language: str | None = None) -> bool:
    """Whether the reader (the active language unless ``language``) reads English: for
    ``en*``, and with translation deactivated (no language at all), when ``gettext`` answers
    in English too.  Every choice between our two languages asks this."""
    language = language or translation.get_language()
    return language is None or language.startswith("en")


def shown(stored: str, language: str | None = None) -> str:
    """A stored text in the reader's language (``reads_english``): English or Chinese."""
    zh, en = split(stored)
    return en if reads_english(language) else zh


def _unbroken(text: str) -> str:
    return str(text or "").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
