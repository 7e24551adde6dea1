"""Starting campaigns and sending their batches exactly once.

The rules that keep a message from being sent twice or lost:

1. A batch is *claimed* (``pending`` → ``sending``, its messages ``queued`` → ``submitting``)
   and committed before the vendor is called.  Only one worker can claim it: the claim is a
   row lock (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serializes writers
   with ``BEGIN IMMEDIATE``) plus a conditional state change.
2. The vendor's answer is recorded per recipient in a second transaction.
3. A worker that dies between 1 and 2 leaves the batch ``sending``; ``sweep_stalled_batches``
   turns its messages ``unknown``: the vendor may have them, so they are reconciled from
   delivery reports and never re-sent.
4. Only errors that prove nothing was accepted (connection refused, rate-limit answers,
   authentication or balance refusals) put messages back to ``queued`` for another try.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Campaign, Message, Recipient, SendBatch, Suppression, VendorAccount
from ..statuses import Status
from ..vendors.base import (
    AmbiguousOutcome,
    OutgoingMessage,
    SubmitResult,
    VendorClient,
    VendorError,
)
from ..vendors.registry import vendor
from . import start_in_database
from .bulk import insert_rows
from .campaigns import record_transitions, refresh_counters
from .compose import (
    MessageRenderer,
    compliance_errors,
    full_text,
    placeholders,
    render,
    segment_count,
)
from .reports import match_waiting_reports

log = logging.getLogger(__name__)

SINGLE_SEND_BATCH = 50
"""Messages per batch for vendors without a personalised send (sent one request each)."""
MAX_BATCH = 50_000
"""Cap on one request even where a vendor allows more (ashx5g: 5 million): pause and cancel
take effect within one batch, and a lost answer leaves at most this many messages unknown."""
MAX_ATTEMPTS = 6
STALL_AFTER = timedelta(minutes=10)
# Errors after which the same request may be tried again unchanged, later.
REQUEUE_KINDS = {"transient", "rate_limited"}
# Errors that stop the whole campaign until someone acts (and accept nothing).
PAUSE_KINDS = {"auth", "balance"}


CRASH_AT_ENV = "SMSPORTAL_CRASH_AT"


def crash_point(name: str) -> None:
    """Fault injection for the kill tests (tests/sending/test_kill.py): when the environment
    names this point, the process is killed here with SIGKILL — no cleanup, no rollback
    handlers — exactly as a crashed or OOM-killed worker would stop."""
    if os.environ.get(CRASH_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class CampaignError(Exception):
    """A campaign cannot be started or changed; the message is for the marketer."""


# --------------------------------------------------------------------------- starting


@dataclass(frozen=True)
class StartResult:
    messages: int
    skipped: int
    batches: list[int]


def start_campaign(campaign_id: int, *, exclude_missing: bool = True) -> StartResult:
    """Create the campaign's messages and batches in bulk and mark it sending.

    Recipients are unique per list; suppressed phones (for marketing) and, with
    ``exclude_missing``, recipients lacking a variable become ``skipped`` messages with the
    reason, so the campaign's numbers add up to its list.  Rows stream from the recipients
    through rendering into COPY one batch at a time, so memory stays flat at any list size,
    and the whole start is one transaction: a failure leaves the campaign as it was.  Call
    ``enqueue_batches`` after the transaction commits (the task does)."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .select_related("template", "vendor_account")
            .get(pk=campaign_id)
        )
        if campaign.status not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
            raise CampaignError(_("Only a draft or scheduled campaign can be started."))
        template, account = campaign.template, campaign.vendor_account
        errors = compliance_errors(template, account)
        if errors:
            raise CampaignError(" ".join(errors))

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

        if renders_in_database():
            # The database renders and writes every message itself (same rules, no rows
            # through Python): see start_in_database.
            plan = start_in_database.Plan(
                campaign=campaign,
                account=account,
                shape=shape,
                batch_size=batch_size,
                template_values=bool(template_id),
                suppress=template.is_marketing,
                segment_limits=(
                    *capabilities.sms_segment_chars,
                    *capabilities.ascii_segment_chars,
                ),
            )
            created = start_in_database.create_messages(plan, exclude_missing=exclude_missing)
            if created.first_missing and not exclude_missing:
                phone, missing = created.first_missing
                raise CampaignError(
                    _(
                        "%(n)d recipients lack a value for a placeholder (first: %(phone)s "
                        "lacks %(names)s)."
                    )
                    % {"n": created.missing, "phone": phone, "names": ", ".join(missing)}
                )
            sendable, skipped, batch_ids = created.sendable, created.skipped, created.batch_ids
        else:
            sendable, skipped, batch_ids = _write_messages_in_python(
                campaign, account, template, shape, batch_size, template_id, exclude_missing
            )
        if not sendable:
            raise CampaignError(_("No recipient is left to send to."))
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.State.SENDING,
            status_reason="",
            started_at=timezone.now(),
            total_count=sendable + skipped,
            pending_count=sendable,
            skipped_count=skipped,
            submitted_count=0,
            delivered_count=0,
            failed_count=0,
            unknown_count=0,
            segment_count=0,
        )
    return StartResult(sendable, skipped, batch_ids)


