"""Alerts: what an operator must act on, shown on the dashboard and sent to the recipients of
``PortalSettings`` (e-mail through Django's mail framework, and a JSON POST to a 企业微信 /
钉钉 group robot).

An alert is about one subject (an account, a campaign): at most one *open* alert per kind and
subject (``raise_alert`` refreshes it), resolved when its condition clears (``resolve``, or
the periodic ``sweep``), and a new one when it comes back.  Each new alert is sent once, in a
task (``notify``), never in the request or task that raised it; a failed delivery is logged
and noted on the alert, never raised.

Where alerts come from:

* ``SOURCES`` — conditions read from the database by the minutely ``sweep``: a balance below
  its threshold (balances are refreshed every ``PortalSettings.balance_refresh_minutes`` by
  ``refresh_balances``), an account whose last call to the vendor failed (a poll, a balance
  query: ``VendorAccount.last_error``), a campaign awaiting approval (``awaiting_approval``:
  the approval queue is plugged in as a queryset), and the pauses below while they last;
* events, as they happen — ``campaign_commands.pause_for_account`` (the vendor refused
  because of the account) and the send window's pause call ``raise_alert``; those alerts are
  resolved by the sweep once the campaign is no longer paused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Alert, Campaign, PortalSettings, VendorAccount
from . import approval, wording

log = logging.getLogger(__name__)

Words = Callable[[], str]
"""Our words built in the active language when called: called once per language to keep
them in both (``wording.both``)."""

Kind = Alert.Kind
WEBHOOK_TIMEOUT = (5, 10)  # connect, read (seconds)
PAUSED_KINDS = (Kind.PAUSED_BY_VENDOR, Kind.PAUSED_BY_WINDOW)


def _subject(obj) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    return obj._meta.label_lower, str(obj.pk), str(obj)[:200]


def open_alerts():
    return Alert.objects.filter(resolved_at__isnull=True).order_by("-last_seen")


def raise_alert(kind: str, obj, text: Words | str) -> Alert:
    """Open an alert of ``kind`` about ``obj`` (a model instance, or None for the portal),
    or refresh the open one (its text and last seen).  ``text`` is kept in both languages
    (``wording``: a task raises most alerts, people of either language read them) when it is
    given as ``Words``, as it is otherwise.  A new alert is sent to the recipients once the
    caller's transaction commits."""
    subject_type, subject_id, subject_repr = _subject(obj)
    now = timezone.now()
    text = (wording.both(text) if callable(text) else str(text))[:2000]
    found = Alert.objects.filter(
        kind=kind, subject_type=subject_type, subject_id=subject_id, resolved_at__isnull=True
    )
    if found.update(message=text, last_seen=now, subject_repr=subject_repr):
        return found.get()
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind,
                subject_type=subject_type,
                subject_id=subject_id,
                subject_repr=subject_repr,
                message=text,
                last_seen=now,
            )
    except IntegrityError:  # raised by another process meanwhile
        return found.get()
    transaction.on_commit(lambda: _enqueue_notify(alert.pk))
    return alert


def resolve(kind: str, obj) -> int:
    """Close the open alert of ``kind`` about ``obj``; returns how many were closed."""
    subject_type, subject_id, _repr = _subject(obj)
    return Alert.objects.filter(
        kind=kind, subject_type=subject_type, subject_id=subject_id, resolved_at__isnull=True
    ).update(resolved_at=timezone.now())


def _enqueue_notify(alert_pk: int) -> None:
    from django_q.tasks import async_task

    async_task("messaging.tasks.notify_alert", alert_pk, q_options={"task_name": "alert"})


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """A condition read from the database: ``current()`` yields ``(subject, text)`` for each
    subject it holds for now (``text`` None: keep the open alert's words)."""

    kind: str
    current: Callable[[], Iterable[tuple[object, Words | None]]]


def balance_threshold(account: VendorAccount, default: Decimal | None) -> Decimal | None:
    """The balance below which an account is low: its own threshold, or the portal's
    (``PortalSettings.low_balance_threshold``, passed as ``default``) when it sets none."""
    return account.low_balance_threshold if account.low_balance_threshold is not None else default


def is_low(account: VendorAccount, default: Decimal | None) -> bool:
    threshold = balance_threshold(account, default)
    return account.balance is not None and threshold is not None and account.balance < threshold


