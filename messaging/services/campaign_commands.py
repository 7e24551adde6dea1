"""Every change of a campaign's state, and only here (see ``Campaign`` for the diagram).

The admin, the marketer's pages and the tasks call these; nothing else writes
``Campaign.status`` or its approval (``tests/sending/test_campaign_commands.py`` keeps it so).
Commands that need work done afterwards (a start, batches to send) enqueue it once the
transaction commits.  Each command that changes what is sent records itself in the audit
trail, once.  A campaign that needs approval (``services.approval``) starts, or its schedule
takes effect, only with an approval that still holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import Action, record
from accounts.roles import SUBMIT, can

from ..models import ArchiveState, Campaign, Message, SendBatch
from ..statuses import Status
from . import alerts, approval, lifecycle, wording
from .sql import locks

State = Campaign.State
STARTABLE = (State.DRAFT, State.SCHEDULED, State.STARTING)
WRITING = (State.STARTING, State.SENDING, State.PAUSED)
"""States in which a start under way writes its next chunk (a cancel stops it)."""
SCHEDULE_PREFIX = "campaign "


class CampaignError(Exception):
    """A command cannot be carried out; the message is for the marketer.  Raised where a task
    and not the marketer runs the command (a start), it is written in both languages
    (``wording.both``) and reads in the active one; ``stored`` is what a campaign keeps as its
    reason."""

    @property
    def stored(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return wording.shown(self.stored)


# Reasons a campaign or its messages keep, read later in either language (``wording``).
OUTSIDE_WINDOW = gettext_lazy("Outside the send window")
CANCELLED = gettext_lazy("Campaign cancelled")
CHANGED_AFTER_APPROVAL = gettext_lazy("Its content, list or account changed after approval.")


def _set(campaign_id: int, allowed, **fields) -> bool:
    """Change the campaign (from one of the ``allowed`` states) under the lock a take-off's
    look waits for (``sql.locks``): a request either left before this or does not leave."""
    with transaction.atomic(savepoint=False):  # nothing here to roll back on its own
        campaigns = Campaign.objects.filter(pk=campaign_id, status__in=allowed)
        if campaigns.select_for_update().values_list("pk", flat=True).first() is None:
            return False
        return bool(campaigns.update(**fields))


# --------------------------------------------------------------------------- starting


def _require_approval(campaign: Campaign) -> None:
    if reason := approval.blocking_reason(campaign):
        raise CampaignError(reason)


def confirm(campaign: Campaign, *, exclude_missing: bool) -> str:
    """The marketer (or administrator) confirmed the send: schedule it when its time is in
    the future, otherwise start it now.  Returns "scheduled" or "starting"."""
    if campaign.status not in (State.DRAFT, State.SCHEDULED):
        raise CampaignError(_("Only a draft or scheduled campaign can be sent."))
    _require_approval(campaign)
    if campaign.scheduled_at and campaign.scheduled_at > timezone.now():
        schedule(campaign, campaign.scheduled_at, exclude_missing=exclude_missing)
        return "scheduled"
    request_start(campaign.pk, exclude_missing=exclude_missing)
    return "starting"


def request_start(campaign_id: int, *, exclude_missing: bool | None = None) -> None:
    """Mark the campaign ``starting`` (committed first: a start whose worker dies is found
    and run again by ``sending.recover``) and enqueue its start."""
    campaign = (
        Campaign.objects.select_related("template", "vendor_account").filter(pk=campaign_id).first()
    )
    if campaign is None:
        raise CampaignError(_("Only a draft or scheduled campaign can be started."))
    _require_approval(campaign)
    fields = {"status": State.STARTING, "status_reason": "", "start_requested_at": timezone.now()}
    if exclude_missing is not None:
        fields["exclude_missing"] = exclude_missing
    if not _set(campaign_id, (State.DRAFT, State.SCHEDULED), **fields):
        raise CampaignError(_("Only a draft or scheduled campaign can be started."))
    _drop_schedule(campaign_id)
    record(Action.SENT, campaign)
    transaction.on_commit(lambda: _enqueue_start(campaign_id))


def _enqueue_start(campaign_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "messaging.tasks.start_campaign",
        campaign_id,
        group="start",
        q_options={"task_name": f"start campaign {campaign_id}"},
    )


def schedule(campaign: Campaign, when: datetime, *, exclude_missing: bool) -> None:
    """Start at ``when``: the campaign waits ``scheduled`` and a one-off django-q schedule
    starts it (the dispatcher starts any that is due too, should the schedule be lost)."""
    _require_approval(campaign)
    if not _set(
        campaign.pk,
        (State.DRAFT, State.SCHEDULED),
        status=State.SCHEDULED,
        scheduled_at=when,
        exclude_missing=exclude_missing,
        status_reason="",
    ):
        raise CampaignError(_("Only a draft or scheduled campaign can be scheduled."))
    campaign.scheduled_at, campaign.exclude_missing = when, exclude_missing
    campaign.status = State.SCHEDULED
    _put_schedule(campaign.pk, when)
    record(Action.SCHEDULED, campaign, details={"at": when.isoformat()})


def reschedule(campaign_id: int, when: datetime) -> None:
    """Move a scheduled campaign's time; the django-q schedule moves with it."""
    if when <= timezone.now():
        raise CampaignError(_("Choose a time in the future."))
    if not _set(campaign_id, (State.SCHEDULED,), scheduled_at=when):
        raise CampaignError(_("Only a scheduled campaign can be re-timed."))
    _put_schedule(campaign_id, when)
    record(
        Action.SCHEDULED,
        Campaign.objects.get(pk=campaign_id),
        details={"at": when.isoformat(), "rescheduled": True},
    )