def renders_in_database() -> bool:
    return connection.vendor == "postgresql"


def _write_messages_in_python(
    campaign, account, template, shape, batch_size, template_id, exclude_missing
) -> tuple[int, int, list[int]]:
    """Render each recipient's message in Python and stream them into the database a batch at
    a time (SQLite; PostgreSQL renders in the database)."""
    names = placeholders(template.body)
    suppressed = (
        set(Suppression.objects.values_list("phone", flat=True)) if template.is_marketing else set()
    )
    writer = _MessageWriter(campaign, account, shape, batch_size)
    renderer = MessageRenderer(template, account)
    missing_count = 0
    # Only the placeholders' values, extracted by the database as text: decoding every
    # recipient's whole JSON in Python cost more than rendering.
    values = {f"v{i}": KeyTextTransform(name, "variables") for i, name in enumerate(names)}
    rows = (
        Recipient.objects.filter(recipient_list=campaign.recipient_list)
        .order_by("pk")
        .annotate(**values)
        .values_list("phone", *values)
    )
    for phone, *variables in rows.iterator(chunk_size=10000):
        content, parts, missing = renderer.render(variables)
        template_values = [v or "" for v in variables] if template_id else None
        if phone in suppressed:
            writer.skip(phone, content, parts, template_values, _("Suppressed (opted out)"))
        elif missing:
            missing_count += 1
            if not exclude_missing:
                raise CampaignError(
                    _(
                        "%(n)d recipients lack a value for a placeholder (first: %(phone)s "
                        "lacks %(names)s)."
                    )
                    % {"n": missing_count, "phone": phone, "names": ", ".join(missing)}
                )
            reason = _("Missing values: %(names)s") % {"names": ", ".join(missing)}
            writer.skip(phone, content, parts, template_values, reason)
        else:
            writer.send(phone, content, parts, template_values)
    writer.flush()
    return writer.sendable, writer.skipped, writer.batch_ids


class _MessageWriter:
    """Collects a campaign's new messages and writes them a batch at a time: the batch row
    first (messages point at it), then its messages through COPY."""

    COLUMNS = (
        "campaign_id",
        "send_batch_id",
        "vendor_account_id",
        "phone",
        "content",
        "segments",
        "variables",
        "custom_id",
        "status",
        "error",
        "vendor_message_id",
        "batch_id",
        "vendor_status_code",
        "vendor_status_description",
        "attempts",
        "created_at",
    )

    def __init__(self, campaign: Campaign, account: VendorAccount, shape: str, batch_size: int):
        self.campaign, self.account = campaign, account
        self.campaign_id, self.account_id = campaign.pk, account.pk
        self.shape, self.batch_size = shape, batch_size
        self.created_at = connection.ops.adapt_datetimefield_value(timezone.now())
        self.pending: list[tuple] = []
        self.skipped_rows: list[tuple] = []
        self.sendable = self.skipped = 0
        self.batch_ids: list[int] = []

    def _row(self, batch_id, phone, content, parts, values, status, error) -> tuple:
        number = self.sendable + self.skipped
        return (
            self.campaign_id,
            batch_id,
            self.account_id,
            phone,
            content,
            parts,
            json.dumps(values, ensure_ascii=False) if values else "[]",
            f"{self.campaign_id}{number:09d}",
            status,
            error,
            "",
            "",
            "",
            "",
            0,
            self.created_at,
        )

    def send(self, phone, content, parts, values) -> None:
        self.sendable += 1
        self.pending.append(self._row(None, phone, content, parts, values, Status.QUEUED, ""))
        if len(self.pending) == self.batch_size:
            self._write_batch()

    def skip(self, phone, content, parts, values, reason) -> None:
        self.skipped += 1
        self.skipped_rows.append(
            self._row(None, phone, content, parts, values, Status.SKIPPED, reason)
        )
        if len(self.skipped_rows) == 10_000:
            insert_rows(Message._meta.db_table, self.COLUMNS, self.skipped_rows)
            self.skipped_rows = []

    def _write_batch(self) -> None:
        batch = SendBatch.objects.create(
            campaign=self.campaign,
            number=len(self.batch_ids) + 1,
            size=len(self.pending),
            request_shape=self.shape,
        )
        self.batch_ids.append(batch.pk)
        insert_rows(
            Message._meta.db_table,
            self.COLUMNS,
            ((row[0], batch.pk, *row[2:]) for row in self.pending),
        )
        self.pending = []

    def flush(self) -> None:
        if self.pending:
            self._write_batch()
        if self.skipped_rows:
            insert_rows(Message._meta.db_table, self.COLUMNS, self.skipped_rows)
            self.skipped_rows = []


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


