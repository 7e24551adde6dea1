"""The translation workflow in one command, and the check the test suite runs.

    manage.py translations                    # check only: exit 1 when something is missing
    manage.py translations --update           # makemessages into locale/, then check
    manage.py translations --merge a.po b.po  # fill empty or fuzzy msgstrs from other po files
    manage.py translations --compile          # compilemessages (after filling the po)

The check collects every msgid of the code and templates the way ``makemessages`` does, but
from a copy in a temporary directory (locale/ and the work tree are left alone), and reports
each one that the committed ``locale/zh_Hans/LC_MESSAGES/django.po`` lacks, leaves empty or
marks fuzzy, and every translation the compiled ``django.mo`` does not carry as the .po says
(a .mo not compiled from the current .po).  ``bin/translations`` runs the whole workflow.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands import makemessages

LOCALE = "zh_Hans"
# What makemessages leaves out: the virtualenv, the benchmarks and the tests (their strings
# are never shown to a user), and whatever the portal writes at run time.
IGNORE = [".venv/*", "bench/*", "tests/*", "var/*", "media/*", "staticfiles/*", "node_modules/*"]


def _base_dir() -> Path:
    return Path(settings.BASE_DIR)


def po_path() -> Path:
    return _base_dir() / "locale" / LOCALE / "LC_MESSAGES" / "django.po"


def _key(entry: polib.POEntry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


class _PotOnly(makemessages.Command):
    """``makemessages`` that writes its .pot into a directory of ours and no .po anywhere."""

    def __init__(self, pot_dir: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pot_dir = pot_dir
        self.potfiles: list[str] = []

    def find_files(self, root):
        files = super().find_files(root)
        for translatable in files:
            translatable.locale_dir = self.pot_dir
        self.locale_paths = [self.pot_dir]
        return files

    def write_po_file(self, potfile, locale):
        self.potfiles.append(potfile)


@contextlib.contextmanager
def _in_base_dir():
    before = os.getcwd()
    os.chdir(_base_dir())
    try:
        yield
    finally:
        os.chdir(before)


def _copy_sources(target: Path) -> None:
    """The files makemessages reads (Python and templates), outside the ignored folders, so
    that its temporary files never land in the work tree (tests may run it in parallel)."""
    base = _base_dir()
    skip = {pattern.split("/")[0] for pattern in IGNORE} | {".git", "locale"}
    for root, dirs, files in os.walk(base):
        folder = Path(root).relative_to(base)
        dirs[:] = [d for d in dirs if not (folder == Path(".") and d in skip)]
        for name in files:
            if Path(name).suffix in (".py", ".html", ".txt"):
                (target / folder).mkdir(parents=True, exist_ok=True)
                (target / folder / name).write_bytes((Path(root) / name).read_bytes())


def current_messages() -> polib.POFile:
    """Every msgid of the code and templates now, as ``makemessages`` finds them."""
    with tempfile.TemporaryDirectory() as tmp:
        sources, pot_dir = Path(tmp) / "src", Path(tmp) / "pot"
        sources.mkdir()
        pot_dir.mkdir()
        _copy_sources(sources)
        before = os.getcwd()
        os.chdir(sources)
        try:
            command = _PotOnly(str(pot_dir))
            call_command(
                command, locale=[LOCALE], ignore_patterns=IGNORE, keep_pot=True, verbosity=0
            )
        finally:
            os.chdir(before)
        pot = pot_dir / "django.pot"
        return polib.pofile(pot.read_text(encoding="utf-8")) if pot.exists() else polib.POFile()


@dataclass
class Report:
    missing: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)
    stale_mo: list[str] = field(default_factory=list)
    obsolete: list[str] = field(default_factory=list)
    """In the .po but no longer in the code: harmless, removed by the next ``--update``."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.untranslated or self.fuzzy or self.stale_mo)

    def lines(self) -> list[str]:
        out = []
        for title, items in (
            ("not in the .po (run --update)", self.missing),
            ("untranslated", self.untranslated),
            ("fuzzy (check the translation, then remove the fuzzy flag)", self.fuzzy),
            ("the .mo differs from the .po (run --compile)", self.stale_mo),
        ):
            if items:
                out.append(f"{len(items)} {title}:")
                out.extend(f"  {item!r}" for item in items)
        return out


