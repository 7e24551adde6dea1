"""The rules every send keeps, in one place: the portal, the admin, the tasks and the test
send all ask ``check`` (and a confirmation goes through ``confirm_send``).

A campaign may be sent when none of ``CHECKS`` finds a problem:

* the message's rules: a signature, the opt-out suffix of a marketing message, a vendor
  template approved for MMS / video / 5G, an active account (``compose.compliance_errors``);
* sensitive words: the local list (and the vendor's check where it offers one) in the text
  as it will be sent and in the template's body as written;
* a notification (not marketing) goes to suppressed phones and without 回T退订: it needs
  the ``send_notification_campaign`` permission and a reason, recorded in the audit trail;
* the send window (quiet hours): marketing messages only between its opening and closing
  (Asia/Shanghai wall-clock time; by default 08:00–21:00, as the carriers and the cloud
  vendors require for 推广 SMS).  The portal's window (``PortalSettings``), or the vendor
  account's instead, narrowed by the campaign's own.  A confirmation outside it is moved
  to the next opening (``confirm_send``); a campaign still sending when it closes is
  paused by the take-off (``services.sending.take_off``) and resumed at the next opening by
  the dispatcher (``campaign_commands.resume_due``).  Notifications are not held.

The recipients a start leaves out (each a ``skipped`` message with its reason) are counted
in the verdict before the send: suppressed, over a frequency cap, missing a value, text the
account's encoding cannot carry.  Frequency caps (``CapRule``) count the marketing
messages each phone was really sent (the vendor took them: ``SENT_STATUSES``) today and in
the last seven days (Asia/Shanghai days), across every campaign and list (per signature when
the portal says so); the start applies them in its SQL (``sql.campaign_start``).

Another rule is one more function in ``CHECKS``: it gets the ``Context`` and adds to the
``Verdict``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import Action, record

from ..models import Campaign, Message, PortalSettings, Recipient
from . import approval, campaign_commands
from .campaigns import BILLED_STATUSES
from .compose import Preview, compliance_errors, full_text, preview_campaign, signature_for
from .content_checks import (
    ContentVerdict,
    balance_short_error,
    check_message,
    local_sensitive_words,
)

CONFIRM = "confirm"
"""A person confirms a send or a schedule (the portal's confirmation, the admin's send page)."""
START = "start"
"""A task starts a confirmed or scheduled campaign (nobody is there to ask)."""
TEST = "test"
"""A test message to one phone."""

NOTIFICATION_PERMISSION = "messaging.send_notification_campaign"

SUPPRESSED = "suppressed"
FREQUENCY_CAP = "frequency_cap"
MISSING = "missing"
UNENCODABLE = "unencodable"

SENT_STATUSES = tuple(sorted(BILLED_STATUSES))
"""A message counts towards a frequency cap once the vendor took it."""


def rules() -> PortalSettings:
    """The portal's rules.  The test settings relax the send window and the caps
    (``SEND_RULES_ENFORCED``) so that tests of everything else do not depend on the hour they
    run at or on what an earlier test sent; the rules' own tests turn them on."""
    current = PortalSettings.load()
    if not getattr(settings, "SEND_RULES_ENFORCED", True):
        current.send_window_start = current.send_window_end = time(0)
        current.cap_per_day = current.cap_per_week = 0
    return current


# --------------------------------------------------------------------------- the send window


def clock() -> datetime:
    """The time the send window is judged by (a test crossing the window's end moves it)."""
    return timezone.now()


@dataclass(frozen=True)
class Window:
    """Local wall-clock hours between which marketing messages go out; ``start == end``:
    open all day.  A window that crosses midnight (22:00–06:00) is allowed."""

    start: time
    end: time

    @property
    def always(self) -> bool:
        return self.start == self.end

    def is_open(self, when: datetime) -> bool:
        if self.always:
            return True
        clock = timezone.localtime(when).time()
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def next_opening(self, when: datetime) -> datetime:
        """``when`` itself when the window is open then, else when it next opens."""
        if self.is_open(when):
            return when
        local = timezone.localtime(when)
        opening = local.replace(
            hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
        )
        if opening <= local:
            opening += timedelta(days=1)
        # Re-localised: the day added keeps the wall-clock time across an offset change.
        return timezone.make_aware(opening.replace(tzinfo=None))

    def __str__(self) -> str:
        if self.always:
            return _("all day")
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def _narrowed(outer: Window, start: time | None, end: time | None) -> Window | None:
    """``outer`` narrowed by a campaign's own hours (either may be empty); None when they do
    not overlap.  Only a same-day outer window is narrowed by comparison; an all-day one takes
    the campaign's hours as they are."""
    if start is None and end is None:
        return outer
    if outer.always:
        return Window(start or time(0), end or time(0))
    start, end = start or outer.start, end or outer.end
    if outer.start < outer.end:
        start, end = max(start, outer.start), min(end, outer.end)
        if start >= end:
            return None
    return Window(start, end)


