"""Polling vendors for delivery reports and replies (MO), for accounts with polling on.

Rules, from the vendors' documents:

* never faster than the vendor's minimum interval (``Capabilities.min_poll_interval_s``) nor
  the account's own ``poll_interval_s``, whichever is longer; several vendors answer faster
  polling with an error code;
* take at most the vendor's per-call maximum (the adapters ask for it), and while the vendor
  says more are waiting (``PollResult.more_waiting``) poll again at its minimum interval, up to
  ``MAX_CALLS_PER_RUN`` calls per account and kind in one run;
* on a rate-limit answer (``RateLimited``) stop, and poll nothing for that account before
  ``VendorAccount.poll_backoff_until``;
* other vendor errors are recorded on ``VendorAccount.last_error`` and retried next interval.

Polls of one account never overlap, whoever runs them (the minutely task, ``manage.py
poll_vendors``, two workers): each call is *claimed* by one conditional UPDATE that moves the
account's ``reports_polled_at`` / ``replies_polled_at`` to ``now + IN_FLIGHT`` only if the
interval has passed.  Exactly one claimer wins; while the call is out the time lies in the
future, so nobody else is due; when it returns it becomes the call's end.  A process that dies
mid-call frees the account after ``IN_FLIGHT``.  No lock is held during the HTTP call (the
sending pipeline locks the account row for its rate-limit slot and must not wait for a poll).
Where the vendor's interval spans every call of an account (``poll_interval_shared``), the
claim also keeps the account's other kinds of call that far apart.

A vendor hands a fetched report or reply out once.  Every answer with items is committed as a
``PollRecord`` (raw and the items read) *before* it is applied, and applied in a transaction
that marks the record; ``apply_pending`` (every run, and the dispatcher) applies whatever a
crash or a dropped connection left.  An answer the adapter could not read is kept too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..models import PollRecord, VendorAccount
from ..vendors.base import (
    InboundReply,
    RateLimited,
    StatusEvent,
    UnexpectedReply,
    VendorError,
    clean_item,
)
from ..vendors.registry import vendor
from .deadlocks import retry_on_deadlock
from .replies import record_replies
from .reports import apply_status_events
from .sending import crash_point

log = logging.getLogger(__name__)

MAX_CALLS_PER_RUN = 20
"""Calls per account and kind in one run while the vendor keeps saying more are waiting."""
IN_FLIGHT = timedelta(seconds=60)
"""How long a claimed call keeps others away (longer than any adapter's HTTP timeouts)."""


@dataclass(frozen=True)
class Kind:
    name: str
    capability: str
    method: str
    polled_field: str


REPORTS = Kind("reports", "poll_reports", "poll_reports", "reports_polled_at")
REPLIES = Kind("replies", "poll_mo", "poll_mo", "replies_polled_at")
KINDS = (REPORTS, REPLIES)


@dataclass
class CallOutcome:
    claimed: bool
    items: int = 0
    stored: int = 0
    more_waiting: bool = False
    rate_limited: bool = False
    error: str = ""


@dataclass
class PollSummary:
    """What one account's poll of one kind did (``calls`` counts the calls actually made)."""

    account: str
    kind: str
    calls: int = 0
    items: int = 0
    stored: int = 0
    rate_limited: bool = False
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.account} {self.kind}: {self.calls} calls, {self.items} items"
        if self.rate_limited:
            text += ", rate-limited"
        if self.errors:
            text += f", error: {self.errors[-1]}"
        return text


def min_interval_s(account: VendorAccount) -> float:
    return vendor(account.vendor).capabilities.min_poll_interval_s


def interval_s(account: VendorAccount) -> float:
    """Seconds between polls of one kind: the account's setting, never below the vendor's."""
    return max(float(account.poll_interval_s), min_interval_s(account))


def kinds_for(account: VendorAccount) -> list[Kind]:
    capabilities = vendor(account.vendor).capabilities
    return [kind for kind in KINDS if getattr(capabilities, kind.capability)]


def polling_accounts() -> list[VendorAccount]:
    return list(VendorAccount.objects.filter(polling_enabled=True, is_active=True))


