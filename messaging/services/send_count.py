"""The whole list's figures for a send, when the list is too long to count while a page waits.

The confirmation, the approval review and the admin's send page count the first
``INLINE_ROWS`` recipients themselves (``compliance.check(limit=…)``: the samples, the
sensitive-word check and the figures of a short list, in about 0.1 s).  A longer list is
counted by a task (``run``; a million recipients take several seconds, and a page that
counted them itself took 5–10 s).  Until it is done the page says so, and how far it is, and
the portal's confirmation offers no button: the person confirms the figures of the list as it
is, never those of its first recipients.

A count is kept under a key of everything its figures depend on (``key``) and read for
``FRESH_FOR``: the frequency caps move as other campaigns send.  The start applies every rule
again as it writes the messages (``sending``), so a count is what the page tells the person,
never what decides who is sent to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from ..models import Campaign, Recipient, SendCount, Suppression
from . import approval, compliance
from .compose import Preview

logger = logging.getLogger(__name__)

INLINE_ROWS = 5_000
"""A page counts this many recipients itself; a longer list is counted by ``run``."""
FRESH_FOR = timedelta(minutes=10)
"""A finished count is shown this long, then made again (the caps move as others send)."""
STALLED_AFTER = timedelta(minutes=2)
"""A count whose task has not said how far it is for this long lost its worker: started again
by the next page view.  The task speaks every ``compose.PROGRESS_EVERY`` recipients."""


@dataclass
class Whole:
    """A page's preview with the whole list's figures, when they are known."""

    preview: Preview
    """The page's preview: its figures are the whole list's when ``known``, else those of the
    first ``INLINE_ROWS`` recipients (the samples are always the first recipients')."""
    total: int
    """The recipients in the list."""
    count: SendCount | None = None
    """The task's count; None when the page read every recipient itself."""

    @property
    def known(self) -> bool:
        return self.count is None or self.count.state == SendCount.State.DONE

    @property
    def counting(self) -> bool:
        return self.count is not None and self.count.state == SendCount.State.COUNTING

    @property
    def counted_at(self) -> datetime | None:
        """When the task finished the figures shown (None when the page counted itself)."""
        return self.count.finished_at if self.count is not None and self.known else None


def whole(
    campaign: Campaign, preview: Preview, *, exclude_missing: bool, now: datetime | None = None
) -> Whole:
    """``preview`` (the page's, of the first ``INLINE_ROWS`` recipients) for the whole list:
    itself when it read every recipient; with the figures of a fresh count of this send
    when one is done; otherwise as it is, while a count is started (or found under way).
    ``now``: the compliance clock the caps are counted at (a count's age is told by the
    database's time)."""
    if preview.recipients < INLINE_ROWS:
        return Whole(preview, preview.recipients)
    total = Recipient.objects.filter(recipient_list_id=campaign.recipient_list_id).count()
    if preview.recipients >= total:
        return Whole(preview, total)
    wanted = key(campaign, total, now or compliance.clock())
    count = _fresh_or_started(campaign, wanted, total, timezone.now())
    if count.state == SendCount.State.DONE:
        preview = with_figures(preview, count.figures, exclude_missing=exclude_missing)
    return Whole(preview, total, count)


def checked(
    campaign: Campaign, *, user, exclude_missing: bool, reason: str = ""
) -> tuple[compliance.Verdict, Whole]:
    """A confirmation page's checks (``compliance.check``), counting the first
    ``INLINE_ROWS`` recipients, with the whole list's figures in the verdict when known."""
    verdict = compliance.check(
        campaign, user=user, reason=reason, exclude_missing=exclude_missing, limit=INLINE_ROWS
    )
    found = whole(
        campaign, verdict.preview, exclude_missing=exclude_missing, now=verdict.checked_at
    )
    verdict.preview = found.preview
    return verdict, found


def counted(campaign: Campaign, *, exclude_missing: bool) -> Preview | None:
    """The whole list's figures of a fresh count of the send as it is now, when one is done
    (None otherwise): what a confirmation without a page's preview (the admin's) gives the
    balance rule, instead of counting a million recipients again before the start.  Nothing
    is looked up when the account's balance is unknown: the rule has nothing to compare."""
    account = campaign.vendor_account
    if account.balance is None:
        return None
    total = Recipient.objects.filter(recipient_list_id=campaign.recipient_list_id).count()
    found = SendCount.objects.filter(
        campaign=campaign, key=key(campaign, total, compliance.clock())
    ).first()
    if found is None or found.state != SendCount.State.DONE or _stale(found, timezone.now()):
        return None
    empty = Preview(
        balance=account.balance,
        balance_unit=account.balance_unit,
        price_per_part=account.price_per_part,
    )
    return with_figures(empty, found.figures, exclude_missing=exclude_missing)


def key(campaign: Campaign, total: int, now: datetime) -> str:
    """What a count's figures depend on: the message as sent, the account (its signature,
    suffix and encoding: any saved change), the list (its size and newest recipient), the
    suppressions in force (marketing only) and the frequency caps as of ``now``."""
    recipients = Recipient.objects.filter(recipient_list_id=campaign.recipient_list_id)
    newest = recipients.order_by("-pk").values_list("pk", flat=True).first()
    suppressions = (
        Suppression.objects.aggregate(
            n=Count("pk"), added=Max("created_at"), lifted=Max("lifted_at")
        )
        if campaign.template.is_marketing
        else None
    )
    content = {
        "message": approval.fingerprint(campaign),
        "account": campaign.vendor_account.updated_at,
        "list": [total, newest],
        "suppressions": suppressions,
        "caps": repr(compliance.cap_rule(campaign, now)),
    }
    encoded = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _stale(count: SendCount, now: datetime) -> bool:
    if count.state == SendCount.State.DONE:
        return count.finished_at is None or count.finished_at < now - FRESH_FOR
    if count.state == SendCount.State.COUNTING:
        return count.updated_at < now - STALLED_AFTER
    return True  # failed: counted again


def _fresh_or_started(campaign: Campaign, key: str, total: int, now: datetime) -> SendCount:
    found = SendCount.objects.filter(campaign=campaign, key=key).first()
    if found is not None and not _stale(found, now):
        return found
    with transaction.atomic():
        # Counts under another key are of a send that no longer is.
        SendCount.objects.filter(campaign=campaign).exclude(key=key).delete()
        if found is None:
            try:
                with transaction.atomic():
                    count = SendCount.objects.create(
                        campaign=campaign, key=key, total=total, started_at=now
                    )
            except IntegrityError:  # another page view started it a moment ago
                return SendCount.objects.get(campaign=campaign, key=key)
        else:
            # Started again only by the view that saw it stale (the heartbeat is compared).
            restarted = SendCount.objects.filter(pk=found.pk, updated_at=found.updated_at).update(
                state=SendCount.State.COUNTING,
                total=total,
                counted=0,
                figures={},
                error="",
                started_at=now,
                updated_at=now,
                finished_at=None,
            )
            count = SendCount.objects.get(pk=found.pk)
            if not restarted:
                return count
        transaction.on_commit(lambda: _enqueue(count.pk))
    return count


def _enqueue(count_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "messaging.tasks.count_send",
        count_id,
        group="count",
        q_options={"task_name": f"count send {count_id}"},
    )


UNCONFIRMED = (Campaign.State.DRAFT, Campaign.State.SCHEDULED)
"""The campaigns a count is for: those whose confirmation page can still be shown."""


class _Superseded(Exception):
    """The count was started again, its send changed, or its campaign is confirmed: its
    figures would be of nothing."""


def run(count_id: int) -> str:
    """The task: count the whole list as the start would send it (leaving out the
    recipients missing a value; ``with_figures`` adds them back for the other choice),
    saying how far it is as it goes."""
    wanted = SendCount.objects.filter(
        state=SendCount.State.COUNTING, campaign__status__in=UNCONFIRMED
    )
    count = (
        wanted.select_related(
            "campaign__template", "campaign__vendor_account", "campaign__recipient_list"
        )
        .filter(pk=count_id)
        .first()
    )
    if count is None:
        return f"count {count_id}: nothing to count"
    # Stopped (at the next word of progress) when started again, or when its campaign is
    # confirmed: the figures would be of nothing, and a count of a million beside the start
    # delayed its first message by 3 s.
    this_run = wanted.filter(pk=count_id, started_at=count.started_at)

    def progress(counted: int) -> None:
        if not this_run.update(counted=counted, updated_at=timezone.now()):
            raise _Superseded

    try:
        preview = compliance.counted_preview(
            count.campaign, True, compliance.clock(), progress=progress
        )
    except _Superseded:
        return f"count {count_id}: superseded"
    except Exception as exc:
        logger.exception("count %s of campaign %s failed", count_id, count.campaign_id)
        now = timezone.now()
        this_run.update(
            state=SendCount.State.FAILED,
            error=type(exc).__name__,
            updated_at=now,
            finished_at=now,
        )
        return f"count {count_id}: failed ({type(exc).__name__})"
    now = timezone.now()
    this_run.update(
        state=SendCount.State.DONE,
        counted=preview.recipients,
        figures=figures(preview),
        updated_at=now,
        finished_at=now,
    )
    return f"count {count_id}: {preview.recipients} recipients, {preview.sendable} to send"


FIGURES = (
    "recipients",
    "suppressed",
    "capped",
    "missing",
    "missing_count",
    "unencodable",
    "unencodable_count",
    "sendable",
    "total_segments",
    "withheld_segments",
)
"""What a count keeps of its preview: the figures, not the samples or the balance (those are
the page's own, read as it is shown)."""


def figures(preview: Preview) -> dict:
    return {name: getattr(preview, name) for name in FIGURES}


def with_figures(preview: Preview, kept: dict, *, exclude_missing: bool) -> Preview:
    """``preview`` with a count's figures (counted leaving out the recipients missing a
    value): the same as a preview of the whole list with ``exclude_missing``."""
    merged = dataclasses.replace(
        preview,
        **{name: kept[name] for name in FIGURES},
    )
    merged.missing = [(phone, list(names)) for phone, names in kept["missing"]]
    merged.unencodable = [(phone, list(chars)) for phone, chars in kept["unencodable"]]
    if not exclude_missing:
        merged.sendable += merged.missing_count + merged.unencodable_count
        merged.total_segments += merged.withheld_segments
        merged.withheld_segments = 0
    return merged


def latest(campaign: Campaign) -> SendCount | None:
    """The campaign's count, as a page polling its progress reads it (one at most: a
    count under a new key removes the others)."""
    return SendCount.objects.filter(campaign=campaign).order_by("-started_at").first()