def check(current: polib.POFile | None = None) -> Report:
    """Compare the code's msgids with the committed .po, and the .po with its .mo."""
    current = current_messages() if current is None else current
    po = polib.pofile(str(po_path()))
    committed = {_key(e): e for e in po if not e.obsolete}
    report = Report()
    for entry in current:
        if not entry.msgid:
            continue
        found = committed.get(_key(entry))
        if found is None or (found.msgid_plural or "") != (entry.msgid_plural or ""):
            report.missing.append(entry.msgid)
        elif found.fuzzy:
            report.fuzzy.append(entry.msgid)
        elif not found.translated():
            report.untranslated.append(entry.msgid)
    wanted = {_key(e) for e in current}
    report.obsolete = [msgid for ctxt, msgid in committed if msgid and (ctxt, msgid) not in wanted]
    mo_path = po_path().with_suffix(".mo")
    compiled = {}
    if mo_path.exists():
        compiled = {_key(e): e for e in polib.mofile(str(mo_path))}
    for key, entry in committed.items():
        if not entry.msgid or entry.fuzzy or not entry.translated():
            continue
        got = compiled.get(key)
        if got is None:
            report.stale_mo.append(entry.msgid)
        elif entry.msgid_plural:
            if {int(k): v for k, v in got.msgstr_plural.items()} != {
                int(k): v for k, v in entry.msgstr_plural.items()
            }:
                report.stale_mo.append(entry.msgid)
        elif got.msgstr != entry.msgstr:
            report.stale_mo.append(entry.msgid)
    return report


def merge(paths: list[str]) -> tuple[int, list[str]]:
    """Fill the committed .po's empty or fuzzy msgstrs from other po files (a translation
    that differs from one already there is reported, not taken).  Returns (filled, conflicts)."""
    po = polib.pofile(str(po_path()))
    by_key = {_key(e): e for e in po if not e.obsolete}
    filled, conflicts = 0, []
    for path in paths:
        for theirs in polib.pofile(path):
            if not theirs.msgid or not theirs.translated():
                continue
            ours = by_key.get(_key(theirs))
            if ours is None:
                continue  # not in the code (yet): run --update first
            open_ = ours.fuzzy or not ours.translated()
            if not open_:
                if (ours.msgstr, ours.msgstr_plural) != (theirs.msgstr, theirs.msgstr_plural):
                    conflicts.append(f"{path}: {theirs.msgid!r}")
                continue
            ours.msgstr = theirs.msgstr
            if ours.msgid_plural:
                ours.msgstr_plural = dict(theirs.msgstr_plural)
            if ours.fuzzy:
                ours.flags.remove("fuzzy")
                ours.previous_msgid = ours.previous_msgid_plural = ours.previous_msgctxt = None
            filled += 1
    po.save()
    return filled, conflicts


class Command(BaseCommand):
    help = "Check (and with --update, --merge, --compile: update) the Chinese translations."

    def add_arguments(self, parser):
        parser.add_argument(
            "--update", action="store_true", help="run makemessages into locale/ first"
        )
        parser.add_argument(
            "--merge", nargs="+", default=[], metavar="PO", help="fill msgstrs from po files"
        )
        parser.add_argument("--compile", action="store_true", help="run compilemessages")

    def handle(self, *args, update=False, merge=(), compile=False, **options):
        if update:
            with _in_base_dir():
                call_command(
                    "makemessages",
                    locale=[LOCALE],
                    no_obsolete=True,
                    ignore_patterns=IGNORE,
                    verbosity=0,
                )
        if merge:
            filled, conflicts = globals()["merge"](list(merge))
            self.stdout.write(f"filled {filled} translations from {len(merge)} file(s)")
            for conflict in conflicts:
                self.stdout.write(f"  kept ours, theirs differs: {conflict}")
        if compile:
            with _in_base_dir():
                call_command("compilemessages", locale=[LOCALE], ignore_patterns=IGNORE)
        report = check()
        for line in report.lines():
            self.stdout.write(line)
        if report.obsolete:
            self.stdout.write(
                f"{len(report.obsolete)} obsolete entries (the next --update drops them)"
            )
        if not report.ok:
            raise CommandError("translations incomplete (see above)")
        self.stdout.write(self.style.SUCCESS(f"every msgid is translated ({LOCALE})"))
