"""The periodic tasks django-q2 runs for the portal (``messaging.tasks``), set up after each
migration."""

from __future__ import annotations

from django_q.models import Schedule

DISPATCH_SCHEDULE = "messaging: dispatch campaigns"
POLL_SCHEDULE = "messaging: poll vendors"


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
