"""The suppression list as marketers work with it: look a phone up (why and since when, with
the reply that opted it out, and its history), add one by hand, import a file of phones, lift
one.  Opt-outs and re-subscribes by reply are ``services.replies``'s; both end here.

A suppression is never deleted: lifting it records who, when and why (and the reply that asked
for it), so the evidence of the opt-out and of its end stays.  Only a suppression in force
(``Suppression.objects.active()``) keeps a phone from marketing messages.  Every addition and
lift is in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit

from ..importing.phones import Rejection, normalize
from ..importing.readers import SpreadsheetError, open_table
from ..models import InboundMessage, Suppression

MAX_IMPORT_ROWS = 200_000
"""A suppression file is read in the request: more rows than this are refused (split it)."""
CHUNK = 2000


class SuppressionError(Exception):
    """The change cannot be made; the message is for the person who asked."""


def parse_phone(text: str) -> str:
    """The phone as recipient lists hold it (``importing.phones.normalize``: +86, full-width
    digits, separators), or ``SuppressionError`` saying what is wrong with it."""
    phone = normalize(text or "", allow_international=True)
    if isinstance(phone, Rejection):
        raise SuppressionError(
            _("“%(value)s” is not a phone number: %(reason)s")
            % {"value": (text or "").strip()[:40], "reason": phone.message}
        )
    return phone


@dataclass
class Lookup:
    phone: str
    active: Suppression | None
    history: list[Suppression]


def look_up(text: str) -> Lookup:
    """A phone's suppression in force (with the reply that opted it out) and every earlier
    one, newest first."""
    phone = parse_phone(text)
    rows = list(
        Suppression.objects.filter(phone=phone)
        .select_related("inbound_message__vendor_account", "lifting_reply", "lifted_by")
        .select_related("created_by", "confirmation")
        .order_by("-created_at", "-pk")
    )
    active = next((row for row in rows if row.is_active), None)
    return Lookup(phone, active, [row for row in rows if row is not active])


def add(text: str, *, user=None, note: str = "", reason: str = Suppression.Reason.MANUAL):
    """Suppress one phone by hand.  ``SuppressionError`` for a phone that is not one or that
    is already suppressed."""
    phone = parse_phone(text)
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                phone=phone, reason=reason, evidence=note.strip()[:1000], created_by=user
            )
    except IntegrityError:
        raise SuppressionError(_("%(phone)s is already suppressed.") % {"phone": phone}) from None
    audit.record(
        audit.Action.SUPPRESSION_ADDED,
        suppression,
        actor=user,
        details={"reason": reason, "note": suppression.evidence[:200]},
    )
    return suppression


@dataclass
class ImportResult:
    added: int = 0
    already: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(row number, why) for each row whose phone is not one (the first 20 are shown)."""


def import_file(path: str, *, user=None, note: str = "", filename: str = "") -> ImportResult:
    """Suppress every phone of a spreadsheet (CSV, XLSX, XLS; the phone column found as a
    recipient import finds it, ``importing.readers``).  Phones already suppressed are counted,
    not changed; rows without a phone are reported.  ``SuppressionError`` for a file that
    cannot be read."""
    try:
        table = open_table(path)
        if table.phone_column is None:
            raise SuppressionError(_("No column of the file holds phone numbers."))
        column = table.column_index(table.phone_column)
        result = ImportResult()
        seen: set[str] = set()
        pending: list[str] = []
        evidence = note.strip()[:1000] or _("Imported from %(file)s") % {"file": filename[:200]}
        for count, (number, values) in enumerate(table.rows(), start=1):
            if count > MAX_IMPORT_ROWS:
                raise SuppressionError(
                    _("The file has more than %(n)d rows: split it.") % {"n": MAX_IMPORT_ROWS}
                )
            phone = normalize(values[column], allow_international=True)
            if isinstance(phone, Rejection):
                result.rejected.append((number, phone.message))
                continue
            if phone in seen:
                result.duplicates += 1
                continue
            seen.add(phone)
            pending.append(phone)
            if len(pending) >= CHUNK:
                _insert(pending, result, evidence, user)
                pending = []
        _insert(pending, result, evidence, user)
    except SpreadsheetError as exc:
        raise SuppressionError(str(exc)) from None
    audit.record(
        audit.Action.SUPPRESSION_ADDED,
        actor=user,
        details={
            "file": filename[:200],
            "added": result.added,
            "already": result.already,
            "rejected": len(result.rejected),
        },
    )
    return result


def _insert(phones: list[str], result: ImportResult, evidence: str, user) -> None:
    if not phones:
        return
    already = set(
        Suppression.objects.active().filter(phone__in=phones).values_list("phone", flat=True)
    )
    fresh = [p for p in phones if p not in already]
    # A phone suppressed meanwhile (a reply) is skipped by the one-in-force constraint.
    Suppression.objects.bulk_create(
        [
            Suppression(
                phone=p, reason=Suppression.Reason.MANUAL, evidence=evidence, created_by=user
            )
            for p in fresh
        ],
        ignore_conflicts=True,
    )
    result.already += len(already)
    result.added += len(fresh)


def lift(
    suppression: Suppression,
    *,
    user=None,
    reason: str = "",
    reply: InboundMessage | None = None,
) -> bool:
    """End a suppression, keeping it as history with who (or which reply) lifted it and why.
    False when it was lifted already."""
    now = timezone.now()
    lifted = (
        Suppression.objects.active()
        .filter(pk=suppression.pk)
        .update(lifted_at=now, lifted_by=user, lifted_reason=reason[:1000], lifting_reply=reply)
    )
    if not lifted:
        return False
    suppression.lifted_at, suppression.lifted_by = now, user
    suppression.lifted_reason, suppression.lifting_reply = reason[:1000], reply
    audit.record(
        audit.Action.SUPPRESSION_REMOVED,
        suppression,
        actor=user,
        details={"reason": reason[:200], "reply": reply.pk if reply else None},
    )
    return True


def lift_phone(text: str, *, user=None, reason: str) -> Suppression:
    """Lift the suppression in force of a phone, by hand: a reason is required (it is the
    evidence that the recipient asked for it)."""
    phone = parse_phone(text)
    if not reason.strip():
        raise SuppressionError(_("Say why the phone may receive marketing messages again."))
    suppression = Suppression.objects.active().filter(phone=phone).first()
    if suppression is None or not lift(suppression, user=user, reason=reason.strip()):
        raise SuppressionError(_("%(phone)s is not suppressed.") % {"phone": phone})
    return suppression


def listing(query: str = "", *, include_lifted: bool = False):
    """The suppressions for the page, newest first: one phone when ``query`` is a phone,
    otherwise those whose evidence mentions it."""
    rows = Suppression.objects.select_related("inbound_message", "created_by", "lifted_by")
    if not include_lifted:
        rows = rows.active()
    query = (query or "").strip()
    if query:
        phone = normalize(query, allow_international=True)
        if isinstance(phone, Rejection):
            rows = rows.filter(evidence__icontains=query)
        else:
            rows = rows.filter(phone=phone)
    return rows.order_by("-created_at", "-pk")
