"""The periodic tasks django-q2 runs for the portal (``messaging.tasks``), set up after each
migration."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone
from django_q.models import Schedule

DISPATCH_SCHEDULE = "messaging: dispatch campaigns"
POLL_SCHEDULE = "messaging: poll vendors"
PURGE_SCHEDULE = "messaging: purge old data"
ALERTS_SCHEDULE = "messaging: check alerts"
BALANCE_SCHEDULE = "messaging: refresh balances"


def ensure_schedules() -> None:
    Schedule.objects.update_or_create(
        name=DISPATCH_SCHEDULE,
        defaults={
            "func": "messaging.tasks.dispatch",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    # django-q2 schedules fire at most once a minute (its scheduler looks every ~30 s), while
    # vendors allow a poll every 5-8 s.  One minutely schedule runs ``poll_vendors``, which keeps
    # polling every polling account at its own interval for most of the minute (and ends at
    # once when no account polls): one worker serves all accounts, runs never overlap in
    # practice, and the per-call claim in ``services.polling`` keeps them apart if they do.
    Schedule.objects.update_or_create(
        name=POLL_SCHEDULE,
        defaults={
            "func": "messaging.tasks.poll_vendors",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    # Alerts the database shows (low balance, unreachable vendor, pauses, approvals): raised
    # and resolved every minute (``services.alerts.sweep``); a cheap read.
    Schedule.objects.update_or_create(
        name=ALERTS_SCHEDULE,
        defaults={
            "func": "messaging.tasks.check_alerts",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    sync_balance_schedule()
    # Daily, at night (04:00 local time, when nothing is usually sent): raw pushes, poll
    # answers, delivery reports, task results and import files past their retention window,
    # in batches (``services.retention``).  An existing schedule keeps its time.
    if not Schedule.objects.filter(name=PURGE_SCHEDULE).exists():
        Schedule.objects.create(
            name=PURGE_SCHEDULE,
            func="messaging.tasks.purge_old_data",
            schedule_type=Schedule.DAILY,
            repeats=-1,
            next_run=_next_night(),
        )
    else:
        Schedule.objects.filter(name=PURGE_SCHEDULE).update(
            func="messaging.tasks.purge_old_data", schedule_type=Schedule.DAILY, repeats=-1
        )


PURGE_AT = time(4, 0)


def _next_night() -> datetime:
    now = timezone.localtime()
    run = now.replace(hour=PURGE_AT.hour, minute=PURGE_AT.minute, second=0, microsecond=0)
    return run if run > now else run + timedelta(days=1)


def sync_balance_schedule() -> None:
    """Balances are asked of the vendors every ``PortalSettings.balance_refresh_minutes``
    (not only by the dashboard's button), so that a low balance raises its alert."""
    from ..models import PortalSettings

    minutes = max(1, PortalSettings.load().balance_refresh_minutes or 30)
    fields = {
        "func": "messaging.tasks.refresh_balances",
        "schedule_type": Schedule.MINUTES,
        "minutes": minutes,
        "repeats": -1,
    }
    # Changed only when it differs: an unchanged schedule keeps its next run.
    if not Schedule.objects.filter(name=BALANCE_SCHEDULE).exists():
        Schedule.objects.create(name=BALANCE_SCHEDULE, **fields)
    else:
        Schedule.objects.filter(name=BALANCE_SCHEDULE).exclude(**fields).update(**fields)