def is_due(account: VendorAccount, kind: Kind, now=None, gap_s: float | None = None) -> bool:
    now = now or timezone.now()
    if account.poll_backoff_until and account.poll_backoff_until > now:
        return False
    last = getattr(account, kind.polled_field)
    gap = interval_s(account) if gap_s is None else gap_s
    if last is not None and last + timedelta(seconds=gap) > now:
        return False
    if vendor(account.vendor).capabilities.poll_interval_shared:
        # One call at a time, the vendor's interval apart, whatever the kind (see ``claim``).
        spacing = timedelta(seconds=min_interval_s(account))
        for other in KINDS:
            other_last = getattr(account, other.polled_field)
            if other is not kind and other_last is not None and other_last + spacing > now:
                return False
    return True


def claim(account: VendorAccount, kind: Kind, gap_s: float, now=None) -> bool:
    """Atomically take the right to make one call (see the module's docstring).  Where the
    vendor's interval spans every call of the account (``poll_interval_shared``: ashx5g
    wants one call at a time, 5 s apart, whatever it fetches), the other kinds' last calls
    must be that far back too, and none of them out."""
    now = now or timezone.now()
    last = kind.polled_field
    accounts = (
        VendorAccount.objects.filter(pk=account.pk, polling_enabled=True, is_active=True)
        .filter(Q(**{f"{last}__isnull": True}) | Q(**{f"{last}__lte": now - _seconds(gap_s)}))
        .filter(Q(poll_backoff_until__isnull=True) | Q(poll_backoff_until__lte=now))
    )
    if vendor(account.vendor).capabilities.poll_interval_shared:
        spacing = _seconds(min_interval_s(account))
        for other in KINDS:
            if other is not kind:
                field = other.polled_field
                accounts = accounts.filter(
                    Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": now - spacing})
                )
    return accounts.update(**{last: now + IN_FLIGHT}) == 1


def keep_answer(
    account: VendorAccount, kind: Kind, raw: str, items: list, *, error: str = ""
) -> PollRecord:
    """Commit a poll's answer (raw, and the items read from it) before it is applied; an
    unreadable one (``error``) is kept as applied: there is nothing to apply.  Each item is
    made storable first (``clean_item``), as a pushed one is: one odd item (a NUL, a year
    0001) must not fail the answer it came in."""
    items = [clean_item(item)[0] for item in items]
    return retry_on_deadlock(
        lambda: PollRecord.objects.create(
            vendor_account=account,
            kind=kind.name,
            raw=(raw or "").replace("\x00", ""),
            items=[encode_item(item) for item in items],
            item_count=len(items),
            error=error,
            applied_at=timezone.now() if error else None,
        )
    )


def apply_record(record_pk: int) -> int:
    """Apply a kept poll answer, once: the record is marked applied in the same transaction.
    Returns how many items were stored."""
    with transaction.atomic():
        record = (
            PollRecord.objects.select_for_update()
            .select_related("vendor_account")
            .filter(pk=record_pk, applied_at__isnull=True)
            .first()
        )
        if record is None:
            return 0
        account = record.vendor_account
        if record.kind == REPORTS.name:
            events = [decode_item(StatusEvent, item) for item in record.items]
            stored = apply_status_events(account, events, source="poll").stored
        else:
            replies = [decode_item(InboundReply, item) for item in record.items]
            stored = record_replies(account, replies)
        crash_point("poll_before_commit")
        PollRecord.objects.filter(pk=record.pk).update(applied_at=timezone.now())
    return stored


def apply_pending() -> int:
    """Apply every kept poll answer that was not applied (its worker died, or its database
    connection dropped, between keeping and applying it).  Returns the items stored."""
    stored = 0
    for record_pk in PollRecord.objects.filter(applied_at__isnull=True).values_list(
        "pk", flat=True
    ):
        stored += retry_on_deadlock(lambda pk=record_pk: apply_record(pk))
    return stored


def encode_item(item) -> dict:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in asdict(item).items()
    }


def decode_item(cls, data: dict):
    fields = {}
    for f in dataclass_fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name.endswith("_at") and isinstance(value, str):
            value = datetime.fromisoformat(value)
        fields[f.name] = value
    return cls(**fields)


