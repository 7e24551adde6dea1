"""Frequency caps at scale: what checking a campaign start's recipients against 30 days of
sending history adds to the start, on PostgreSQL.

    .venv/bin/python bench/caps_bench.py                              # 1,000,000 recipients
    .venv/bin/python bench/caps_bench.py --recipients 100000 --history-per-day 50000

It fills a database with a history of marketing campaigns, one a day for 30 days, each sent
to ``--history-per-day`` phones drawn from the recipients and as many others (their messages
submitted or delivered, as the vendor took them; every tenth failed, which never counts), one
of them today; then starts a personalised marketing campaign to ``--recipients`` phones twice
in this process (``services.sending.start_campaign``: every chunk, rendered and written in
SQL): with the caps off, then with the portal's defaults (1 a day, 3 in 7 days).  It prints
both times, the difference (what the caps add) and how many recipients were capped.  Figures
are printed, never asserted.  Uses ``DATABASE_URL`` (default: the ``bench_caps`` database on
the local PostgreSQL, created when missing; the history is kept between runs when its size is
the same).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from common import production_env  # noqa: E402
from send_bench import ensure_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_caps"
DAYS = 30


def prepare(recipients: int, per_day: int):
    """The history and the campaign to start (kept when a run with the same sizes left them)."""
    from django.db import connection
    from django.utils import timezone

    from messaging.models import Campaign, RecipientList, Template, VendorAccount

    name = f"caps {recipients} / {per_day} (oldest first)"
    found = Campaign.objects.filter(name=name).first()
    if found is not None:
        return found
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_message, messaging_sendbatch, messaging_campaign, "
            "messaging_recipient, messaging_recipientlist, messaging_template, "
            "messaging_campaigncodecount, messaging_campaigntimeline, "
            "messaging_campaignunresolved CASCADE"
        )
    account, _ = VendorAccount.objects.get_or_create(
        name="caps bench",
        defaults={
            "vendor": "ashx5g",
            "base_url": "http://127.0.0.1:9/ashx5g",
            "account_id": "960001",
            "secret": "bench-secret",
            "signature": "【测试商城】",
        },
    )
    template = Template.objects.create(name="caps", body="<name>您好，会员日全场八折")
    target = RecipientList.objects.create(name="caps target")
    print(f"writing {recipients:,} recipients and {DAYS} days × {per_day:,} messages …")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_recipient (recipient_list_id, phone, variables, source_row)
            SELECT %s, (13000000000 + n * 7)::text, jsonb_build_object('name', '会员' || n), n
            FROM generate_series(1, %s) n
            """,
            [target.pk, recipients],
        )
        now = timezone.now()
        for day in reversed(range(DAYS)):  # the oldest first, as they were sent
            history_list = RecipientList.objects.create(name=f"history {day}")
            campaign = Campaign.objects.create(
                name=f"history {day}",
                template=template,
                vendor_account=account,
                recipient_list=history_list,
                status=Campaign.State.COMPLETED,
                started_at=now - timezone.timedelta(days=day, hours=1),
                finished_at=now - timezone.timedelta(days=day),
            )
            # Half the day's phones among the target's recipients, half elsewhere.
            cursor.execute(
                """
                INSERT INTO messaging_message (
                    campaign_id, vendor_account_id, phone, content, segments, variables,
                    custom_id, status, error, vendor_message_id, vendor_batch_id,
                    vendor_status_code, vendor_status_description, attempts, created_at,
                    submitted_at
                )
                SELECT %(campaign)s, %(account)s,
                       CASE WHEN n %% 2 = 0
                            THEN (13000000000 + ((n * 7919 + %(day)s * 104729) %% %(recipients)s + 1) * 7)::text
                            ELSE (15000000000 + n + %(day)s * %(per_day)s)::text END,
                       '【测试商城】会员日全场八折回T退订', 1, '[]'::jsonb,
                       'h' || %(campaign)s || '-' || n,
                       CASE WHEN n %% 10 = 0 THEN 'failed'
                            WHEN n %% 3 = 0 THEN 'submitted' ELSE 'delivered' END,
                       '', 'v' || n, '', '', '', 1, %(at)s, %(at)s
                FROM generate_series(1, %(per_day)s) n
                """,  # noqa: E501
                {
                    "campaign": campaign.pk,
                    "account": account.pk,
                    "day": day,
                    "recipients": recipients,
                    "per_day": per_day,
                    "at": now - timezone.timedelta(days=day, minutes=30),
                },
            )
        cursor.execute("ANALYZE")
    print(f"  written in {time.monotonic() - started:.1f} s")
    return Campaign.objects.create(
        name=name, template=template, vendor_account=account, recipient_list=target
    )


def start(campaign, caps: bool) -> tuple[float, int]:
    """Start ``campaign`` from draft with the caps on or off; (seconds, recipients capped)."""
    from django.db import connection

    from messaging.models import Campaign, Message, PortalSettings
    from messaging.services import sending

    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM messaging_message WHERE campaign_id = %s; "
            "DELETE FROM messaging_sendbatch WHERE campaign_id = %s",
            [campaign.pk, campaign.pk],
        )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.State.STARTING, start_cursor=None, started_at=None
    )
    settings = PortalSettings.load()
    settings.cap_per_day, settings.cap_per_week = (1, 3) if caps else (0, 0)
    settings.save()
    began = time.monotonic()
    sending.start_campaign(campaign.pk)
    elapsed = time.monotonic() - began
    capped = Message.objects.filter(
        campaign=campaign, status="skipped", error__in=["Frequency cap", "频次上限"]
    ).count()
    return elapsed, capped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--history-per-day", type=int, default=200_000)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    ensure_database(url)
    os.environ.update(production_env(url, DJANGO_DEBUG="true"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import translation

    call_command("migrate", verbosity=0)
    translation.activate("en")
    campaign = prepare(args.recipients, args.history_per_day)
    history = DAYS * args.history_per_day
    print(
        f"{args.recipients:,} recipients, {history:,} messages of history over {DAYS} days, "
        f"{os.cpu_count()} cores"
    )
    without, _ = start(campaign, caps=False)
    print(f"start without caps: {without:.1f} s")
    with_caps, capped = start(campaign, caps=True)
    print(f"start with caps:    {with_caps:.1f} s ({capped:,} recipients capped)")
    print(f"the caps add:       {with_caps - without:+.1f} s")


if __name__ == "__main__":
    main()