def claim_batch(batch_id: int) -> tuple[SendBatch, list[ClaimedMessage]] | None:
    """Claim a pending batch of a sending campaign and mark its messages submitting (commits).
    Returns None when another worker has it, or its campaign is not sending."""
    now = timezone.now()
    with transaction.atomic():
        batches = SendBatch.objects.select_related("campaign", "campaign__vendor_account")
        if connection.features.has_select_for_update_skip_locked:
            batches = batches.select_for_update(skip_locked=True, of=("self",))
        batch = batches.filter(pk=batch_id, state=SendBatch.State.PENDING).first()
        if batch is None or batch.campaign.status != Campaign.State.SENDING:
            return None
        if batch.not_before and batch.not_before > now:
            return None
        batch.state, batch.claimed_at = SendBatch.State.SENDING, now
        batch.attempts += 1
        batch.save(update_fields=["state", "claimed_at", "attempts"])
        # One statement claims the batch's queued messages and reads what sending needs.
        table = Message._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, attempts = attempts + 1 "  # noqa: S608
                "WHERE send_batch_id = %s AND status = %s "
                "RETURNING id, phone, content, segments, variables, custom_id",
                [Status.SUBMITTING, batch.pk, Status.QUEUED],
            )
            rows = cursor.fetchall()
        messages = sorted(
            ClaimedMessage(
                pk,
                phone,
                content,
                parts,
                json.loads(values) if isinstance(values, str) else values,
                custom_id,
            )
            for pk, phone, content, parts, values, custom_id in rows
        )
    return batch, messages


def send_batch(batch_id: int) -> BatchOutcome:
    """Claim, send and record one batch.  Safe to call any number of times."""
    claimed = claim_batch(batch_id)
    if claimed is None:
        return BatchOutcome(state="not_claimed")
    batch, messages = claimed
    account = batch.campaign.vendor_account
    if not messages:
        return finish_batch(batch, {}, messages)
    wait_for_rate_slot(account, len(messages))
    client = account.client()
    crash_point("after_claim")
    try:
        outcomes = submit(client, batch, messages)
    except VendorError as exc:
        outcomes = {m.custom_id: exc for m in messages}
    except Exception as exc:  # an adapter bug after the request may have left: ambiguous
        log.exception("adapter failed sending batch %s", batch.pk)
        error = AmbiguousOutcome(repr(exc))
        outcomes = {m.custom_id: error for m in messages}
    crash_point("after_answer")
    return finish_batch(batch, outcomes, messages)


def submit(client: VendorClient, batch: SendBatch, messages: list[ClaimedMessage]) -> dict:
    """Send in the cheapest request shape; map custom id → SubmitResult or VendorError."""
    outgoing = [
        OutgoingMessage(
            custom_id=m.custom_id,
            phone=m.phone,
            content=m.content,
            variables=tuple(m.variables or ()),
        )
        for m in messages
    ]
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
            return message.custom_id, AmbiguousOutcome(repr(exc))

    workers = max(1, min(client.capabilities.max_concurrent_requests, len(outgoing)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, outgoing))