def window_for(campaign: Campaign, portal: PortalSettings | None = None) -> Window | None:
    """The window the campaign's messages go out in: None for a notification (never held);
    raises ``CampaignError`` when the campaign's own hours lie outside the account's or
    portal's window."""
    if not campaign.template.is_marketing:
        return None
    portal = portal or rules()
    outer = Window(portal.send_window_start, portal.send_window_end)
    account = campaign.vendor_account
    if account.send_window_start is not None and account.send_window_end is not None:
        outer = Window(account.send_window_start, account.send_window_end)
    if not getattr(settings, "SEND_RULES_ENFORCED", True) and campaign.send_window_start is None:
        return outer
    window = _narrowed(outer, campaign.send_window_start, campaign.send_window_end)
    if window is None:
        raise campaign_commands.CampaignError(
            _("The campaign's send hours lie outside the send window (%(window)s).")
            % {"window": outer}
        )
    return window


def opens_at(campaign: Campaign, now: datetime | None = None) -> datetime | None:
    """When the campaign's messages may next go out: ``now`` inside its window (or for a
    notification), else the next opening.  None when the window cannot be worked out (its
    hours contradict; the confirmation says so)."""
    now = now or clock()
    try:
        window = window_for(campaign)
    except campaign_commands.CampaignError:
        return None
    return now if window is None else window.next_opening(now)


def hold_outside_window(campaign: Campaign, now: datetime) -> bool:
    """The take-off's look at the window: when the campaign may not send now, pause it until
    the next opening (``campaign_commands.pause_for_window``) and say so.  Call with the
    campaign's row held."""
    try:
        window = window_for(campaign)
    except campaign_commands.CampaignError:
        return False  # the confirmation refused it; a later change is the start's to refuse
    if window is None or window.is_open(now):
        return False
    campaign_commands.pause_for_window(campaign.pk, window.next_opening(now))
    return True


def until_text(when: datetime, now: datetime | None = None) -> str:
    """When a paused campaign goes on, in words: "08:00 today", "08:00 tomorrow", or the
    date."""
    now = timezone.localtime(now or timezone.now())
    local = timezone.localtime(when)
    if local.date() == now.date():
        return _("%(time)s today") % {"time": f"{local:%H:%M}"}
    if local.date() == now.date() + timedelta(days=1):
        return _("%(time)s tomorrow") % {"time": f"{local:%H:%M}"}
    return f"{local:%Y-%m-%d %H:%M}"


def paused_text(campaign: Campaign, now: datetime | None = None) -> str:
    """The campaign page's words for a campaign the window paused ("" otherwise)."""
    if campaign.status != Campaign.State.PAUSED or campaign.resume_at is None:
        return ""
    return _("Paused until %(when)s (outside the send window)") % {
        "when": until_text(campaign.resume_at, now)
    }


# --------------------------------------------------------------------------- frequency caps


@dataclass(frozen=True)
class CapRule:
    """A phone is capped when it was sent ``per_day`` marketing messages since ``day_start``
    or ``per_week`` since ``week_start`` (0: that cap is off) by the campaigns
    ``campaign_ids`` (the marketing campaigns that may have sent in the last seven days, of
    the same signature when caps count per signature; never the one starting)."""

    per_day: int
    per_week: int
    day_start: datetime
    week_start: datetime
    campaign_ids: tuple[int, ...]


def cap_rule(campaign: Campaign, now: datetime | None = None) -> CapRule | None:
    """The frequency caps the campaign's start applies (None: none apply — a notification,
    caps off, or no marketing campaign sent in the last seven days)."""
    if not campaign.template.is_marketing:
        return None
    portal = rules()
    if not portal.cap_per_day and not portal.cap_per_week:
        return None
    now = timezone.localtime(now or timezone.now())
    day_start = timezone.make_aware(datetime.combine(now.date(), time(0)))
    week_start = timezone.make_aware(datetime.combine(now.date() - timedelta(days=6), time(0)))
    others = (
        Campaign.objects.filter(template__is_marketing=True, started_at__isnull=False)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=week_start))
        .exclude(pk=campaign.pk)
        .select_related("template", "vendor_account")
    )
    if portal.caps_per_signature:
        signature = signature_for(campaign.template, campaign.vendor_account)
        ids = [
            other.pk
            for other in others
            if signature_for(other.template, other.vendor_account) == signature
        ]
    else:
        ids = list(others.values_list("pk", flat=True))
    if not ids:
        return None
    return CapRule(
        per_day=portal.cap_per_day,
        per_week=portal.cap_per_week,
        day_start=day_start,
        week_start=week_start,
        campaign_ids=tuple(sorted(ids)),
    )