def low_balances() -> Iterable[tuple[object, Words]]:
    """Active accounts whose last known balance is below their threshold."""
    from .vendor_accounts import balance_unit_label  # it raises alerts itself

    default = PortalSettings.load().low_balance_threshold
    accounts = VendorAccount.objects.filter(is_active=True, balance__isnull=False)
    for account in accounts.order_by("pk"):
        threshold = balance_threshold(account, default)
        if is_low(account, default):
            yield (
                account,
                lambda account=account, threshold=threshold: (
                    _("%(account)s: balance %(balance)s %(unit)s is below %(threshold)s.")
                    % {
                        "account": account.name,
                        "balance": f"{account.balance.normalize():f}",
                        "unit": balance_unit_label(account.balance_unit),
                        "threshold": threshold,
                    }
                ),
            )


def unreachable_vendors() -> Iterable[tuple[object, Words]]:
    """Active accounts whose last call to the vendor (a poll, a balance query, a connection
    test) failed; cleared by the next one that succeeds."""
    for account in (
        VendorAccount.objects.filter(is_active=True).exclude(last_error="").order_by("pk")
    ):
        yield (
            account,
            lambda account=account: (
                _("%(account)s: the vendor could not be reached or refused: %(error)s")
                % {"account": account.name, "error": wording.shown(account.last_error[:500])}
            ),
        )


def still_paused(kind: str) -> Callable[[], Iterable[tuple[object, None]]]:
    """A pause alert lasts while its campaign stays paused (resumed, cancelled: resolved)."""

    def current():
        ids = open_alerts().filter(kind=kind, subject_type="messaging.campaign")
        wanted = [int(pk) for pk in ids.values_list("subject_id", flat=True) if pk.isdigit()]
        for campaign in Campaign.objects.filter(pk__in=wanted, status=Campaign.State.PAUSED):
            yield campaign, None

    return current


def awaiting_approval(queryset: Callable[[], Iterable[Campaign]]) -> Source:
    """The approval queue as an alert source: ``queryset`` returns the campaigns awaiting an
    approver now."""

    def current():
        for campaign in queryset():
            yield (
                campaign,
                lambda name=campaign.name: (
                    _("Campaign “%(name)s” is awaiting approval.") % {"name": name}
                ),
            )

    return Source(Kind.AWAITING_APPROVAL, current)


SOURCES: tuple[Source, ...] = (
    Source(Kind.LOW_BALANCE, low_balances),
    Source(Kind.VENDOR_UNREACHABLE, unreachable_vendors),
    Source(Kind.PAUSED_BY_VENDOR, still_paused(Kind.PAUSED_BY_VENDOR)),
    Source(Kind.PAUSED_BY_WINDOW, still_paused(Kind.PAUSED_BY_WINDOW)),
    awaiting_approval(approval.awaiting),
)


def sweep(sources: Iterable[Source] | None = None) -> tuple[int, int]:
    """Raise an alert for each condition that holds and resolve the open ones of the same
    kinds that no longer do.  Returns (open, resolved)."""
    opened = closed = 0
    for source in SOURCES if sources is None else sources:
        holding: set[tuple[str, str]] = set()
        for obj, text in source.current():
            subject_type, subject_id, _repr = _subject(obj)
            holding.add((subject_type, subject_id))
            if text is not None:
                raise_alert(source.kind, obj, text)
            opened += 1
        stale = open_alerts().filter(kind=source.kind)
        for pk, subject_type, subject_id in stale.values_list("pk", "subject_type", "subject_id"):
            if (subject_type, subject_id) not in holding:
                closed += Alert.objects.filter(pk=pk, resolved_at__isnull=True).update(
                    resolved_at=timezone.now()
                )
    return opened, closed


def refresh_balances() -> int:
    """Ask each active account's vendor for its balance (those with a balance query), at
    most every ``PortalSettings.balance_refresh_minutes``; then sweep, so that a low balance
    or a failed query shows at once.  Returns how many accounts were asked."""
    from ..vendors.registry import vendor
    from .vendor_accounts import refresh_balance

    minutes = PortalSettings.load().balance_refresh_minutes or 30
    # A little slack: the schedule fires every ``minutes``, not to the second.
    due_before = timezone.now() - timedelta(minutes=minutes) + timedelta(seconds=30)
    asked = 0
    accounts = VendorAccount.objects.filter(is_active=True).filter(
        Q(balance_checked_at__isnull=True) | Q(balance_checked_at__lte=due_before)
    )
    for account in accounts.order_by("pk"):
        if not vendor(account.vendor).capabilities.balance_query:
            continue  # proved by its polls instead; a probe would take their reports
        try:
            refresh_balance(account)
        except Exception:  # one account's failure must not stop the others
            log.exception("account=%s balance refresh failed", account.pk)
        asked += 1
    sweep()
    return asked