def poll_once(account: VendorAccount, kind: Kind, *, gap_s: float | None = None) -> CallOutcome:
    """One claimed call of ``kind`` for ``account``: ask the vendor, apply what it gave, record
    the time (and any error).  ``gap_s`` defaults to the account's interval."""
    gap = interval_s(account) if gap_s is None else gap_s
    if not claim(account, kind, gap):
        return CallOutcome(claimed=False)
    label = _polling_label(kind)
    try:
        result = getattr(account.client(), kind.method)()
    except RateLimited as exc:
        now = timezone.now()
        until = now + _seconds(max(exc.retry_after, interval_s(account)))
        error = f"{label}: {exc}"
        _finish(account, kind, now, error=error, backoff_until=until)
        log.warning(
            "account=%s poll %s: rate-limited until %s: %s", account.pk, kind.name, until, exc
        )
        return CallOutcome(claimed=True, rate_limited=True, error=error)
    except (VendorError, NotImplementedError) as exc:
        error = f"{label}: {exc}"
        raw = getattr(exc, "raw", "")
        if isinstance(exc, UnexpectedReply) and raw:
            # An answer we could not read may still hold reports the vendor will not give
            # again: kept as it came, to be read again once the adapter is mended.
            keep_answer(account, kind, raw, [], error=str(exc))
        _finish(account, kind, timezone.now(), error=error)
        log.warning("account=%s poll %s: %s", account.pk, kind.name, exc)
        return CallOutcome(claimed=True, error=error)
    except Exception as exc:
        _finish(account, kind, timezone.now(), error=f"{label}: {exc!r}")
        raise
    items = list(result.items)
    stored = 0
    if items:
        # The vendor hands a fetched item out once: the answer is committed before anything
        # is applied, and a record left unapplied (a crash, a lost connection) is applied by
        # ``apply_pending`` on the next run.
        record = keep_answer(account, kind, result.raw, items)
        crash_point("poll_kept")
        try:
            stored = retry_on_deadlock(lambda: apply_record(record.pk))
        except Exception:
            log.exception(
                "account=%s poll %s: answer %s kept, not applied yet",
                account.pk,
                kind.name,
                record.pk,
            )
            _finish(account, kind, timezone.now(), error=f"{label}: not applied yet")
            raise
    _finish(account, kind, timezone.now())
    return CallOutcome(
        claimed=True, items=len(items), stored=stored, more_waiting=result.more_waiting
    )