def finish_batch(batch: SendBatch, outcomes: dict, messages: list[ClaimedMessage]) -> BatchOutcome:
    """Record the vendor's answer for every message of a claimed batch (one transaction)."""
    now = timezone.now()
    submitted, failed, unknown, requeue = [], [], [], []
    pause_error: VendorError | None = None
    retry_after = 0.0
    for message in messages:
        outcome = outcomes.get(message.custom_id)
        if isinstance(outcome, SubmitResult):
            if outcome.accepted:
                submitted.append((message.pk, outcome.vendor_message_id, outcome.batch_id))
            else:
                reason = " ".join(filter(None, [outcome.error_code, outcome.error_description]))
                failed.append((message.pk, outcome.error_code, reason or outcome.error_kind))
        elif isinstance(outcome, VendorError) and outcome.kind in PAUSE_KINDS:
            requeue.append(message.pk)
            pause_error = outcome
        elif isinstance(outcome, VendorError) and outcome.kind in REQUEUE_KINDS:
            requeue.append(message.pk)
            retry_after = max(retry_after, getattr(outcome, "retry_after", 0.0))
        elif isinstance(outcome, VendorError) and outcome.retry_safe:
            failed.append((message.pk, outcome.code, str(outcome)))
        elif isinstance(outcome, VendorError):
            unknown.append((message.pk, str(outcome)))
        else:
            # The vendor's answer did not mention this recipient: it may have it.
            unknown.append((message.pk, _("The vendor's answer did not list this number.")))

    segments_of = {m.pk: m.segments for m in messages}
    moved: list[tuple[int, str, str]] = []  # (pk, old status, new status) for the counters
    with transaction.atomic():
        moved += _record_submitted(submitted, now)
        # Refusals in one batch mostly share their code and words: one UPDATE per distinct
        # reason, not one per message.
        for (code, reason), pks in _group_by_reason(failed).items():
            moved += _advance(
                pks,
                Status.FAILED,
                vendor_status_code=code[:32],
                error=reason,
                final_at=now,
            )
        for (reason,), pks in _group_by_reason(unknown).items():
            moved += _advance(pks, Status.UNKNOWN, error=reason)
        if requeue:
            # Back to the queue: still pending, the counters do not move.
            Message.objects.filter(pk__in=requeue, status=Status.SUBMITTING).update(
                status=Status.QUEUED
            )
            batch.state = SendBatch.State.PENDING
            error = pause_error or next(o for o in outcomes.values() if isinstance(o, VendorError))
            batch.error = str(error)
            delay = retry_after or min(300.0, 5.0 * 2 ** (batch.attempts - 1))
            batch.not_before = now + timedelta(seconds=delay)
            if pause_error is not None:
                pause_campaign(batch.campaign_id, str(pause_error))
            elif batch.attempts >= MAX_ATTEMPTS:
                pause_campaign(
                    batch.campaign_id, _("The vendor kept refusing: %(error)s") % {"error": error}
                )
        else:
            batch.state, batch.finished_at = SendBatch.State.DONE, now
            errors = [str(o) for o in outcomes.values() if isinstance(o, VendorError)]
            batch.error = errors[0] if errors else ""
        batch.save(update_fields=["state", "error", "not_before", "finished_at"])
        record_transitions((batch.campaign_id, old, new, segments_of[pk]) for pk, old, new in moved)
        complete_if_done(batch.campaign_id)
        crash_point("before_commit")
    account = batch.campaign.vendor_account
    match_waiting_reports(account, [vendor_id for _, vendor_id, _ in submitted])
    return BatchOutcome(
        state=batch.state,
        submitted=len(submitted),
        failed=len(failed),
        unknown=len(unknown),
        requeued=len(requeue),
        error=batch.error,
    )


def _group_by_reason(rows: list[tuple]) -> dict[tuple, list[int]]:
    """``[(pk, *reason), ...]`` → ``{reason: [pk, ...]}``."""
    groups: dict[tuple, list[int]] = {}
    for pk, *reason in rows:
        groups.setdefault(tuple(reason), []).append(pk)
    return groups


def _advance(pks: list[int], new: str, **fields) -> list[tuple[int, str, str]]:
    """Move ``submitting`` messages among ``pks`` to ``new`` (a report may have moved some
    further already: those keep their status).  Returns the moves made."""
    moved = []
    for start in range(0, len(pks), 5000):
        chunk = pks[start : start + 5000]
        changed = Message.objects.select_for_update().filter(pk__in=chunk, status=Status.SUBMITTING)
        ids = list(changed.values_list("pk", flat=True))  # locked until commit
        Message.objects.filter(pk__in=ids, status=Status.SUBMITTING).update(status=new, **fields)
        moved += [(pk, Status.SUBMITTING, new) for pk in ids]
    return moved