def capped_phones(rule: CapRule | None, phones) -> set[str]:
    """Which of ``phones`` (a queryset of phone values, or a list) are capped by ``rule``:
    one grouped query over the messages sent to them in the last seven days."""
    if rule is None:
        return set()
    sent = Message.objects.filter(
        phone__in=phones,
        campaign_id__in=rule.campaign_ids,
        status__in=SENT_STATUSES,
        submitted_at__gte=rule.week_start,
    )
    over = Q()
    counts = {}
    if rule.per_week:
        counts["week"] = Count("pk")
        over |= Q(week__gte=rule.per_week)
    if rule.per_day:
        counts["day"] = Count("pk", filter=Q(submitted_at__gte=rule.day_start))
        over |= Q(day__gte=rule.per_day)
    return set(
        sent.order_by()
        .values("phone")
        .annotate(**counts)
        .filter(over)
        .values_list("phone", flat=True)
    )


# --------------------------------------------------------------------------- the verdict


@dataclass
class Verdict:
    """What the checks found.  ``problems`` block the send (in words for the user);
    ``preview`` (with ``counts``) is the send as the start will make it; ``window`` and
    ``opens_at`` say when messages may go out."""

    marketing: bool = True
    problems: list[str] = field(default_factory=list)
    preview: Preview | None = None
    sensitive_words: list[str] = field(default_factory=list)
    content: ContentVerdict | None = None
    """The sensitive-word check as the pages show it (not in a task)."""
    window: Window | None = None
    opens_at: datetime | None = None
    checked_at: datetime | None = None
    notification_override: bool = False
    """A notification sent by permission: confirmed with a reason, audited."""
    needs_approval: bool = False
    approved: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def sendable(self) -> int:
        return self.preview.sendable if self.preview is not None else 0

    @property
    def excluded(self) -> dict[str, int]:
        """The recipients the start will leave out, by reason (none without a preview)."""
        preview = self.preview
        if preview is None:
            return {}
        return {
            SUPPRESSED: preview.suppressed,
            FREQUENCY_CAP: preview.capped,
            MISSING: preview.missing_count,
            UNENCODABLE: preview.unencodable_count,
        }

    @property
    def held(self) -> bool:
        """Outside the send window now: the send waits for ``opens_at``."""
        return self.opens_at is not None and self.opens_at > (self.checked_at or timezone.now())


@dataclass
class Context:
    campaign: Campaign
    user: object | None
    purpose: str
    now: datetime
    reason: str = ""
    exclude_missing: bool = True
    counts: bool = False


def check_rules(context: Context, verdict: Verdict) -> None:
    campaign = context.campaign
    verdict.problems += compliance_errors(campaign.template, campaign.vendor_account)


def check_sensitive_words(context: Context, verdict: Verdict) -> None:
    """The local list in the first message as it will be sent and in the body as written;
    the vendor's own check too when a person is waiting for the answer (not in a task)."""
    campaign = context.campaign
    template, account = campaign.template, campaign.vendor_account
    preview = verdict.preview
    text = (
        preview.samples[0][1]
        if preview is not None and preview.samples
        else full_text(template, account, template.body)
    )
    if context.purpose == START:
        words = list(
            dict.fromkeys(local_sensitive_words(text) + local_sensitive_words(template.body))
        )
    else:
        verdict.content = check_message(text, template.body, account)
        words = verdict.content.words
    verdict.sensitive_words = words
    if words:
        verdict.problems.append(
            _("Remove the sensitive words first: %(words)s") % {"words": "、".join(words)}
        )


def check_notification(context: Context, verdict: Verdict) -> None:
    """A notification skips the suppression list and the opt-out suffix: only with the
    permission, and (when confirming) a reason."""
    if verdict.marketing or context.purpose == START:
        return
    user = context.user
    if user is None or not user.has_perm(NOTIFICATION_PERMISSION):
        verdict.problems.append(
            _(
                "Only users allowed to send notifications may send a message that is not "
                "marketing (it goes to opted-out phones and without the opt-out suffix). "
                "Mark it as a marketing message, or ask an administrator."
            )
        )
        return
    if context.purpose == CONFIRM and not context.reason.strip():
        verdict.problems.append(_("Say why this message is a notification and not marketing."))
        return
    verdict.notification_override = True


def check_window(context: Context, verdict: Verdict) -> None:
    try:
        verdict.window = window_for(context.campaign)
    except campaign_commands.CampaignError as exc:
        verdict.problems.append(str(exc))
        return
    if verdict.window is not None:
        when = context.campaign.scheduled_at
        start = when if when and when > context.now else context.now
        verdict.opens_at = verdict.window.next_opening(start)


