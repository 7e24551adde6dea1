"""Delivery reports: stored raw, matched to their messages, applied forward.

Everything works in bulk: a push of 500 reports is a handful of queries, not 500.  On
PostgreSQL the common case (reports taking submitted messages to a final status) is three
statements: one UPDATE that matches by the vendor's id and moves the messages, one COPY of the
reports, one UPDATE of the campaign counters; arrays are bound as single parameters.  Whatever
that UPDATE leaves (early reports, duplicates, matching by our id or by phone), and every report
on other databases (SQLite in development and tests), takes the general path: find the
messages (locking those a report can still change), decide in Python, write back in bulk.
Those statements are ``sql.messages``'s and ``sql.reports``'s, each beside its generic twin.

The vendor's words for a status code are kept with our English gloss of them
(``join_descriptions``); pages show the vendor's words as they are and our meaning in the
user's language, never both of our languages (``vendor_words``, ``status_meaning``).
A push's raw record and the deadlock retry are ``pushes``'s; replies are ``replies``'s;
template reviews are ``templates``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ..models import DeliveryReport, Message, VendorAccount
from ..statuses import FINAL_STATUSES, RANK, Status
from ..vendors.base import StatusEvent
from . import campaign_stats, lifecycle, wording
from .campaigns import record_transitions
from .deadlocks import retry_on_deadlock
from .sql import messages as messages_sql
from .sql import reports as reports_sql

# Reports whose message is not known by any id may still be matched by phone, to the one
# message the vendor took or may have taken (see ``_match``).
_PHONE_MATCH_STATUSES = (Status.SUBMITTING, Status.UNKNOWN, Status.SUBMITTED, Status.NO_REPORT)

_DESCRIPTION_MAX = 255

EARLY_REPORT_WINDOW = timedelta(days=3)
"""How long a report that came before its submit answer is looked for when answers are
recorded (the answer comes seconds later; a worker stalled for days is swept long before)."""


@dataclass(frozen=True)
class ApplyResult:
    stored: int
    matched: int
    advanced: int


# --------------------------------------------------------------------------- descriptions


def join_descriptions(zh: str, en: str) -> str:
    """The vendor's words for a code as one stored value: Chinese, a line break, English.

    ``Message.vendor_status_description`` and ``DeliveryReport.description`` keep both
    languages this way (a line break never occurs in a vendor's description, and renders as a
    space wherever the raw value is shown); ``wording.split`` reads it back, as it reads every
    text of ours stored in both languages."""
    zh = " ".join((zh or "").split())
    en = " ".join((en or "").split())
    if zh and en and en != zh:
        zh = zh[: _DESCRIPTION_MAX // 2]  # room for the English
    return wording.join(zh, en)[:_DESCRIPTION_MAX]


def vendor_words(stored: str) -> str:
    """What the vendor said for a code, as it said it: the text its answer carried, or its
    document's words for the code (the first part of a stored description)."""
    return wording.split(stored)[0]


def status_meaning(stored: str, status: str, language: str | None = None) -> str:
    """What a vendor's status means, in the UI language only: in English our gloss of the
    vendor's words (or the status's name when there is none); in Chinese the status's name
    (the vendor's words, shown beside it, are Chinese already)."""
    zh, en = wording.split(stored)
    if wording.reads_english(language) and en and en != zh:
        return en
    return str(Status(status).label) if status in Status.values else ""


# --------------------------------------------------------------------------- reports


@dataclass(slots=True)
class _Report:
    vendor_message_id: str
    custom_id: str
    phone: str
    status: str
    vendor_code: str
    description: str
    done_at: datetime | None
    raw: str
    pk: int | None = None
    message_id: int | None = None
    part_index: int = 1
    part_count: int = 1


@dataclass
class _Target:
    """A matched message: its state as locked, and where the reports take it."""

    pk: int
    vendor_message_id: str
    custom_id: str
    phone: str
    status: str
    campaign_id: int | None
    segments: int
    submitted_at: datetime | None = None
    error: str = ""
    old_status: str = ""
    code: str = ""
    description: str = ""
    final_at: datetime | None = None
    changed: bool = False
    reports: list = field(default_factory=list)


