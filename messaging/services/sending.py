"""Starting campaigns and sending their batches exactly once.

A batch goes ``pending → claimed → sending → answered → done`` (see ``SendBatch``):

1. *Claim* (``claim_batch``): one worker takes the batch (a row lock plus a conditional state
   change) and holds a lease it keeps renewing (``_Lease``).  Its messages stay ``queued``: a
   worker that dies while it waits for the account's rate slot or builds the request leaves
   nothing at the vendor, and ``recover`` gives the batch back to the queue.
2. *Take off* (``take_off``): right before the request leaves, one transaction looks at the
   campaign once more (a pause or cancel acknowledged on the page stops it here: the batch
   goes back untouched) and marks the messages ``submitting``.  Committed before the call.
3. *Answer*: every recipient's answer is decided by the one outcome table
   (``services.outcomes``); recipients the request shape cannot carry are sent again singly.
   The decisions are stored on the batch (``answered``) and committed *before* they are
   applied, with retries over a dropped database connection (and a spool file as a last
   resort), so the vendor's answer is never lost.
4. *Apply* (``apply_answer``): each disposition becomes a ``lifecycle`` move, requeues and
   account problems put the batch back with its delay or pause the campaign.

``recover`` (run by the dispatcher and after every batch) takes over what a dead worker held:
a claimed batch goes back to the queue, an answered one is applied, and only a batch whose
request was out becomes ``unknown`` — reconciled from delivery reports, never re-sent.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import Action, record

from ..models import Campaign, Message, Recipient, SendBatch, VendorAccount
from ..statuses import Status
from ..vendors.base import OutgoingMessage, VendorClient, VendorError
from ..vendors.registry import vendor
from . import campaign_commands, compliance, lifecycle, wording
from .compose import (
    Encodability,
    full_text,
    message_parts,
    placeholders,
    render,
    template_values,
)
from .deadlocks import retry_on_deadlock
from .outcomes import MAX_REQUEUES, Decision, Disposition, backoff_s, decide
from .reports import match_orphaned_reports, match_waiting_reports
from .sql import campaign_start, locks

log = logging.getLogger(__name__)

# Reasons a campaign or its messages keep, read later in either language (``wording``).
NOBODY_LEFT = gettext_lazy("No recipient is left to send to.")
WORKER_STOPPED = gettext_lazy(
    "The worker stopped while the request was at the vendor: the vendor may have this message."
)

SINGLE_SEND_BATCH = 50
"""Messages per batch for vendors without a personalised send (sent one request each)."""
MAX_BATCH = 25_000
"""Cap on one request even where a vendor allows more (ashx5g: 50,000 personalised): a lost
answer leaves at most this many messages unknown, and a worker holds one batch in memory
(25,000 keep a worker near 150 MB; 50,000 took it to 200–300 MB, for no more messages per
second in send_bench)."""
LEASE = timedelta(seconds=getattr(settings, "SENDING_LEASE_S", 15))
"""How long a batch stays a worker's after its last sign of life (renewed every
``HEARTBEAT_S`` while the worker lives): a dead worker's batch is taken over within this,
plus one ``recover`` run."""
HEARTBEAT_S = LEASE.total_seconds() / 4
INLINE_RETRY_S = 60.0
"""A requeue due within this many seconds is retried by the same task, to the second; a
longer one is left to the dispatcher."""
START_GRACE = timedelta(seconds=getattr(settings, "SENDING_START_GRACE_S", 20))
"""A campaign ``starting`` for longer than this without a start running is started again."""
ENQUEUED_STALE = timedelta(minutes=2)
DB_RETRIES = 8


CRASH_AT_ENV = "SMSPORTAL_CRASH_AT"
DROP_DB_AT_ENV = "SMSPORTAL_DROP_DB_AT"


CRASH_ONCE_ENV = "SMSPORTAL_CRASH_ONCE_FILE"


def crash_point(name: str) -> None:
    """Fault injection for the kill tests (tests/sending/test_kill.py): when the environment
    names this point, the process is killed here with SIGKILL — no cleanup, no rollback
    handlers — exactly as a crashed or OOM-killed worker would stop.  With
    ``CRASH_ONCE_ENV`` naming a file, only the first process to get here dies (a task
    cluster respawns its workers, which must then go on).  ``DROP_DB_AT_ENV`` instead closes
    the database connection under Django's feet, as a restarted server or a network cut
    would."""
    if os.environ.get(CRASH_AT_ENV) == name:
        once = os.environ.get(CRASH_ONCE_ENV)
        if once:
            try:
                os.close(os.open(once, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(DROP_DB_AT_ENV) == name and connection.connection is not None:
        connection.connection.close()


CampaignError = campaign_commands.CampaignError
"""A campaign cannot be started or changed; the message is for the marketer."""


# --------------------------------------------------------------------------- starting


FIRST_CHUNK = 1_000
"""Recipients in a start's first chunk: small, so its first batch leaves within a second or
two of the confirm whatever the list's size (a smaller first batch where the vendor's is
larger)."""
CHUNK = 50_000
"""Recipients in each further chunk (a whole number of batches where a batch is smaller):
each is one short transaction of a second or so, its batches enqueued once it commits."""


@dataclass(frozen=True)
class StartResult:
    messages: int
    skipped: int
    batches: list[int]
    done: bool = True
    """The last chunk is written (False: chunks are left)."""


def start_campaign(
    campaign_id: int,
    *,
    exclude_missing: bool | None = None,
    skip_locked: bool = False,
    on_chunk: Callable[[list[int]], None] | None = None,
) -> StartResult | None:
    """Create the campaign's messages and batches, chunk after chunk until the list is done
    (``start_chunk``); ``on_chunk`` gets each chunk's batches once it commits (the task
    enqueues them there: the first batches are sent while the rest is being written).
    Returns the totals of the chunks written here; None when there was nothing to do (another
    start holds the campaign, with ``skip_locked``, or finished it)."""
    total: StartResult | None = None
    while True:
        step = start_chunk(
            campaign_id,
            exclude_missing=exclude_missing,
            skip_locked=skip_locked,
            on_chunk=on_chunk,
            continuing=total is not None,
        )
        if step is None:
            return total
        if total is not None:
            step = StartResult(
                total.messages + step.messages,
                total.skipped + step.skipped,
                total.batches + step.batches,
                step.done,
            )
        total = step
        if total.done:
            return total
        crash_point("between_chunks")


def start_chunk(
    campaign_id: int,
    *,
    exclude_missing: bool | None = None,
    skip_locked: bool = False,
    on_chunk: Callable[[list[int]], None] | None = None,
    continuing: bool = False,
) -> StartResult | None:
    """Write the start's next chunk in one transaction holding the campaign's start: the next
    recipients after ``Campaign.start_cursor`` (by pk), their messages and batches, the
    cursor moved past them and the counters raised, all committed together.  A start that
    dies loses at most the chunk it was writing (rolled back); ``recover`` runs it on from
    the cursor, so every recipient gets exactly one message.

    The first chunk checks the campaign (compliance; with ``exclude_missing`` off, the whole
    list for missing values) and resets its counters; the campaign is ``sending`` from the
    first chunk that has a sendable message, and cannot complete before the last chunk
    (``start_cursor`` is None again then).  Recipients are unique per list; suppressed phones
    (for marketing) and, with ``exclude_missing`` (default: the campaign's own choice),
    recipients lacking a variable become ``skipped`` messages with the reason, so the
    campaign's numbers add up to its list.  A campaign cancelled meanwhile gets no further
    chunk; a paused one does (its batches wait for the resume).  With ``skip_locked`` a
    campaign another start holds is left to it (returns None); ``continuing``: only a start
    under way is continued (None once it is finished or cancelled)."""
    failed = ""
    with transaction.atomic():
        # The start's own lock, not the campaign's row: take-offs of the batches written so
        # far go on while this chunk is written (``sql.locks``).
        if not locks.hold_start(campaign_id, wait=not skip_locked):
            return None
        campaign = (
            Campaign.objects.select_related("template", "vendor_account")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None:
            return None
        first = campaign.start_cursor is None
        if first and continuing:
            return None  # finished (by another start) or cancelled meanwhile
        if first and campaign.status not in campaign_commands.STARTABLE:
            if skip_locked:
                return None
            raise CampaignError(_("Only a draft or scheduled campaign can be started."))
        if not first and campaign.status not in campaign_commands.WRITING:
            campaign_commands.end_start(campaign.pk)  # cancelled (or failed) meanwhile
            return None
        if exclude_missing is None:
            exclude_missing = campaign.exclude_missing
        plan = _plan(campaign, check=first)
        size = _chunk_size(plan.batch_size, first=first)
        after = campaign.start_cursor or 0
        pks = list(
            Recipient.objects.filter(recipient_list_id=campaign.recipient_list_id, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        sendable = skipped = 0
        batch_ids: list[int] = []
        if pks:
            span = campaign_start.Span(
                after=after,
                upto=pks[-1],
                size=len(pks),
                numbered=0 if first else campaign.total_count,
                batches=0 if first else _batches_written(campaign.pk),
            )
            sendable, skipped, batch_ids = campaign_start.write_messages(
                plan, span, check_all=first and not exclude_missing
            )
        last = len(pks) < size
        if last and not sendable and campaign.status in campaign_commands.STARTABLE:
            # Nobody in the whole list can be sent to: the start fails having written nothing.
            failed = wording.both(NOBODY_LEFT)
            if first:
                raise CampaignError(failed)
            campaign_commands.fail_written_start(campaign.pk, failed)
        else:
            crash_point("start_before_commit")
            campaign_commands.chunk_written(
                campaign.pk,
                first=first,
                cursor=None if last else pks[-1],
                sendable=sendable,
                skipped=skipped,
            )
            if batch_ids and on_chunk is not None:
                transaction.on_commit(lambda: on_chunk(batch_ids))
            if last:
                campaign_commands.complete_if_done(campaign.pk)
    if failed:
        raise CampaignError(failed)
    return StartResult(sendable, skipped, batch_ids, done=last)


def _plan(campaign: Campaign, *, check: bool) -> campaign_start.Plan:
    """How the campaign's messages are written: request shape, batch size, rules."""
    template, account = campaign.template, campaign.vendor_account
    if check:
        verdict = compliance.check(campaign, purpose=compliance.START)
        if not verdict.ok:
            # Written in both languages: a task starts a scheduled campaign.
            raise CampaignError(
                wording.both(
                    lambda: " ".join(
                        map(str, compliance.check(campaign, purpose=compliance.START).problems)
                    )
                )
            )
    capabilities = vendor(account.vendor).capabilities
    names = placeholders(template.body)
    template_id = ""
    if template.needs_vendor_approval:
        template_id = template.registrations.get(vendor_account=account).vendor_template_id
    if template_id:
        shape, batch_size = "template", capabilities.max_personalised_per_request or 1
    elif not names:
        shape, batch_size = "same", capabilities.max_numbers_per_request
    elif capabilities.max_personalised_per_request:
        shape, batch_size = "personalised", capabilities.max_personalised_per_request
    else:
        shape, batch_size = "single", SINGLE_SEND_BATCH
    batch_size = min(batch_size, MAX_BATCH)
    # On PostgreSQL the database renders and writes every message itself (same rules, no
    # rows through Python); elsewhere they stream through Python: see campaign_start.
    return campaign_start.Plan(
        campaign=campaign,
        account=account,
        shape=shape,
        batch_size=batch_size,
        template_values=bool(template_id),
        suppress=template.is_marketing,
        cap=compliance.cap_rule(campaign),
        segment_limits=(
            *capabilities.sms_segment_chars,
            *capabilities.ascii_segment_chars,
        ),
    )


def _chunk_size(batch_size: int, *, first: bool) -> int:
    """Recipients in the next chunk: ``FIRST_CHUNK`` or ``CHUNK``, a whole number of batches
    where a batch is smaller."""
    target = FIRST_CHUNK if first else CHUNK
    if batch_size >= target:
        return target
    return target // batch_size * batch_size


def _batches_written(campaign_id: int) -> int:
    return SendBatch.objects.filter(campaign_id=campaign_id).aggregate(n=Max("number"))["n"] or 0


# --------------------------------------------------------------------------- one batch


@dataclass(frozen=True)
class BatchOutcome:
    state: str
    submitted: int = 0
    failed: int = 0
    unknown: int = 0
    requeued: int = 0
    error: str = ""


@dataclass(frozen=True, order=True, slots=True)
class ClaimedMessage:
    """What sending a claimed message needs (not a model instance: batches hold 50,000)."""

    pk: int
    phone: str
    content: str
    segments: int
    variables: list
    custom_id: str


def _held(batch_pk: int):
    return SendBatch.objects.filter(
        pk=batch_pk,
        state__in=[SendBatch.State.CLAIMED, SendBatch.State.SENDING, SendBatch.State.ANSWERED],
    )


def claim_batch(batch_id: int) -> tuple[SendBatch, list[int]] | None:
    """Take a pending batch of a sending campaign (commits) and read which of its messages
    are queued (their pks, in order: what they carry is read once, as they take off).
    Returns None when another worker has it, its campaign is not sending, or its back-off has
    not passed.  Nothing about the messages changes yet."""
    now = timezone.now()
    with transaction.atomic():
        batches = SendBatch.objects.select_related(
            "campaign", "campaign__vendor_account", "campaign__template"
        )
        if connection.features.has_select_for_update_skip_locked:
            batches = batches.select_for_update(skip_locked=True, of=("self",))
        batch = batches.filter(pk=batch_id, state=SendBatch.State.PENDING).first()
        if batch is None or batch.campaign.status != Campaign.State.SENDING:
            return None
        if batch.not_before and batch.not_before > now:
            return None
        batch.state, batch.claimed_at = SendBatch.State.CLAIMED, now
        batch.lease_until = now + LEASE
        batch.attempts += 1
        batch.save(update_fields=["state", "claimed_at", "lease_until", "attempts"])
    return batch, _queued_messages(batch.pk)


def _queued_messages(batch_pk: int) -> list[int]:
    return sorted(
        Message.objects.filter(send_batch_id=batch_pk, status=Status.QUEUED).values_list(
            "pk", flat=True
        )
    )


class _Lease:
    """Keeps a claimed batch's lease in the future while this worker lives: a thread renews
    it every ``HEARTBEAT_S``.  A SIGKILLed worker stops renewing, and ``recover`` takes the
    batch over once the lease has run out."""

    def __init__(self, batch_pk: int):
        self.batch_pk = batch_pk
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{batch_pk}", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=HEARTBEAT_S * 2)

    def _run(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_S):
                try:
                    _held(self.batch_pk).update(lease_until=timezone.now() + LEASE)
                except Exception:  # a renewal can fail (locked, connection lost): try again
                    log.warning("batch=%s lease renewal failed", self.batch_pk, exc_info=True)
        finally:
            connection.close()


def send_batch(batch_id: int) -> BatchOutcome:
    """Claim, send and record one batch.  Safe to call any number of times."""
    claimed = claim_batch(batch_id)
    if claimed is None:
        return BatchOutcome(state="not_claimed")
    batch, messages = claimed
    with _Lease(batch.pk), _no_cycle_collection():
        return _send_claimed(batch, messages)


@contextmanager
def _no_cycle_collection():
    """Python's cycle collector off while a batch is sent.  A batch builds and keeps some
    hundred thousand small objects (its messages, the request, the vendor's answer, the
    decisions), none of them in a reference cycle, and each time they grow by a quarter the
    collector walks every object of the process: in a profile of batches of 25,000 it took
    ~40 % of the worker's CPU.  Memory is freed by reference counting as before; whatever
    cycles a batch leaves are collected once it is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def retry_due_in(batch_id: int) -> float | None:
    """Seconds until a requeued batch may go again (None when it is not waiting)."""
    not_before = (
        SendBatch.objects.filter(pk=batch_id, state=SendBatch.State.PENDING)
        .values_list("not_before", flat=True)
        .first()
    )
    return None if not_before is None else (not_before - timezone.now()).total_seconds()


def _send_claimed(batch: SendBatch, messages: list[int]) -> BatchOutcome:
    account = batch.campaign.vendor_account
    client = account.client()
    totals: defaultdict[str, int] = defaultdict(int)
    vendor_ids: list[str] = []
    state, error = SendBatch.State.DONE, ""
    for wave in _waves(batch, account, messages):
        if not wait_for_rate_slot(account, batch, len(wave)):
            state = release(batch.pk)
            break
        crash_point("after_claim")
        taken = take_off(batch, wave)
        if taken is None:
            state = release(batch.pk)
            break
        crash_point("in_flight")
        decisions = _ask_vendor(client, batch, taken)
        crash_point("after_answer")
        if not store_answer(batch.pk, decisions):
            state = SendBatch.State.DONE  # recover had it; the answer is applied anyway
            break
        crash_point("answer_stored")
        result = apply_answer(batch.pk, decisions)
        vendor_ids += [
            d.vendor_message_id
            for d in decisions.values()
            if d.disposition == Disposition.SUBMITTED and d.vendor_message_id
        ]
        for name in ("submitted", "failed", "unknown", "requeued"):
            totals[name] += getattr(result, name)
        state, error = result.state, result.error or error
        if state != SendBatch.State.CLAIMED:
            break
    else:
        if not messages:
            state = release(batch.pk)  # nothing queued: the batch is done
    if vendor_ids:
        # Reports that came before this answer was recorded (``recover`` sweeps any missed).
        retry_on_deadlock(lambda: match_waiting_reports(account, vendor_ids))
    return BatchOutcome(state=state, error=error, **totals)


def _waves(batch: SendBatch, account: VendorAccount, messages: list[int]):
    """The batch as it goes out: one request, or — for single sends — groups the account's
    rate limit lets out in about a second each, so a pause stops a throttled batch between
    two of them."""
    if batch.request_shape != "single" or not messages:
        if messages:
            yield messages
        return
    size = max(1, min(len(messages), account.rate_limit_per_s))
    for start in range(0, len(messages), size):
        yield messages[start : start + size]


def take_off(batch: SendBatch, wave: list[int]) -> list[ClaimedMessage] | None:
    """The last look before the request leaves: if the campaign is still sending, mark the
    wave's messages (pks) ``submitting`` (committed before the vendor is called) and the
    batch ``sending``; returns what the request needs of them.  The campaign is looked at
    under a lock a status change waits for (``sql.locks``), so a pause or cancel either
    happened before (nothing leaves: None) or waits for this to commit."""
    now = timezone.now()

    def look_and_take_off():
        with transaction.atomic():
            if locks.look_at_campaign(batch.campaign_id) != Campaign.State.SENDING:
                return None
            # Marketing messages leave only within the send window: a batch due after it
            # closes waits, its campaign paused until the next opening.  (Two take-offs
            # pausing at once wait for each other's look: the database aborts one, which
            # runs again and finds the campaign paused.)
            if compliance.hold_outside_window(batch.campaign, compliance.clock()):
                return None
            if not _held(batch.pk).update(
                state=SendBatch.State.SENDING, lease_until=now + LEASE, error=""
            ):
                return None  # recover took it over: this worker has nothing to send
            return lifecycle.take_off(batch.pk, wave, now)

    rows = retry_on_deadlock(look_and_take_off)
    if rows is None:
        return None
    return sorted(ClaimedMessage(*row) for row in rows)


def release(batch_pk: int) -> str:
    """Give a claimed batch back (its campaign was paused or cancelled, the rate wait was cut
    short, or nothing of it is left to send): pending while messages are queued in it, else
    done.  Returns its new state."""
    with transaction.atomic():
        left = Message.objects.filter(send_batch_id=batch_pk, status=Status.QUEUED).exists()
        state = SendBatch.State.PENDING if left else SendBatch.State.DONE
        _held(batch_pk).update(
            state=state,
            lease_until=None,
            enqueued_at=None,
            finished_at=None if left else timezone.now(),
        )
        campaign_id = SendBatch.objects.values_list("campaign_id", flat=True).get(pk=batch_pk)
        campaign_commands.complete_if_done(campaign_id)
    return state


def _outgoing(message: ClaimedMessage) -> OutgoingMessage:
    return OutgoingMessage(
        custom_id=message.custom_id,
        phone=message.phone,
        content=message.content,
        variables=tuple(message.variables or ()),
    )


def _ask_vendor(
    client: VendorClient, batch: SendBatch, taken: list[ClaimedMessage]
) -> dict[int, Decision]:
    """Send the wave and decide every recipient's answer; recipients the request shape
    cannot carry go again one by one."""
    try:
        answers = submit(client, batch, taken)
    except VendorError as exc:
        answers = dict.fromkeys((m.custom_id for m in taken), exc)
    except Exception as exc:  # an adapter bug after the request may have left
        log.exception("batch=%s campaign=%s adapter failed", batch.pk, batch.campaign_id)
        answers = dict.fromkeys((m.custom_id for m in taken), exc)
    decisions = {m.pk: decide(answers.get(m.custom_id)) for m in taken}
    singles = [m for m in taken if decisions[m.pk].disposition == Disposition.RESEND_SINGLE]
    if singles:
        again = _send_singles(client, [_outgoing(m) for m in singles])
        for message in singles:
            decision = decide(again.get(message.custom_id))
            if decision.disposition == Disposition.RESEND_SINGLE:
                decision = Decision(
                    Disposition.FAILED,
                    code=decision.code,
                    reason=wording.both(
                        lambda why=decision.reason: (
                            _("No request of this vendor can carry this message: %(why)s")
                            % {"why": wording.shown(why)}
                        )
                    ),
                )
            decisions[message.pk] = decision
    return decisions


def submit(client: VendorClient, batch: SendBatch, messages: list[ClaimedMessage]) -> dict:
    """Send in the batch's request shape; map custom id → SubmitResult or VendorError."""
    outgoing = [_outgoing(m) for m in messages]
    shape = batch.request_shape
    if shape == "same" and len(outgoing) > 1:
        results = client.send_same(outgoing, outgoing[0].content)
    elif shape == "personalised" and len(outgoing) > 1:
        results = client.send_personalised(outgoing)
    elif shape == "template":
        template_id = batch.campaign.template.registrations.get(
            vendor_account=batch.campaign.vendor_account
        ).vendor_template_id
        results = client.send_template(template_id, outgoing)
    else:
        return _send_singles(client, outgoing)
    return {r.custom_id: r for r in results}


def _send_singles(client: VendorClient, outgoing: list[OutgoingMessage]) -> dict:
    def one(message: OutgoingMessage):
        try:
            return message.custom_id, client.send_single(message)
        except VendorError as exc:
            return message.custom_id, exc
        except Exception as exc:
            log.exception("adapter failed on a single send")
            return message.custom_id, exc

    workers = max(1, min(client.capabilities.max_concurrent_requests, len(outgoing)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, outgoing))


# --------------------------------------------------------------------------- the answer


def _encode(decisions: dict[int, Decision]) -> list[list]:
    return [
        [
            pk,
            d.disposition.value,
            d.vendor_message_id,
            d.vendor_batch_id,
            d.code,
            d.reason,
            d.retry_after,
        ]
        for pk, d in decisions.items()
    ]


def _decode(rows: list[list]) -> dict[int, Decision]:
    return {
        int(pk): Decision(Disposition(kind), vendor_id, batch_id, code, reason, float(retry))
        for pk, kind, vendor_id, batch_id, code, reason, retry in rows
    }


def _durably(operation, what: str):
    """Run a database operation that must not be lost, again and again over a dropped or
    restarted database connection (each try opens a new one).  Raises after
    ``DB_RETRIES`` tries."""
    for attempt in range(1, DB_RETRIES + 1):
        try:
            return operation()
        except DatabaseError as exc:
            if attempt == DB_RETRIES or not _connection_lost(exc):
                raise
            log.warning(
                "%s: database unavailable (%s); try %s of %s",
                what,
                exc.__class__.__name__,
                attempt + 1,
                DB_RETRIES,
            )
            connection.close()
            time.sleep(min(20.0, 0.5 * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")


def _connection_lost(exc: DatabaseError) -> bool:
    """Errors that a new connection may cure (PostgreSQL restarted or the network cut:
    OperationalError / InterfaceError; SQLite says its handle is closed)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return "closed" in str(exc).lower()


def spool_dir() -> Path:
    return Path(getattr(settings, "SPOOL_DIR", settings.BASE_DIR / "var" / "spool"))


def store_answer(batch_pk: int, decisions: dict[int, Decision]) -> bool:
    """Make the vendor's answer durable before anything is applied.  If the database stays
    out of reach through every retry, the answer goes to a spool file that ``recover``
    stores on its next run: it is never thrown away.  A batch ``recover`` already took for
    lost (this worker was slow, not dead) gets the answer applied to its messages at once
    (``apply_late_answer``); returns False then."""
    encoded = _encode(decisions)

    def store():
        with transaction.atomic():
            return SendBatch.objects.filter(pk=batch_pk, state=SendBatch.State.SENDING).update(
                state=SendBatch.State.ANSWERED, answer=encoded
            )

    try:
        if not _durably(store, f"batch {batch_pk}: storing the vendor's answer"):
            _durably(
                lambda: retry_on_deadlock(lambda: apply_late_answer(decisions)),
                f"batch {batch_pk}: applying a late answer",
            )
            return False
        return True
    except DatabaseError:
        path = spool_dir() / f"answer-{batch_pk}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(encoded))
        log.error("batch=%s database unreachable; the answer is spooled at %s", batch_pk, path)
        raise


def apply_late_answer(decisions: dict[int, Decision]) -> None:
    """The vendor's answer for messages whose batch was already taken for lost (they were
    made ``unknown``): what it says the vendor did is still the truth, and outranks
    "unknown" (forward only: a report may have said more meanwhile).  A requeue or an account
    problem is not acted on here: those messages stay unknown, never re-sent blindly."""
    now = timezone.now()
    with transaction.atomic():
        lifecycle.record_submitted(
            [
                (pk, d.vendor_message_id, d.vendor_batch_id)
                for pk, d in decisions.items()
                if d.disposition == Disposition.SUBMITTED
            ]
        )
        failed = [
            (pk, d)
            for pk, d in decisions.items()
            if d.disposition in (Disposition.FAILED, Disposition.RESEND_SINGLE)
        ]
        for (code, reason), pks in _grouped(failed, lambda d: (d.code, d.reason)).items():
            lifecycle.record_refused(pks, code, reason, now)


def apply_answer(batch_pk: int, decisions: dict[int, Decision] | None = None) -> BatchOutcome:
    """Apply an answered batch's decisions (given, or read from the batch) in one
    transaction: lifecycle moves, then the batch's next state and the campaign's.  Idempotent:
    a batch that is no longer ``answered`` changes nothing."""

    def apply():
        with transaction.atomic():
            batch = (
                SendBatch.objects.select_for_update()
                .filter(pk=batch_pk, state=SendBatch.State.ANSWERED)
                .first()
            )
            if batch is None:
                return BatchOutcome(state="not_answered")
            chosen = decisions if decisions is not None else _decode(batch.answer or [])
            outcome = _apply(batch, chosen)
            crash_point("before_commit")
            return outcome

    return _durably(lambda: retry_on_deadlock(apply), f"batch {batch_pk}: applying the answer")


def _apply(batch: SendBatch, decisions: dict[int, Decision]) -> BatchOutcome:
    now = timezone.now()
    by_kind: dict[Disposition, list[tuple[int, Decision]]] = defaultdict(list)
    for pk, decision in decisions.items():
        by_kind[decision.disposition].append((pk, decision))
    submitted = [
        (pk, d.vendor_message_id, d.vendor_batch_id) for pk, d in by_kind[Disposition.SUBMITTED]
    ]
    lifecycle.record_submitted(submitted)
    # Refusals in one batch mostly share their code and words: one statement per reason.
    failed = by_kind[Disposition.FAILED] + by_kind[Disposition.RESEND_SINGLE]
    for (code, reason), pks in _grouped(failed, lambda d: (d.code, d.reason)).items():
        lifecycle.record_refused(pks, code, reason, now)
    for (reason,), pks in _grouped(by_kind[Disposition.UNKNOWN], lambda d: (d.reason,)).items():
        lifecycle.record_unknown(pks, reason)
    back = by_kind[Disposition.PAUSE] + by_kind[Disposition.REQUEUE]
    for (reason,), pks in _grouped(back, lambda d: (d.reason,)).items():
        lifecycle.requeue(pks, reason)

    error = next((d.reason for _, d in back), "") or next(
        (d.reason for _, d in failed + by_kind[Disposition.UNKNOWN]), ""
    )
    batch.answer, batch.error = None, error[:2000]
    if by_kind[Disposition.PAUSE]:
        reason = by_kind[Disposition.PAUSE][0][1].reason
        batch.state, batch.not_before, batch.enqueued_at = SendBatch.State.PENDING, None, None
        campaign_commands.pause_for_account(batch.campaign_id, reason)
    elif by_kind[Disposition.REQUEUE]:
        retry_after = max(d.retry_after for _, d in by_kind[Disposition.REQUEUE])
        delay = backoff_s(retry_after, batch.attempts)
        batch.state = SendBatch.State.PENDING
        batch.not_before = now + timedelta(seconds=delay)
        # Retried by this task when due soon; otherwise the dispatcher enqueues it when due.
        batch.enqueued_at = now if delay <= INLINE_RETRY_S else None
        if batch.attempts >= MAX_REQUEUES:
            campaign_commands.pause_for_account(
                batch.campaign_id,
                wording.both(
                    lambda: (
                        _("The vendor kept refusing (%(n)d tries): %(error)s")
                        % {"n": batch.attempts, "error": wording.shown(error)}
                    )
                ),
            )
    elif Message.objects.filter(send_batch_id=batch.pk, status=Status.QUEUED).exists():
        batch.state = SendBatch.State.CLAIMED  # more waves to go
    else:
        batch.state, batch.finished_at = SendBatch.State.DONE, now
    if batch.state != SendBatch.State.CLAIMED:
        batch.lease_until = None
    batch.save(
        update_fields=[
            "state",
            "answer",
            "error",
            "not_before",
            "enqueued_at",
            "finished_at",
            "lease_until",
        ]
    )
    campaign_commands.complete_if_done(batch.campaign_id)
    return BatchOutcome(
        state=batch.state,
        submitted=len(submitted),
        failed=len(failed),
        unknown=len(by_kind[Disposition.UNKNOWN]),
        requeued=len(back),
        error=batch.error,
    )


def _grouped(rows: list[tuple[int, Decision]], key) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = {}
    for pk, decision in rows:
        groups.setdefault(key(decision), []).append(pk)
    return groups


def wait_for_rate_slot(account: VendorAccount, batch: SendBatch, count: int) -> bool:
    """Reserve room for ``count`` messages under the account's rate limit, shared by every
    worker through the account row, and wait until it starts, looking at the campaign every
    second or two: False when it stopped sending meanwhile (the batch goes back)."""
    with transaction.atomic():
        row = (
            VendorAccount.objects.select_for_update()
            .only("send_slot_at", "rate_limit_per_s")
            .get(pk=account.pk)
        )
        now = timezone.now()
        start = max(now, row.send_slot_at or now)
        row.send_slot_at = start + timedelta(seconds=count / max(1, row.rate_limit_per_s))
        row.save(update_fields=["send_slot_at"])
    while (delay := (start - timezone.now()).total_seconds()) > 0:
        time.sleep(min(delay, 2.0))
        crash_point("rate_wait")
        status = Campaign.objects.filter(pk=batch.campaign_id).values_list("status", flat=True)
        if status.first() != Campaign.State.SENDING:
            return False
    return True


# --------------------------------------------------------------------------- recovery


@dataclass
class Recovery:
    returned: int = 0
    applied: int = 0
    lost: int = 0
    restarted: list[int] | None = None
    enqueue: list[int] | None = None
    matched_reports: int = 0
    no_report: int = 0

    def __str__(self) -> str:
        return (
            f"returned {self.returned}, applied {self.applied}, lost {self.lost}, "
            f"restarted {len(self.restarted or [])}, enqueue {len(self.enqueue or [])}, "
            f"matched {self.matched_reports}, no report {self.no_report}"
        )


def recover(now=None, *, full: bool = True) -> Recovery:
    """Take over what dead workers left, and find the work nobody holds.

    * a batch whose lease ran out: ``claimed`` → back to the queue untouched (nothing left);
      ``answered`` → its stored answer is applied; ``sending`` → its in-flight messages
      become ``unknown`` (the vendor may have them), the rest goes back to the queue;
    * answers spooled while the database was out of reach are stored and applied;
    * campaigns ``starting`` with no start running are started (idempotent: the start holds
      the campaign's start lock and only a ``starting`` campaign starts);
    * pending batches not in the broker (requeued, given back, or their task lost) are
      returned in ``enqueue`` for the caller to enqueue;
    * early reports left unmatched are matched; unknown messages past their account's report
      window become "no report".

    ``full=False`` does only the batches' part: cheap enough to run after every batch.
    """
    now = now or timezone.now()
    result = Recovery(restarted=[], enqueue=[])
    _store_spooled()
    expired = SendBatch.objects.filter(
        state__in=[SendBatch.State.CLAIMED, SendBatch.State.SENDING, SendBatch.State.ANSWERED],
        lease_until__lt=now,
    ).values_list("pk", "state")
    for batch_pk, state in list(expired):
        if state == SendBatch.State.ANSWERED:
            result.applied += apply_answer(batch_pk).state != "not_answered"
            continue
        with transaction.atomic():
            batch = (
                SendBatch.objects.select_for_update()
                .filter(pk=batch_pk, state=state, lease_until__lt=now)
                .first()
            )
            if batch is None:
                continue
            if state == SendBatch.State.SENDING:
                result.lost += len(lifecycle.lose_in_flight(batch_pk, wording.both(WORKER_STOPPED)))
            else:
                result.returned += 1
            left = Message.objects.filter(send_batch_id=batch_pk, status=Status.QUEUED).exists()
            batch.state = SendBatch.State.PENDING if left else SendBatch.State.DONE
            batch.lease_until, batch.enqueued_at = None, None
            batch.finished_at = None if left else now
            batch.save(update_fields=["state", "lease_until", "enqueued_at", "finished_at"])
            campaign_commands.complete_if_done(batch.campaign_id)
    result.enqueue = due_batches(now)
    if full:
        result.restarted = campaign_commands.lost_starts(now - START_GRACE)
        result.matched_reports = match_orphaned_reports()
        result.no_report = campaign_commands.end_report_waits(now)
    return result


def _store_spooled() -> None:
    directory = spool_dir()
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("answer-*.json")):
        batch_pk = int(path.stem.split("-", 1)[1])
        decisions = _decode(json.loads(path.read_text()))
        if SendBatch.objects.filter(pk=batch_pk, state=SendBatch.State.SENDING).update(
            state=SendBatch.State.ANSWERED, answer=_encode(decisions)
        ):
            apply_answer(batch_pk)
        else:  # another host's recover took the batch for lost meanwhile
            retry_on_deadlock(lambda d=decisions: apply_late_answer(d))
        path.unlink()


def due_batches(now=None) -> list[int]:
    """Pending batches of sending campaigns that are due and in nobody's queue: never
    enqueued since they became pending, or enqueued so long ago, with the broker's queue
    empty, that their task must have been lost.  Marked enqueued here."""
    now = now or timezone.now()
    due = SendBatch.objects.filter(
        state=SendBatch.State.PENDING, campaign__status=Campaign.State.SENDING
    ).exclude(not_before__gt=now)
    fresh = list(due.filter(enqueued_at__isnull=True).values_list("pk", flat=True))
    stale: list[int] = []
    if _broker_is_empty():
        stale = list(due.filter(enqueued_at__lt=now - ENQUEUED_STALE).values_list("pk", flat=True))
    ids = sorted(fresh + stale)
    if ids:
        SendBatch.objects.filter(pk__in=ids).update(enqueued_at=now)
    return ids


def _broker_is_empty() -> bool:
    try:
        from django_q.brokers import get_broker

        return get_broker().queue_size() == 0
    except Exception:  # the broker cannot say: never re-enqueue blindly
        return False


def pending_batches(campaign_id: int | None = None) -> list[int]:
    """Pending batches of sending campaigns whose back-off has passed."""
    now = timezone.now()
    batches = SendBatch.objects.filter(
        state=SendBatch.State.PENDING, campaign__status=Campaign.State.SENDING
    ).exclude(not_before__gt=now)
    if campaign_id is not None:
        batches = batches.filter(campaign_id=campaign_id)
    return list(batches.order_by("campaign_id", "number").values_list("pk", flat=True))


# --------------------------------------------------------------------------- test send


def send_test_message(campaign: Campaign, phone: str, *, user=None) -> Message:
    """Send the campaign's first rendered message to one phone now, outside the campaign: by
    the approved vendor template for MMS / video / 5G, as an SMS otherwise.  The checks of
    every send first (``compliance``: a notification needs ``user``'s permission)."""
    template, account = campaign.template, campaign.vendor_account
    verdict = compliance.check(campaign, user=user, purpose=compliance.TEST)
    if not verdict.ok:
        raise CampaignError(" ".join(verdict.problems))
    first = campaign.recipient_list.recipients.order_by("pk").first()
    variables = (first.variables if first else {}) or {}
    rendered, _missing = render(template.body, variables)
    content = full_text(template, account, rendered)
    encodability = Encodability(account)
    if misfits := encodability.misfits(content):
        raise CampaignError(encodability.reason(misfits))
    message = Message.objects.create(
        vendor_account=account,
        phone=phone,
        content=content,
        segments=message_parts(template, content, account),
        custom_id=notification_id(),
        status=Status.SUBMITTING,
        submitted_at=timezone.now(),
        attempts=1,
    )
    client = account.client()
    try:
        if template.needs_vendor_approval:
            template_id = (
                template.registrations.filter(vendor_account=account, review_status="approved")
                .exclude(vendor_template_id="")
                .values_list("vendor_template_id", flat=True)
                .first()
            )
            values = template_values(template.body, variables)
            outgoing = OutgoingMessage(message.custom_id, phone, content, variables=values)
            answer = client.send_template(template_id, [outgoing])[0]
        else:
            answer = client.send_single(OutgoingMessage(message.custom_id, phone, content))
    except VendorError as exc:
        answer = exc
    _record_single_answer(message, answer)
    message.refresh_from_db()
    record(Action.TEST_SENT, campaign, details={"phone": phone, "status": message.status})
    return message


def _record_single_answer(message: Message, answer) -> None:
    """A message sent on its own is not retried or paused for: what the vendor said (or the
    error it raised) is the result."""
    decision = decide(answer)
    with transaction.atomic():
        if decision.disposition == Disposition.SUBMITTED:
            lifecycle.record_submitted(
                [(message.pk, decision.vendor_message_id, decision.vendor_batch_id)]
            )
        elif decision.disposition == Disposition.UNKNOWN:
            lifecycle.record_unknown([message.pk], decision.reason)
        else:
            lifecycle.record_refused([message.pk], decision.code, decision.reason, timezone.now())


# --------------------------------------------------------------------------- notifications


def notification_id() -> str:
    """Our id for a message outside any campaign (as a test send's: a leading 0)."""
    return f"0{time.time_ns() // 1000}"


def can_send_notifications(account: VendorAccount) -> bool:
    """The account can carry a message on its own (its vendor's ``single_sends``)."""
    return account.is_active and vendor(account.vendor).capabilities.single_sends


def send_notification(message_pk: int) -> Message | None:
    """Send one queued message that belongs to no campaign (an opt-out confirmation) as a
    single SMS.  It is not marketing: no suppression or send window applies.  A second run
    for the same message sends nothing (it is no longer queued)."""
    if not lifecycle.take_off_single(message_pk, timezone.now()):
        return None
    message = Message.objects.select_related("vendor_account").get(pk=message_pk)
    try:
        answer = message.vendor_account.client().send_single(
            OutgoingMessage(message.custom_id, message.phone, message.content)
        )
    except Exception as exc:  # an adapter bug must not leave the message "submitting"
        if not isinstance(exc, VendorError):
            log.exception("notification=%s: the adapter failed", message_pk)
        answer = exc
    _record_single_answer(message, answer)
    message.refresh_from_db()
    return message