def check_approval(context: Context, verdict: Verdict) -> None:
    """A campaign over the approval threshold goes only once approved by someone who is not
    its author, for the content it has now (``services.approval``)."""
    verdict.needs_approval = approval.required(context.campaign)
    reason = approval.blocking_reason(context.campaign)
    verdict.approved = reason is None
    if reason and context.purpose != TEST:
        verdict.problems.append(reason)


CHECKS: tuple[Callable[[Context, Verdict], None], ...] = (
    check_rules,
    check_sensitive_words,
    check_notification,
    check_window,
    check_approval,
)
"""Every check a send passes, in order; each adds its problems to the verdict."""


def check(
    campaign: Campaign,
    *,
    user=None,
    purpose: str = CONFIRM,
    reason: str = "",
    exclude_missing: bool = True,
    counts: bool | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> Verdict:
    """Run ``CHECKS`` for ``campaign``.  With ``counts`` (the default when confirming) the
    verdict has the preview of the send and the recipients left out by reason, the
    frequency cap's among them (of the first ``limit`` recipients when given)."""
    now = now or clock()
    counts = purpose == CONFIRM if counts is None else counts
    context = Context(campaign, user, purpose, now, reason, exclude_missing, counts)
    verdict = Verdict(marketing=campaign.template.is_marketing, checked_at=now)
    if counts:
        verdict.preview = counted_preview(campaign, exclude_missing, now, limit)
    for rule in CHECKS:
        rule(context, verdict)
    verdict.problems = list(dict.fromkeys(verdict.problems))
    return verdict


def counted_preview(
    campaign: Campaign,
    exclude_missing: bool,
    now: datetime,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Preview:
    """The send as the start will make it: who is left out (the frequency caps as of
    ``now`` among the reasons), the parts, the cost, whether the balance covers it; of the
    first ``limit`` recipients when given (the caps looked up for those alone: for a list of
    a million, the look-up over all of them took 3 s).  ``progress``: as
    ``compose.preview_message``."""
    phones = (
        Recipient.objects.filter(recipient_list_id=campaign.recipient_list_id)
        .order_by("pk")
        .values("phone")
    )
    capped = capped_phones(cap_rule(campaign, now), phones if limit is None else phones[:limit])
    return preview_campaign(
        campaign, exclude_missing=exclude_missing, capped=capped, limit=limit, progress=progress
    )


class BalanceShort(campaign_commands.CampaignError):
    """The account's known balance does not cover the send, and the person confirming did
    not say they send anyway: the confirmation page asks again."""


def confirm_send(
    campaign: Campaign,
    *,
    user,
    exclude_missing: bool,
    reason: str = "",
    balance_acknowledged: bool = False,
    counted: Preview | None = None,
) -> tuple[str, Verdict]:
    """A person confirms the send: every check first (``CampaignError`` with the problems;
    ``BalanceShort`` when a known balance does not cover the send and
    ``balance_acknowledged`` is not given), then the start or the schedule — moved to the next
    opening of the send window when it falls outside it.  A notification sent by permission
    is recorded in the audit trail with who and why.  ``counted``: the whole list's preview
    when the caller has just made it (``counted_preview``, no ``limit``), not made again.
    Returns ``("scheduled" | "starting", verdict)``."""
    verdict = check(
        campaign,
        user=user,
        purpose=CONFIRM,
        reason=reason,
        exclude_missing=exclude_missing,
        counts=False,  # the page showed them; the start applies them (and fails on none)
    )
    if not verdict.ok:
        raise campaign_commands.CampaignError(" ".join(verdict.problems))
    if campaign.vendor_account.balance is not None and not balance_acknowledged:
        # Counted (when the caller has not) only to compare with a known balance.
        preview = counted or counted_preview(
            campaign, exclude_missing, verdict.checked_at or clock()
        )
        if preview.balance_covers is False:
            raise BalanceShort(balance_short_error())
    if verdict.held:
        campaign_commands.schedule(campaign, verdict.opens_at, exclude_missing=exclude_missing)
        outcome = "scheduled"
    else:
        outcome = campaign_commands.confirm(campaign, exclude_missing=exclude_missing)
    if verdict.notification_override:
        record(
            Action.COMPLIANCE_OVERRIDE,
            campaign,
            actor=user,
            details={"override": "notification", "reason": reason.strip()[:500]},
        )
    return outcome, verdict


def moved_text(verdict: Verdict, asked: datetime | None) -> str:
    """The note a confirmation shows when the send window moved its time ("" when not)."""
    if not verdict.held or verdict.window is None:
        return ""
    if asked is not None and verdict.opens_at == asked:
        return ""
    return _(
        "Marketing messages go out only within the send window (%(window)s): the send "
        "starts at %(when)s."
    ) % {"window": verdict.window, "when": f"{timezone.localtime(verdict.opens_at):%Y-%m-%d %H:%M}"}