# --------------------------------------------------------------------------- delivery


def recipients(portal: PortalSettings | None = None) -> list[str]:
    text = (portal or PortalSettings.load()).alert_emails or ""
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _text(alert: Alert) -> str:
    return f"[{alert.get_kind_display()}] {wording.shown(alert.message)}"


def send_email(alert: Alert, portal: PortalSettings) -> Words:
    """E-mail the alert; what happened, in words (never raises)."""
    to = recipients(portal)
    if not to:
        return lambda: _("no e-mail recipients")
    try:
        send_mail(
            subject=_("SMS portal alert: %(kind)s") % {"kind": alert.get_kind_display()},
            message=_text(alert),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=to,
        )
    except Exception as exc:
        log.warning("alert=%s e-mail failed: %s", alert.pk, type(exc).__name__)
        reason = _mail_reason(exc)
        return lambda: _("e-mail failed: %(reason)s") % {"reason": reason}
    return lambda: _("e-mail sent to %(n)d addresses") % {"n": len(to)}


def _mail_reason(exc: Exception) -> str:
    # An SMTP error may quote the server's greeting or the credentials' user; the class name
    # and the SMTP code are enough to act on.
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


def send_webhook(alert: Alert, portal: PortalSettings) -> Words:
    """POST the alert to the group robot; what happened, in words (never raises).

    企业微信 and 钉钉 group robots take the same body, ``{"msgtype": "text", "text":
    {"content": …}}``, and answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; a refusal
    (a wrong key, a keyword 钉钉 requires missing from the text) is an HTTP 200 too, with
    another errcode.  The URL carries the robot's key: it is never logged or shown."""
    url = portal.alert_webhook_url
    if not url:
        return lambda: _("no webhook")
    body = {"msgtype": "text", "text": {"content": _text(alert)}}
    try:
        response = requests.post(url, json=body, timeout=WEBHOOK_TIMEOUT)
    except requests.RequestException as exc:
        log.warning("alert=%s webhook failed: %s", alert.pk, type(exc).__name__)
        failure = type(exc).__name__
        return lambda: _("webhook failed: %(reason)s") % {"reason": failure}
    if response.status_code != 200:
        log.warning("alert=%s webhook answered HTTP %s", alert.pk, response.status_code)
        return lambda: _("webhook failed: HTTP %(status)s") % {"status": response.status_code}
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0, "0"):
        reason = f"errcode {answer.get('errcode')}: {str(answer.get('errmsg', ''))[:200]}"
        log.warning("alert=%s webhook refused: %s", alert.pk, reason)
        return lambda: _("webhook failed: %(reason)s") % {"reason": reason}
    return lambda: _("webhook answered 200")


def notify(alert_pk: int, *, again: bool = False) -> str:
    """Send the alert by e-mail and webhook, once (``again``: the test button's resend).
    Returns (in the active language) and notes on the alert (in both) what happened."""
    now = timezone.now()
    claim = Alert.objects.filter(pk=alert_pk)
    if not again:
        claim = claim.filter(notified_at__isnull=True)
    if not claim.update(notified_at=now):
        return "already notified"
    alert = Alert.objects.get(pk=alert_pk)
    portal = PortalSettings.load()
    done = [send_email(alert, portal), send_webhook(alert, portal)]
    result = wording.both(lambda: "; ".join(words() for words in done))
    Alert.objects.filter(pk=alert_pk).update(notify_result=result[:1000])
    return wording.shown(result)


def send_test_alert(user=None) -> Alert:
    """The administrator's test button: a test alert, sent like any other in a task; its
    result shows on the alerts page when the task has run."""
    name = user.get_username() if user is not None and user.is_authenticated else "system"
    with transaction.atomic():
        Alert.objects.filter(kind=Kind.TEST, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        return raise_alert(
            Kind.TEST,
            None,
            lambda: _("A test alert sent by %(user)s: alerts reach you this way.") % {"user": name},
        )


def latest_test() -> Alert | None:
    return Alert.objects.filter(kind=Kind.TEST).order_by("-pk").first()
