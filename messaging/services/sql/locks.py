"""The campaign's locks: who waits for whom while a campaign is written and sent.

Three kinds of transaction touch a sending campaign's row at once, and only some must wait for
each other:

* a **take-off** (``sending.take_off``) looks at the campaign before a request leaves: a pause
  or cancel must either be visible to it or wait until it has committed (``look_at_campaign``);
* a **start chunk** (``sending.start_chunk``) writes the next 50,000 messages for ~1.5 s: two
  starts of one campaign must not run together, and a cancel waits for the chunk (its messages
  are then withdrawn with the others) (``hold_start``);
* a **status change** (pause, cancel, the window's pause: ``campaign_commands._set``) locks
  the row FOR UPDATE first, the one lock a take-off's look conflicts with.

Counter updates (a batch's answer, a chunk's totals) are plain UPDATEs and wait for none of
these looks.  On PostgreSQL the take-off's look is ``FOR KEY SHARE`` and the start holds a
transaction-level advisory lock instead of the campaign's row: when the start held the row
FOR UPDATE for the whole chunk, every take-off waited for it, and the first batch of a
million-recipient campaign waited 1.6 s behind the second chunk (``log_min_duration_statement``
on the bench).  The generic twins lock the row ``FOR UPDATE`` (SQLite, which serializes
writers, has no row locks: Django leaves the clause out).
"""

from __future__ import annotations

from django.db import connection

from ...models import Campaign
from . import twin

START_LOCK_CLASS = 0x53544152
"""The advisory locks' first key ("STAR"): the campaign starts' own class of locks."""


@twin
def look_at_campaign(campaign_id: int) -> str | None:
    """The campaign's status, read under a lock that a status change (``FOR UPDATE``) waits
    for until the caller's transaction ends, and that other looks, starts and counter updates
    do not wait for.  None when there is no such campaign."""
    return (
        Campaign.objects.filter(pk=campaign_id)
        .select_for_update()
        .values_list("status", flat=True)
        .first()
    )


@look_at_campaign.on_postgresql
def look_at_campaign_postgresql(campaign_id: int) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {Campaign._meta.db_table} WHERE id = %s FOR KEY SHARE",  # noqa: S608
            [campaign_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


@twin
def hold_start(campaign_id: int, *, wait: bool = True) -> bool:
    """Hold the campaign's start for the caller's transaction: one start chunk (or a cancel)
    at a time.  With ``wait`` off, returns False at once when another transaction holds it;
    True when held (and, in the generic twin, False when there is no such campaign)."""
    campaigns = Campaign.objects.filter(pk=campaign_id)
    if not wait and connection.features.has_select_for_update_skip_locked:
        campaigns = campaigns.select_for_update(skip_locked=True)
    else:
        campaigns = campaigns.select_for_update()
    return campaigns.values_list("pk", flat=True).first() is not None


@hold_start.on_postgresql
def hold_start_postgresql(campaign_id: int, *, wait: bool = True) -> bool:
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        # Two int4 keys: the class, and the id folded into int4 (a collision only serializes).
        cursor.execute(
            f"SELECT {function}(%s, (%s::bigint %% 2147483647)::int4)",
            [START_LOCK_CLASS, campaign_id],
        )
        held = cursor.fetchone()[0]
    return wait or bool(held)