def _record_submitted(rows: list[tuple[int, str, str]], now) -> list[tuple[int, str, str]]:
    """Set vendor ids and move ``submitting`` / ``unknown`` messages to ``submitted`` in bulk;
    returns the moves made.  A message a report already moved further keeps its status
    (forward only) but learns its vendor ids."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        return _record_submitted_postgresql(rows, now)
    table = Message._meta.db_table
    moved = []
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        before = dict(
            Message.objects.filter(pk__in=[pk for pk, _, _ in chunk]).values_list("pk", "status")
        )
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params = [p for row in chunk for p in row]
        sql = (
            f"WITH v(id, vendor_id, batch_id) AS (VALUES {values}) "  # noqa: S608 - placeholders only
            f"UPDATE {table} SET vendor_message_id = v.vendor_id, batch_id = v.batch_id, "
            f"submitted_at = %s, status = CASE WHEN {table}.status IN (%s, %s) THEN %s "
            f"ELSE {table}.status END "
            f"FROM v WHERE {table}.id = CAST(v.id AS bigint)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, now, *ADVANCES_TO_SUBMITTED, Status.SUBMITTED])
        moved += [
            (pk, old, Status.SUBMITTED)
            for pk, old in before.items()
            if old in ADVANCES_TO_SUBMITTED
        ]
    return moved


ADVANCES_TO_SUBMITTED = (Status.SUBMITTING, Status.UNKNOWN)


def _record_submitted_postgresql(rows, now) -> list[tuple[int, str, str]]:
    # Three array parameters instead of 150,000 scalars (whose conversion alone took
    # seconds per batch), and the old status comes back from the same statement: the
    # locking CTE reads each row as the UPDATE finds it.
    ids, vendor_ids, batch_ids = (list(column) for column in zip(*rows, strict=True))
    sql = f"""
        WITH v AS (
            SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, vendor_id, batch_id)
        ), old AS (
            SELECT m.id, m.status FROM {Message._meta.db_table} m JOIN v ON m.id = v.id
            FOR UPDATE OF m
        ), changed AS (
            UPDATE {Message._meta.db_table} m
            SET vendor_message_id = v.vendor_id, batch_id = v.batch_id, submitted_at = %s,
                status = CASE WHEN m.status IN (%s, %s) THEN %s ELSE m.status END
            FROM v JOIN old ON old.id = v.id
            WHERE m.id = v.id
            RETURNING m.id, old.status AS before
        )
        SELECT id, before FROM changed WHERE before IN (%s, %s)
    """  # noqa: S608 - table names only
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                ids,
                vendor_ids,
                batch_ids,
                now,
                *ADVANCES_TO_SUBMITTED,
                Status.SUBMITTED,
                *ADVANCES_TO_SUBMITTED,
            ],
        )
        return [(pk, before, Status.SUBMITTED) for pk, before in cursor.fetchall()]


def wait_for_rate_slot(account: VendorAccount, count: int) -> None:
    """Reserve room for ``count`` messages under the account's rate limit, shared by every
    worker through the account row, and sleep until it starts."""
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
    delay = (start - now).total_seconds()
    if delay > 0:
        time.sleep(delay)


# --------------------------------------------------------------------------- campaign state


def pause_campaign(campaign_id: int, reason: str = "") -> bool:
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Campaign.State.SENDING).update(
            status=Campaign.State.PAUSED, status_reason=reason
        )
    )


def resume_campaign(campaign_id: int) -> list[int]:
    """Back to sending; returns the batches to enqueue again."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign_id, status=Campaign.State.PAUSED).update(
            status=Campaign.State.SENDING, status_reason=""
        ):
            raise CampaignError(_("Only a paused campaign can be resumed."))
        SendBatch.objects.filter(campaign_id=campaign_id, state=SendBatch.State.PENDING).update(
            not_before=None
        )
    return pending_batches(campaign_id)