def apply_status_events(
    account: VendorAccount, events: Sequence[StatusEvent], source: str
) -> ApplyResult:
    """Store every report (raw kept), match it to its message and move the message forward.

    Matching is by the vendor's id within the account, then by our custom id where the vendor
    echoes it, then by phone for a message that has no vendor id yet.  A report whose message is
    not known yet (its submit answer not recorded) is stored unmatched and applied by
    ``match_waiting_reports`` when the answer is recorded.  Parts of a long message carry one
    vendor id: the first final report wins, later parts and duplicates change nothing, so the
    message — and the campaign counters — count once.

    Runs in the caller's transaction when there is one (a push commits its raw record and its
    reports together), else in its own.
    """
    if not events:
        return ApplyResult(0, 0, 0)
    now = timezone.now()
    descriptions: dict[tuple[str, str], str] = {}  # a push repeats a few codes many times
    reports = []
    for event in events:
        words = (event.description_zh, event.description_en)
        description = descriptions.get(words)
        if description is None:
            description = descriptions[words] = join_descriptions(*words)
        reports.append(
            _Report(
                vendor_message_id=event.vendor_message_id[:64],
                custom_id=event.custom_id[:64],
                phone=event.phone[:20],
                status=event.status if event.status in RANK else Status.UNKNOWN,
                vendor_code=event.vendor_code[:32],
                description=description,
                done_at=event.done_at,
                raw=event.raw.replace("\x00", ""),
                part_index=max(1, min(event.part_index or 1, 255)),
                part_count=max(1, min(event.part_count or 1, 255)),
            )
        )
    with transaction.atomic(savepoint=False):
        # PostgreSQL's fast path takes what it can (setting those reports' message); the
        # general path matches the rest.
        fast = messages_sql.deliver_submitted(account.pk, reports, now)
        rest = [r for r in reports if r.message_id is None]
        targets = _match(account, rest) if rest else []
        advanced = lifecycle.advance_by_reports(targets, now)
        reports_sql.insert_reports(account.pk, source, reports, now)
        moved = _save_messages(advanced)
    matched = sum(1 for r in reports if r.message_id is not None)
    return ApplyResult(len(reports), matched, fast + moved)


def match_waiting_reports(account: VendorAccount, vendor_message_ids: Sequence[str]) -> int:
    """Apply reports that arrived before their messages' submit answers were recorded.
    Returns how many reports were matched."""
    ids = list({i for i in vendor_message_ids if i})
    if not ids:
        return 0
    # Early reports are rare and recent.  Their ids (the unmatched partial index) are usually
    # far fewer than a 50,000-message batch's: intersect here instead of sending every id.
    recent = DeliveryReport.objects.filter(
        vendor_account=account,
        message__isnull=True,
        received_at__gte=timezone.now() - EARLY_REPORT_WINDOW,
    )
    waiting_ids = set(recent.values_list("vendor_message_id", flat=True)[: len(ids) + 1])
    if len(waiting_ids) <= len(ids):
        ids = [i for i in ids if i in waiting_ids]
        if not ids:
            return 0
    now = timezone.now()
    matched = 0
    with transaction.atomic():
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            waiting = list(
                DeliveryReport.objects.filter(
                    vendor_account=account, message__isnull=True, vendor_message_id__in=chunk
                ).order_by("pk")
            )
            if not waiting:
                continue
            reports = [
                _Report(
                    vendor_message_id=r.vendor_message_id,
                    custom_id=r.custom_id,
                    phone=r.phone,
                    status=r.status,
                    vendor_code=r.vendor_code,
                    description=r.description,
                    done_at=r.done_at,
                    raw=r.raw,
                    pk=r.pk,
                    part_index=r.part_index,
                    part_count=r.part_count,
                )
                for r in waiting
            ]
            # By the vendor's id only: these reports already missed every other way.
            targets = _match(account, reports, by_phone=False)
            advanced = lifecycle.advance_by_reports(targets, now)
            newly = [r for r in reports if r.message_id is not None]
            DeliveryReport.objects.bulk_update(
                [DeliveryReport(pk=r.pk, message_id=r.message_id, matched_at=now) for r in newly],
                ["message", "matched_at"],
                batch_size=1000,
            )
            _save_messages(advanced)
            matched += len(newly)
    return matched


def match_orphaned_reports() -> int:
    """The sweep behind ``match_waiting_reports``: reports that came before their messages'
    submit answers and were not matched when the answer was recorded (the worker died
    between the two, or that transaction lost a deadlock) are matched now, each account in
    its own transaction with the deadlock retry.  Returns how many were matched."""
    recent = DeliveryReport.objects.filter(
        message__isnull=True,
        received_at__gte=timezone.now() - EARLY_REPORT_WINDOW,
    ).exclude(vendor_message_id="")
    matched = 0
    for account_id in set(recent.values_list("vendor_account_id", flat=True)):
        account = VendorAccount.objects.filter(pk=account_id).first()
        if account is None:
            continue
        waiting = set(
            recent.filter(vendor_account_id=account_id).values_list("vendor_message_id", flat=True)
        )
        known = list(
            Message.objects.filter(
                vendor_account_id=account_id, vendor_message_id__in=waiting
            ).values_list("vendor_message_id", flat=True)
        )
        if known:
            matched += retry_on_deadlock(lambda a=account, k=known: match_waiting_reports(a, k))
    return matched