def poll_account(
    account: VendorAccount,
    kind: Kind,
    *,
    max_calls: int = MAX_CALLS_PER_RUN,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PollSummary:
    """Poll one kind if due, then keep draining at the vendor's minimum interval while it says
    more are waiting, up to ``max_calls`` calls or the ``deadline`` (a ``clock`` time)."""
    summary = PollSummary(account=account.name, kind=kind.name)
    gap = None  # the first call waits for the account's interval; drain calls for the vendor's
    while summary.calls < max_calls:
        outcome = poll_once(account, kind, gap_s=gap)
        if not outcome.claimed:
            break
        summary.calls += 1
        summary.items += outcome.items
        summary.stored += outcome.stored
        if outcome.error:
            summary.errors.append(outcome.error)
        if outcome.rate_limited:
            summary.rate_limited = True
            break
        if not outcome.more_waiting:
            break
        gap = min_interval_s(account)
        if deadline is not None and clock() + gap > deadline:
            break
        sleep(gap)
    return summary


def poll_due(
    accounts: Iterable[VendorAccount] | None = None,
    *,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[PollSummary]:
    """Poll every due account once (draining), e.g. from ``manage.py poll_vendors``.  With
    ``force`` the account's own interval is not waited for; the vendor's minimum and any
    back-off still are."""
    summaries = []
    for account in polling_accounts() if accounts is None else accounts:
        for kind in kinds_for(account):
            account.refresh_from_db()
            gap = min_interval_s(account) if force else None
            if not is_due(account, kind, gap_s=gap):
                continue
            summary = PollSummary(account=account.name, kind=kind.name)
            outcome = poll_once(account, kind, gap_s=gap)
            if outcome.claimed:
                summary.calls, summary.items, summary.stored = 1, outcome.items, outcome.stored
                summary.rate_limited = outcome.rate_limited
                summary.errors += [outcome.error] if outcome.error else []
                if outcome.more_waiting:
                    sleep(min_interval_s(account))
                    more = poll_account(account, kind, max_calls=MAX_CALLS_PER_RUN - 1, sleep=sleep)
                    summary.calls += more.calls
                    summary.items += more.items
                    summary.stored += more.stored
                    summary.rate_limited |= more.rate_limited
                    summary.errors += more.errors
            summaries.append(summary)
    return summaries


def run(
    seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[PollSummary]:
    """Poll every polling account at its interval for ``seconds``: what the minutely task runs.

    django-q2 schedules run at most once a minute, while vendors allow a poll every 5-8 s, so
    one scheduled run keeps polling for most of its minute: each pass polls what is due (one
    call per account and kind; a kind the vendor says has more waiting becomes due again after
    the vendor's minimum interval, up to ``MAX_CALLS_PER_RUN`` calls), then sleeps until the
    next poll falls due.  One worker serves every account, whatever their number.  Ends at
    once when no account polls."""
    deadline = clock() + seconds
    apply_pending()
    totals: dict[tuple[int, str], PollSummary] = {}
    draining: set[tuple[int, str]] = set()
    while True:
        accounts = polling_accounts()
        if not accounts:
            break
        wait = float(seconds)
        for account in accounts:
            for kind in kinds_for(account):
                key = (account.pk, kind.name)
                summary = totals.setdefault(key, PollSummary(account.name, kind.name))
                gap = min_interval_s(account) if key in draining else interval_s(account)
                if summary.calls < MAX_CALLS_PER_RUN and is_due(account, kind, gap_s=gap):
                    outcome = poll_once(account, kind, gap_s=gap)
                    if outcome.claimed:
                        summary.calls += 1
                        summary.items += outcome.items
                        summary.stored += outcome.stored
                        summary.rate_limited |= outcome.rate_limited
                        summary.errors += [outcome.error] if outcome.error else []
                        if outcome.more_waiting and not outcome.rate_limited:
                            draining.add(key)
                        else:
                            draining.discard(key)
                        gap = min_interval_s(account) if key in draining else interval_s(account)
                if summary.calls < MAX_CALLS_PER_RUN:
                    wait = min(wait, _wait_s(account, kind, gap))
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(max(0.2, min(wait, remaining)))
    return [s for s in totals.values() if s.calls]


def _wait_s(account: VendorAccount, kind: Kind, gap_s: float) -> float:
    """Seconds until ``kind`` is next due for ``account`` (0 if it is due now)."""
    now = timezone.now()
    moments = []
    last = getattr(account, kind.polled_field)
    if last is not None:
        moments.append(last + _seconds(gap_s))
    if account.poll_backoff_until:
        moments.append(account.poll_backoff_until)
    if not moments:
        return 0.0
    return max(0.0, (max(moments) - now).total_seconds())


def _finish(account, kind: Kind, when, *, error: str = "", backoff_until=None) -> None:
    """Record a call's end (and its error or back-off).  A successful poll clears an error a
    poll left, never one the sending pipeline or a balance check recorded."""
    changes: dict = {kind.polled_field: when}
    if backoff_until is not None:
        changes["poll_backoff_until"] = backoff_until
    accounts = VendorAccount.objects.filter(pk=account.pk)
    if error:
        changes["last_error"] = error
    else:
        prefixes = set()
        for language in ("en", settings.LANGUAGE_CODE):
            with translation.override(language):
                prefixes |= {_polling_label(k) + ":" for k in KINDS}
        poll_error = Q()
        for prefix in prefixes:
            poll_error |= Q(last_error__startswith=prefix)
        accounts.filter(poll_error).update(last_error="")
    accounts.update(**changes)
    for name, value in changes.items():
        setattr(account, name, value)


def _polling_label(kind: Kind) -> str:
    return _("Polling reports") if kind is REPORTS else _("Polling replies")


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