def back_to_draft(campaign_id: int) -> None:
    """A scheduled campaign goes back to draft to be edited: its schedule is dropped, and it
    is sent only once checked and confirmed again (as any draft)."""
    with transaction.atomic():
        if not _set(campaign_id, (State.SCHEDULED,), status=State.DRAFT, status_reason=""):
            raise CampaignError(_("Only a scheduled campaign can be taken back to draft."))
        _drop_schedule(campaign_id)
        record(Action.COMPOSED, Campaign.objects.get(pk=campaign_id), details={"draft": True})


def _put_schedule(campaign_id: int, when: datetime) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=f"{SCHEDULE_PREFIX}{campaign_id}",
        defaults={
            "func": "messaging.tasks.start_scheduled_campaign",
            "args": str(campaign_id),
            "schedule_type": Schedule.ONCE,
            "next_run": when,
            "repeats": 1,
        },
    )


def _drop_schedule(campaign_id: int) -> None:
    from django_q.models import Schedule

    Schedule.objects.filter(name=f"{SCHEDULE_PREFIX}{campaign_id}").delete()


def _approved_when_due(campaign_id: int) -> bool:
    """A scheduled campaign may start only with an approval that still holds; one without
    goes back to draft, with the reason, rather than start (or wait to start) unapproved."""
    campaign = (
        Campaign.objects.select_related("template", "vendor_account").filter(pk=campaign_id).first()
    )
    if campaign is None:
        return False
    reason = wording.both(lambda: approval.blocking_reason(campaign) or "")
    if not reason:
        return True
    if _set(campaign_id, (State.SCHEDULED,), status=State.DRAFT, status_reason=reason):
        _drop_schedule(campaign_id)
    return False


def start_if_due(campaign_id: int) -> bool:
    """A scheduled campaign whose time has come becomes ``starting`` (its schedule and the
    dispatcher both call this; only one wins)."""
    now = timezone.now()
    if not Campaign.objects.filter(
        pk=campaign_id, status=State.SCHEDULED, scheduled_at__lte=now
    ).exists():
        return False
    if not _approved_when_due(campaign_id):
        return False
    started = bool(
        Campaign.objects.filter(
            pk=campaign_id, status=State.SCHEDULED, scheduled_at__lte=now
        ).update(status=State.STARTING, start_requested_at=now)
    )
    if started:
        record(Action.SENT, Campaign.objects.get(pk=campaign_id), details={"scheduled": True})
    return started