def cancel_campaign(campaign_id: int, reason: str = "") -> int:
    """Stop for good: messages not yet claimed are skipped.  Batches already at the vendor
    finish normally.  Returns how many messages were withdrawn."""
    with transaction.atomic():
        updated = Campaign.objects.filter(
            pk=campaign_id,
            status__in=[
                Campaign.State.DRAFT,
                Campaign.State.SCHEDULED,
                Campaign.State.SENDING,
                Campaign.State.PAUSED,
            ],
        ).update(status=Campaign.State.CANCELLED, status_reason=reason, finished_at=timezone.now())
        if not updated:
            raise CampaignError(_("This campaign can no longer be cancelled."))
        withdrawn = Message.objects.filter(campaign_id=campaign_id, status=Status.QUEUED).update(
            status=Status.SKIPPED, error=_("Campaign cancelled")
        )
        SendBatch.objects.filter(campaign_id=campaign_id, state=SendBatch.State.PENDING).update(
            state=SendBatch.State.DONE, finished_at=timezone.now(), error="cancelled"
        )
        refresh_counters([campaign_id])
    return withdrawn


def complete_if_done(campaign_id: int) -> bool:
    if SendBatch.objects.filter(
        campaign_id=campaign_id, state__in=[SendBatch.State.PENDING, SendBatch.State.SENDING]
    ).exists():
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Campaign.State.SENDING).update(
            status=Campaign.State.COMPLETED, finished_at=timezone.now()
        )
    )


def pending_batches(campaign_id: int | None = None) -> list[int]:
    """Pending batches of sending campaigns whose back-off has passed."""
    now = timezone.now()
    batches = SendBatch.objects.filter(
        state=SendBatch.State.PENDING, campaign__status=Campaign.State.SENDING
    ).exclude(not_before__gt=now)
    if campaign_id is not None:
        batches = batches.filter(campaign_id=campaign_id)
    return list(batches.order_by("campaign_id", "number").values_list("pk", flat=True))


def sweep_stalled_batches(older_than: timedelta = STALL_AFTER) -> int:
    """Batches left ``sending`` by a worker that died: their messages may be at the vendor, so
    they become ``unknown`` (reconciled by reports), never queued again."""
    cutoff = timezone.now() - older_than
    count = 0
    for batch in SendBatch.objects.filter(state=SendBatch.State.SENDING, claimed_at__lt=cutoff):
        with transaction.atomic():
            if not SendBatch.objects.filter(pk=batch.pk, state=SendBatch.State.SENDING).update(
                state=SendBatch.State.DONE,
                finished_at=timezone.now(),
                error="worker stopped after claiming; outcome unknown",
            ):
                continue
            count += Message.objects.filter(send_batch=batch, status=Status.SUBMITTING).update(
                status=Status.UNKNOWN,
                error=_("The worker stopped while sending: the vendor may have this message."),
            )
            refresh_counters([batch.campaign_id])
            complete_if_done(batch.campaign_id)
    return count


def due_campaigns() -> list[int]:
    return list(
        Campaign.objects.filter(
            status=Campaign.State.SCHEDULED, scheduled_at__lte=timezone.now()
        ).values_list("pk", flat=True)
    )


# --------------------------------------------------------------------------- test send


def send_test_message(campaign: Campaign, phone: str) -> Message:
    """Send the campaign's first rendered message to one phone now, outside the campaign."""
    template, account = campaign.template, campaign.vendor_account
    errors = compliance_errors(template, account)
    if errors:
        raise CampaignError(" ".join(errors))
    first = campaign.recipient_list.recipients.order_by("pk").first()
    rendered, _missing = render(template.body, first.variables if first else {})
    content = full_text(template, account, rendered)
    message = Message.objects.create(
        vendor_account=account,
        phone=phone,
        content=content,
        segments=segment_count(content, account),
        custom_id=f"0{time.time_ns() // 1000}",
        status=Status.SUBMITTING,
        attempts=1,
    )
    try:
        result = account.client().send_single(
            OutgoingMessage(custom_id=message.custom_id, phone=phone, content=content)
        )
    except VendorError as exc:
        status = Status.UNKNOWN if not exc.retry_safe else Status.FAILED
        Message.objects.filter(pk=message.pk).update(status=status, error=str(exc))
        message.refresh_from_db()
        return message
    if result.accepted:
        _record_submitted([(message.pk, result.vendor_message_id, result.batch_id)], timezone.now())
    else:
        Message.objects.filter(pk=message.pk).update(
            status=Status.FAILED,
            vendor_status_code=result.error_code[:32],
            error=result.error_description or result.error_kind,
            final_at=timezone.now(),
        )
    message.refresh_from_db()
    return message
