"""Every user-facing string is translated: each msgid ``makemessages`` finds in the code and
templates has a Chinese translation in locale/, and the compiled .mo is the current .po."""

import ast
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from messaging.management.commands import translations


@pytest.fixture(scope="module")
def current():
    return translations.current_messages()


def test_makemessages_finds_the_code_and_the_templates(current):
    msgids = {entry.msgid for entry in current}
    assert "Status codes" in msgids  # a template
    assert "Outcome unknown" in msgids  # Python (messaging.statuses)
    assert "Add link" in msgids  # Django's own, listed in smsportal/others_strings.py


def test_every_msgid_has_a_chinese_translation_and_the_mo_is_compiled(current):
    report = translations.check(current)
    assert report.ok, "\n".join(report.lines())


def test_the_check_fails_on_a_missing_an_empty_or_a_fuzzy_translation(
    current, tmp_path, monkeypatch
):
    po = polib.pofile(str(translations.po_path()))
    mo = translations.po_path().with_suffix(".mo")
    by_msgid = {entry.msgid: entry for entry in po}
    po.remove(by_msgid["Status codes"])
    by_msgid["Outcome unknown"].msgstr = ""
    by_msgid["Vendor's words"].flags.append("fuzzy")
    by_msgid["Meaning"].msgstr = "意义"  # the .mo still says 含义
    copy = tmp_path / "django.po"
    po.save(str(copy))
    (tmp_path / "django.mo").write_bytes(mo.read_bytes())
    monkeypatch.setattr(translations, "po_path", lambda: copy)
    report = translations.check(current)
    assert report.missing == ["Status codes"]
    assert report.untranslated == ["Outcome unknown"]
    assert report.fuzzy == ["Vendor's words"]
    assert report.stale_mo == ["Meaning"]
    with pytest.raises(CommandError):
        call_command("translations")


GETTEXT_NAMES = {
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "ngettext",
    "ngettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "npgettext",
    "npgettext_lazy",
}


def test_gettext_is_called_by_a_name_makemessages_knows():
    """``from django.utils.translation import gettext as _gettext`` hides every string called
    through it from makemessages: they were never translated.  Only ``_`` or the function's
    own name."""
    base = Path(settings.BASE_DIR)
    hidden = []
    for folder in ("accounts", "messaging", "smsportal"):
        for path in (base / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                    hidden += [
                        f"{path.relative_to(base)}: {alias.name} as {alias.asname}"
                        for alias in node.names
                        if alias.name in GETTEXT_NAMES and alias.asname not in (None, "_")
                    ]
    assert not hidden