def due_scheduled(now=None) -> list[int]:
    now = now or timezone.now()
    ids = list(
        Campaign.objects.filter(status=State.SCHEDULED, scheduled_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    started = []
    for campaign_id in ids:
        if not _approved_when_due(campaign_id):
            continue
        if _set(campaign_id, (State.SCHEDULED,), status=State.STARTING, start_requested_at=now):
            record(Action.SENT, Campaign.objects.get(pk=campaign_id), details={"scheduled": True})
            started.append(campaign_id)
    return started


def chunk_written(
    campaign_id: int, *, first: bool, cursor: int | None, sendable: int, skipped: int
) -> None:
    """A start wrote a chunk (in its transaction): the cursor moves past it (None after the
    last), the counters grow by it (the first chunk sets them), and the campaign is sending
    from the first chunk with a message to send."""
    now = timezone.now()
    fields: dict = {"start_cursor": cursor, "start_progress_at": now}
    if first:
        fields.update(
            status_reason="",
            started_at=now,
            total_count=sendable + skipped,
            pending_count=sendable,
            skipped_count=skipped,
            submitted_count=0,
            delivered_count=0,
            failed_count=0,
            unknown_count=0,
            no_report_count=0,
            segment_count=0,
        )
    else:
        fields.update(
            total_count=F("total_count") + sendable + skipped,
            pending_count=F("pending_count") + sendable,
            skipped_count=F("skipped_count") + skipped,
        )
    Campaign.objects.filter(pk=campaign_id).update(**fields)
    if sendable:
        _set(campaign_id, STARTABLE, status=State.SENDING)
    elif first:
        _set(campaign_id, (State.DRAFT, State.SCHEDULED), status=State.STARTING)


def end_start(campaign_id: int) -> None:
    """A start under way stops writing (its campaign was cancelled meanwhile)."""
    Campaign.objects.filter(pk=campaign_id).update(start_cursor=None)


def fail_written_start(campaign_id: int, reason: str) -> None:
    """A start whose chunks, all written, hold nobody to send to fails as if nothing had been
    written: its (skipped) messages go."""
    Message.objects.filter(campaign_id=campaign_id).delete()
    Campaign.objects.filter(pk=campaign_id).update(
        start_cursor=None, total_count=0, pending_count=0, skipped_count=0
    )
    fail_start(campaign_id, reason)


def fail_start(campaign_id: int, reason: str) -> bool:
    """A start that cannot be done (compliance, nobody to send to): the reason is kept."""
    return _set(
        campaign_id,
        STARTABLE,
        status=State.FAILED,
        status_reason=reason,
        finished_at=timezone.now(),
    )


def lost_starts(requested_before: datetime) -> list[int]:
    """Starts not running: campaigns ``starting`` since before ``requested_before``, and
    starts under way (chunks left, the campaign maybe sending or paused already) that wrote
    no chunk since then.  Run here from where they stopped (a start holds the campaign's
    start lock, ``sql.locks.hold_start``, while it writes a chunk: one that is writing is
    skipped; between two chunks, the cursor read under that lock keeps two starts from
    writing a recipient twice)."""
    from .sending import start_campaign

    restarted = []
    waiting = (
        Campaign.objects.filter(
            Q(status=State.STARTING, start_requested_at__lt=requested_before)
            | Q(status__in=WRITING, start_cursor__isnull=False)
        )
        .exclude(start_progress_at__gte=requested_before)
        .values_list("pk", flat=True)
    )
    for campaign_id in list(waiting):
        try:
            result = start_campaign(campaign_id, skip_locked=True, on_chunk=enqueue_batches)
        except CampaignError as exc:
            fail_start(campaign_id, exc.stored)
            continue
        if result is not None:
            restarted.append(campaign_id)
    return restarted


def enqueue_batches(batch_ids: list[int]) -> None:
    from django_q.tasks import async_task

    if not batch_ids:
        return
    SendBatch.objects.filter(pk__in=batch_ids).update(enqueued_at=timezone.now())
    for batch_id in batch_ids:
        async_task(
            "messaging.tasks.send_batch",
            batch_id,
            group="send",
            q_options={"task_name": f"send batch {batch_id}"},
        )


# --------------------------------------------------------------------------- while sending


def pause(
    campaign_id: int, reason: str = "", cause: Campaign.PauseCause = Campaign.PauseCause.PERSON
) -> bool:
    """Pause a sending campaign: no request leaves for it after this commits (a batch waiting
    for its turn goes back untouched; one already at the vendor finishes).  A campaign the
    send window paused stays paused when paused by hand: it is not resumed by itself."""
    by_window = Campaign.objects.filter(
        pk=campaign_id, status=State.PAUSED, resume_at__isnull=False
    )
    paused = bool(
        by_window.update(resume_at=None, status_reason=reason, pause_cause=cause)
    ) or _set(
        campaign_id,
        (State.SENDING,),
        status=State.PAUSED,
        status_reason=reason,
        pause_cause=cause,
    )
    if paused:
        record(
            Action.PAUSED,
            Campaign.objects.get(pk=campaign_id),
            details={"reason": wording.shown(reason)},
        )
    return paused


def pause_by_hand(campaign_id: int, user) -> bool:
    """A user paused the campaign (portal or admin): the reason names them."""
    return pause(
        campaign_id,
        wording.both(lambda: _("Paused by %(user)s") % {"user": user}),
        Campaign.PauseCause.PERSON,
    )


def pause_for_window(campaign_id: int, until: datetime) -> bool:
    """The send window closed while the campaign was sending: pause it until it opens again
    (``until``), when ``resume_due`` resumes it."""
    return _set(
        campaign_id,
        (State.SENDING,),
        status=State.PAUSED,
        status_reason=wording.both(OUTSIDE_WINDOW),
        pause_cause=Campaign.PauseCause.WINDOW,
        resume_at=until,
    )


def resume_due(now: datetime | None = None) -> list[int]:
    """Resume the campaigns the send window paused whose window has opened (the minutely
    dispatcher); returns their ids."""
    now = now or timezone.now()
    due = list(
        Campaign.objects.filter(status=State.PAUSED, resume_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    resumed = []
    for campaign_id in due:
        try:
            resume(campaign_id)
        except CampaignError:
            continue  # resumed or cancelled meanwhile
        resumed.append(campaign_id)
    return resumed


def pause_for_account(campaign_id: int, reason: str) -> bool:
    """The vendor refused because of the account (credentials, balance, sender number,
    signature) or kept refusing: pause with the vendor's words for the marketer to see, and
    alert the operators (``services.alerts``; resolved once the campaign is no longer paused)."""
    paused = pause(
        campaign_id,
        wording.both(lambda: _("Paused: %(reason)s") % {"reason": wording.shown(reason)}),
        Campaign.PauseCause.VENDOR,
    )
    if paused:
        campaign = Campaign.objects.only("pk", "name").get(pk=campaign_id)
        alerts.raise_alert(
            alerts.Kind.PAUSED_BY_VENDOR,
            campaign,
            lambda: (
                _("Campaign “%(name)s” was paused: the vendor refused the account: %(reason)s")
                % {"name": campaign.name, "reason": wording.shown(reason)}
            ),
        )
    return paused


def in_flight_count(campaign_id: int) -> int:
    """Messages handed to the vendor and not answered yet (they finish after a pause)."""
    return Message.objects.filter(campaign_id=campaign_id, status=Status.SUBMITTING).count()


def pause_summary(campaign_id: int) -> str:
    """What a pause did, truthfully: nothing more leaves, but a request already at the vendor
    gets its answer."""
    out = in_flight_count(campaign_id)
    if not out:
        return _("Paused: no further message will be sent.")
    return _(
        "Paused: no further message will be sent.  %(n)d messages were already with the "
        "vendor; their answers are recorded as they come."
    ) % {"n": out}


def resume(campaign_id: int) -> list[int]:
    """Back to sending; its waiting batches go to the queue now (their back-off dropped)."""
    with transaction.atomic():
        if not _set(
            campaign_id,
            (State.PAUSED,),
            status=State.SENDING,
            status_reason="",
            pause_cause="",
            resume_at=None,
        ):
            raise CampaignError(_("Only a paused campaign can be resumed."))
        batches = SendBatch.objects.filter(campaign_id=campaign_id, state=SendBatch.State.PENDING)
        batch_ids = list(batches.values_list("pk", flat=True))
        batches.update(not_before=None)
        transaction.on_commit(lambda: enqueue_batches(batch_ids))
        complete_if_done(campaign_id)
        record(Action.RESUMED, Campaign.objects.get(pk=campaign_id))
    return batch_ids


def cancel_by_hand(campaign_id: int, user) -> int:
    """A user cancelled the campaign (portal or admin): the reason names them."""
    return cancel(campaign_id, wording.both(lambda: _("Cancelled by %(user)s") % {"user": user}))


def cancel(campaign_id: int, reason: str = "") -> int:
    """Stop for good: messages not yet on their way are skipped; a request already at the
    vendor finishes.  Returns how many messages were withdrawn."""
    with transaction.atomic():
        # A start under way writes no further chunk: this waits for a chunk being written,
        # whose messages are then withdrawn with the others.
        locks.hold_start(campaign_id)
        if not _set(
            campaign_id,
            (State.DRAFT, State.SCHEDULED, State.STARTING, State.SENDING, State.PAUSED),
            status=State.CANCELLED,
            status_reason=reason,
            finished_at=timezone.now(),
            start_cursor=None,
        ):
            raise CampaignError(_("This campaign can no longer be cancelled."))
        _drop_schedule(campaign_id)
        withdrawn = lifecycle.withdraw(campaign_id, wording.both(CANCELLED))
        SendBatch.objects.filter(campaign_id=campaign_id, state=SendBatch.State.PENDING).update(
            state=SendBatch.State.DONE, finished_at=timezone.now(), error="cancelled"
        )
        record(
            Action.CANCELLED,
            Campaign.objects.get(pk=campaign_id),
            details={"reason": wording.shown(reason), "withdrawn": withdrawn},
        )
    return withdrawn


def complete_if_done(campaign_id: int) -> bool:
    """A sending campaign whose start has written its last chunk and none of whose batches
    is waiting or out is completed."""
    if (
        SendBatch.objects.filter(campaign_id=campaign_id)
        .exclude(state=SendBatch.State.DONE)
        .exists()
    ):
        return False
    return bool(
        Campaign.objects.filter(
            pk=campaign_id, status=State.SENDING, start_cursor__isnull=True
        ).update(status=State.COMPLETED, finished_at=timezone.now())
    )


# --------------------------------------------------------------------------- unknown outcomes


def end_report_waits(now=None) -> int:
    """Unknown messages whose account's report window has passed since they left become
    "no report": final for the campaign, never billed, and resendable only by choice."""
    now = now or timezone.now()
    ended = 0
    waiting = Campaign.objects.filter(unknown_count__gt=0).values_list(
        "pk", "vendor_account__report_window_hours"
    )
    for campaign_id, hours in waiting:
        cutoff = now - timedelta(hours=hours)
        pks = list(
            Message.objects.filter(
                campaign_id=campaign_id, status=Status.UNKNOWN, submitted_at__lt=cutoff
            ).values_list("pk", flat=True)[:10_000]
        )
        if pks:
            with transaction.atomic():
                ended += len(
                    lifecycle.end_wait(
                        pks,
                        wording.both(
                            lambda hours=hours: (
                                _(
                                    "No report within %(hours)d hours: the vendor may or may not "
                                    "have sent it."
                                )
                                % {"hours": hours}
                            )
                        ),
                        now,
                    )
                )
    return ended


def resend_unresolved(campaign_id: int, *, by: str = "") -> int:
    """The marketer's explicit choice: send again every message of the campaign whose outcome
    is unknown or that got no report.  Some may reach the phone twice (the vendor may have
    sent the first try).  Returns how many go again."""
    from .sending import MAX_BATCH, SINGLE_SEND_BATCH

    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status not in (State.COMPLETED, State.PAUSED, State.SENDING):
            raise CampaignError(_("Only a sent campaign's unresolved messages can be sent again."))
        if campaign.archive_state not in (ArchiveState.NONE, ArchiveState.FAILED):
            raise CampaignError(_("This campaign is archived: its messages cannot be sent again."))
        pks = list(
            Message.objects.filter(
                campaign_id=campaign_id, status__in=[Status.UNKNOWN, Status.NO_REPORT]
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not pks:
            raise CampaignError(_("No message of this campaign is unresolved."))
        why = wording.both(lambda: _("Sent again by %(user)s") % {"user": by or "?"})
        moved = [pk for pk, _old, _error in lifecycle.resend(pks, why)]
        last = campaign.batches.order_by("-number").first()
        shape = last.request_shape if last else "single"
        size = SINGLE_SEND_BATCH if shape == "single" else MAX_BATCH
        number = last.number if last else 0
        batch_ids = []
        for start in range(0, len(moved), size):
            chunk = moved[start : start + size]
            number += 1
            batch = SendBatch.objects.create(
                campaign=campaign, number=number, size=len(chunk), request_shape=shape
            )
            Message.objects.filter(pk__in=chunk).update(send_batch=batch)
            batch_ids.append(batch.pk)
        _set(
            campaign_id,
            (State.COMPLETED, State.PAUSED, State.SENDING),
            status=State.SENDING,
            status_reason="",
            finished_at=None,
        )
        transaction.on_commit(lambda: enqueue_batches(batch_ids))
        record(Action.SENT, campaign, details={"resent_unresolved": len(moved)})
    return len(moved)


# --------------------------------------------------------------------------- approval


def _set_approval(campaign: Campaign, allowed, **fields) -> bool:
    """Write the approval fields of a campaign not yet sent whose approval is in one of the
    ``allowed`` states (compare-and-set: two reviewers cannot both decide)."""
    updated = Campaign.objects.filter(
        pk=campaign.pk, status__in=approval.OPEN_STATES, approval_status__in=allowed
    ).update(**fields)
    if updated:
        for name, value in fields.items():
            setattr(campaign, name, value)
    return bool(updated)


def submit(campaign: Campaign, *, user) -> None:
    """The author asks for approval of the campaign as it is now."""
    if not can(user, SUBMIT):
        raise CampaignError(_("You may not submit campaigns for approval."))
    if campaign.status != State.DRAFT:
        raise CampaignError(_("Only a draft can be submitted for approval."))
    if approval.holds(campaign):
        raise CampaignError(_("This campaign is already approved."))
    if not _set_approval(
        campaign,
        (Campaign.Approval.NONE, Campaign.Approval.REJECTED, Campaign.Approval.APPROVED),
        approval_status=Campaign.Approval.PENDING,
        approved_by=None,
        approved_at=None,
        approval_comment="",
        approval_fingerprint=approval.fingerprint(campaign),
    ):
        raise CampaignError(_("This campaign is already awaiting approval."))
    record(Action.SUBMITTED, campaign)


def approve(campaign: Campaign, *, user, comment: str = "", seen: str | None = None) -> None:
    """An approver who is not the author approves the campaign as ``seen`` (the fingerprint
    of what the review page showed: a change made meanwhile is not approved unseen)."""
    _decide(campaign, user, Campaign.Approval.APPROVED, comment, seen)
    record(Action.APPROVED, campaign, details={"comment": comment})


def reject(campaign: Campaign, *, user, comment: str, seen: str | None = None) -> None:
    """An approver who is not the author rejects the campaign, saying why."""
    if not comment.strip():
        raise CampaignError(_("Say why the campaign is rejected."))
    _decide(campaign, user, Campaign.Approval.REJECTED, comment, seen)
    record(Action.REJECTED, campaign, details={"comment": comment})


def _decide(campaign: Campaign, user, outcome: str, comment: str, seen: str | None) -> None:
    if refusal := approval.review_refusal(user, campaign):
        raise CampaignError(refusal)
    now_fingerprint = approval.fingerprint(campaign)
    if seen is not None and seen != now_fingerprint:
        raise CampaignError(
            _("The campaign changed while you reviewed it: review it again as it is now.")
        )
    if not _set_approval(
        campaign,
        (Campaign.Approval.PENDING,),
        approval_status=outcome,
        approved_by=user,
        approved_at=timezone.now(),
        approval_comment=comment.strip(),
        approval_fingerprint=now_fingerprint,
    ):
        raise CampaignError(_("This campaign is not awaiting approval."))


def void_if_changed(campaign: Campaign) -> bool:
    """The campaign's content, list or account may have changed: an approval that no longer
    holds is voided (audited) and a campaign scheduled on its strength goes back to draft.
    Every place that saves a campaign's message, list or account calls this.  True when an
    approval was voided."""
    campaign.refresh_from_db(
        fields=["approval_status", "approval_fingerprint", "status", "template"]
    )
    if campaign.approval_status != Campaign.Approval.APPROVED or approval.holds(campaign):
        return False
    with transaction.atomic():
        if not _set_approval(
            campaign,
            (Campaign.Approval.APPROVED,),
            approval_status=Campaign.Approval.NONE,
            approval_fingerprint="",
        ):
            return False
        reason = wording.both(CHANGED_AFTER_APPROVAL)
        if _set(campaign.pk, (State.SCHEDULED,), status=State.DRAFT, status_reason=reason):
            _drop_schedule(campaign.pk)
            campaign.status = State.DRAFT
        record(Action.APPROVAL_VOIDED, campaign, details={"reason": wording.shown(reason)})
    return True


def void_changed_using(template) -> int:
    """A template changed (in the admin's library): void the approvals it no longer holds
    for the campaigns not yet sent that send it.  Returns how many were voided."""
    approved = Campaign.objects.filter(
        template=template,
        approval_status=Campaign.Approval.APPROVED,
        status__in=approval.OPEN_STATES,
    )
    return sum(void_if_changed(campaign) for campaign in approved)