def _match(account, reports: list[_Report], *, by_phone: bool = True) -> list[_Target]:
    """Find the messages the reports name (locked unless final) and set each report's
    ``message_id``.  Returns the messages in report order of first appearance.

    By the vendor's id, then by our id; then, for a report that carries neither a known
    vendor id nor our id, by phone — but only when exactly one message on the account could
    have produced it: its request left before the report was made (``submitted_at``), the
    vendor took it or may have (submitting, unknown, submitted, no report), and it has no
    vendor id of its own when the report names one.  Two candidates (campaign A left
    unknown, campaign B sent to the same phone) leave the report unmatched and listed: a
    guess would show one campaign the other's truth."""
    vendor_ids = {r.vendor_message_id for r in reports if r.vendor_message_id}
    by_vendor_id = _find_by_vendor_id(account.pk, vendor_ids) if vendor_ids else {}
    by_custom_id: dict[str, _Target] = {}
    custom_ids = {
        r.custom_id for r in reports if r.custom_id and r.vendor_message_id not in by_vendor_id
    }
    if custom_ids:
        for target in _lock(
            Message.objects.filter(vendor_account_id=account.pk, custom_id__in=custom_ids)
        ):
            by_custom_id[target.custom_id] = target
    candidates: dict[str, list[_Target]] = {}
    if by_phone:
        phones = {
            r.phone
            for r in reports
            if r.phone
            and r.vendor_message_id not in by_vendor_id
            and r.custom_id not in by_custom_id
        }
        if phones:
            for target in _lock(
                Message.objects.filter(
                    vendor_account_id=account.pk,
                    phone__in=phones,
                    status__in=_PHONE_MATCH_STATUSES,
                    submitted_at__isnull=False,
                )
            ):
                candidates.setdefault(target.phone, []).append(target)

    targets: dict[int, _Target] = {}
    for report in reports:
        target = by_vendor_id.get(report.vendor_message_id) or by_custom_id.get(report.custom_id)
        if target is None and report.phone in candidates:
            target = _only_candidate(report, candidates[report.phone])
        if target is None:
            continue
        if not target.vendor_message_id and report.vendor_message_id:
            # The message's vendor id comes from its report: later reports match by it.
            target.vendor_message_id = report.vendor_message_id
            target.changed = True
            by_vendor_id[report.vendor_message_id] = target
        report.message_id = target.pk
        target.reports.append(report)
        targets.setdefault(target.pk, target)
    return list(targets.values())


CLOCK_SKEW = timedelta(minutes=2)
"""How far a vendor's clock (and its whole-second times) may stand from ours when a report's
time is compared with the moment a message left."""


def _only_candidate(report: _Report, messages: list[_Target]) -> _Target | None:
    """The one message that could have produced a report matched by phone, or None."""
    made_at = report.done_at + CLOCK_SKEW if report.done_at else None
    fitting = [
        m
        for m in messages
        if (made_at is None or m.submitted_at is None or m.submitted_at <= made_at)
        and not (report.vendor_message_id and m.vendor_message_id)
    ]
    return fitting[0] if len(fitting) == 1 else None


def _target(row) -> _Target:
    (
        pk,
        vendor_id,
        custom_id,
        phone,
        status,
        campaign_id,
        segments,
        submitted_at,
        error,
        code,
        description,
        final,
    ) = row
    return _Target(
        pk=pk,
        vendor_message_id=vendor_id,
        custom_id=custom_id,
        phone=phone,
        status=status,
        campaign_id=campaign_id,
        segments=segments,
        submitted_at=submitted_at,
        error=error,
        old_status=status,
        code=code,
        description=description,
        final_at=final,
    )


def _lock(queryset) -> list[_Target]:
    # Ordered by primary key so that concurrent pushes lock rows in the same order.
    rows = queryset.select_for_update().order_by("pk").values_list(*reports_sql.TARGET_COLUMNS)
    return [_target(row) for row in rows]


def _find_by_vendor_id(account_pk: int, vendor_ids: set[str]) -> dict[str, _Target]:
    """The messages the vendor's ids name, locked where a report could still change them.

    A final message (it has its vendor id, or it would not be found by it) can never change
    again: statuses only move forward.  It is read without a lock, so a re-sent push (the
    usual concurrent duplicate) neither waits for other pushes nor holds a row they wait for.
    The others are locked in id order, as every writer of messages locks them."""
    rows = reports_sql.message_rows_by_vendor_id(account_pk, vendor_ids)
    targets = [_target(row) for row in rows]
    open_ids = sorted(t.pk for t in targets if t.status not in FINAL_STATUSES)
    locked: dict[int, _Target] = {}
    for start in range(0, len(open_ids), 500):
        chunk = open_ids[start : start + 500]
        locked.update((t.pk, t) for t in _lock(Message.objects.filter(pk__in=chunk)))
    return {
        t.vendor_message_id: locked.get(t.pk, t)
        for t in targets
        if t.status in FINAL_STATUSES or t.pk in locked
    }


def _save_messages(targets: list[_Target]) -> int:
    """Write the matched messages' new state (``lifecycle.save_report_moves``) and count the
    moves; returns how many messages changed status."""
    if not targets:
        return 0
    lifecycle.save_report_moves(targets)
    moves = [
        (t.campaign_id, t.old_status, t.status, t.segments)
        for t in targets
        if t.old_status != t.status
    ]
    record_transitions(moves)
    campaign_stats.record_finals(
        (t.campaign_id, t.status, t.code, t.description, t.final_at)
        for t in targets
        if t.old_status != t.status and t.status in FINAL_STATUSES
    )
    campaign_stats.record_unresolved(
        (t.campaign_id, t.old_status, t.error, t.status, t.error, t.segments, t.submitted_at)
        for t in targets
        if t.old_status != t.status
    )
    return len(moves)
