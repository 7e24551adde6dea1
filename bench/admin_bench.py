"""Page times at scale: every admin and portal page against a large data set in PostgreSQL.

    .venv/bin/python bench/admin_bench.py                        # 10,000,000 messages
    .venv/bin/python bench/admin_bench.py --messages 200000      # a quick look
    .venv/bin/python bench/admin_bench.py --skip-build --only messaging.message

What it does:

1. Creates the ``--database`` database (default ``admin_bench``, on ``--server``) when it is
   missing and migrates it (production settings, Django's ``migrate``).  A data set built
   earlier with the same ``--messages`` and ``--campaigns`` is reused (its size is recorded in
   the table ``admin_bench_dataset``), after the migrations, so that new indexes apply to it;
   ``--rebuild`` (or a data set of another size) drops the database and builds it again.
2. Builds the data set: an administrator (superuser) and a marketer (the Marketers role); one
   vendor account per vendor; a recipient list of ``--messages / --campaigns`` recipients and a
   small one; ``--campaigns`` campaigns of ``--messages / --campaigns`` messages each, in final
   states (mostly delivered, some undelivered / failed / unknown / no report / expired /
   rejected; the newest campaign still sending, with a few messages submitted), vendor codes,
   vendor ids, our ids, phones (11-digit mobiles, repeated across campaigns), times over ten
   days, send batches of 2,000, campaign counters recounted from the messages; delivery
   reports for about half the messages (matched, plus a few unmatched); replies for 1 % of
   the messages (5 % of them opt-outs, whose phones are suppressed); a raw push per 2,000
   messages; a finished django-q2 task per 2,000 messages (and a few failed ones).  The big
   tables are written by ``INSERT ... SELECT ... FROM generate_series`` in SQL, the small ones
   by the ORM; ``VACUUM ANALYZE`` at the end.  Prints the time of each step and every table's
   size (``pg_total_relation_size``), and bytes per message.
3. Times the pages, found from the code so that a new page is timed without editing this
   script: for every ``ModelAdmin`` registered on the admin site its changelist, its search
   (phone as stored, as typed with spaces, with +86; a vendor message id; our id — or a word,
   for admins that search no such field), the first choice of each of its filters, its add
   page, its change page and its delete confirmation page (GET only: nothing is deleted) for a
   representative object (the biggest campaign and list, a message with reports, ...), and
   its own extra pages; the admin index and app pages; every GET page of the ``portal`` URL
   namespace, as the marketer, with the biggest campaign / list / import job filling the URL
   arguments (a page answering 405 takes only POST and is not timed; downloads are timed to
   their first chunk).  Each page: one warm-up request, then ``--requests`` timed ones (3 when
   the warm-up took more than ``--slow`` seconds), in-process with Django's test client,
   production settings (``DEBUG`` off).

   The pages are requested by a child process, one request at a time under a guard: a request
   taking more than ``--timeout`` seconds is reported as ``> N s`` (the child is killed, the
   database statement cancelled by ``statement_timeout``, and the next page goes on in a new
   child), and the child's memory is capped (``--worker-memory-mb``) so that a page loading
   millions of rows fails instead of exhausting the machine.
4. The pages that have a long list counted by a task (the confirmation and the approval
   review, ``services.send_count``) were timed with the count under way: the count is run
   here as its task would run it, timed, and those pages are timed again with its figures.

Prints one row per page (HTTP status, requests timed, p50 and p95 in ms, nearest rank) and how
many pages miss the target (p95 < 300 ms).  Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from common import production_env

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
TARGET_MS = 300
BATCH_SIZE = 2_000  # messages per send batch; also one push and one finished task per batch
FIRST_VENDOR_ID = 50_821_410_000_000_000  # 17-digit vendor ids, like ashx5g's ``seq``
DRAFT_NAME = "bench draft"
DRAFT_PAGES = {"confirm", "compose_edit", "send_count"}
"""Portal pages opened for the draft (``samples``) rather than the biggest, sent campaign."""
ADMIN_USER = "bench-admin"
MARKETER_USER = "bench-marketer"
MOBILE_PREFIXES = [str(n) for n in (*range(130, 140), 150, 151, 152, 153, 155, 156, 157)] + [
    str(n) for n in (158, 159, 166, 177, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 199)
]
REPLY_TEXTS = ["好的", "收到", "多少钱", "怎么参加", "谢谢", "地址在哪", "已购买", "什么时候结束"]
OPT_OUT_TEXTS = ["TD", "退订", "T"]


# --------------------------------------------------------------------------- set-up


def bench_env(database_url: str) -> dict[str, str]:
    """Production settings (DEBUG off) with the secrets production insists on."""
    return production_env(
        database_url,
        DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        DJANGO_CACHE_DIR=os.environ.get(
            "DJANGO_CACHE_DIR", str(ROOT / "var" / "cache-admin-bench")
        ),
        LOG_LEVEL="ERROR",
        PORTAL_BASE_URL="https://portal.example.com",
        # Production serves hashed static files from what collectstatic wrote (below).
        DJANGO_STATIC_ROOT=os.environ.get(
            "DJANGO_STATIC_ROOT", str(ROOT / "var" / "static-admin-bench")
        ),
    )


def setup_django(database_url: str) -> None:
    os.environ.update(bench_env(database_url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(database_url: str, drop: bool) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def existing_dataset(database_url: str) -> tuple[int, int] | None:
    """(messages, campaigns) of a data set built completely earlier, else None."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('admin_bench_dataset')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT messages, campaigns FROM admin_bench_dataset").fetchone()
        return (row[0], row[1]) if row else None


def has_tables(database_url: str) -> bool:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute("SELECT to_regclass('messaging_message')").fetchone()[0] is not None


class Steps:
    """Prints how long each step of the build took."""

    def __init__(self):
        self.started = time.perf_counter()

    def run(self, label: str, function, *args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        print(f"  {label:<48} {time.perf_counter() - started:8.1f} s", flush=True)
        return result


# --------------------------------------------------------------------------- the data set


def phone_sql(p: str) -> str:
    """An 11-digit mobile number for the integer ``p`` (one-to-one for p < 3e9), for a query
    with parameters (``%`` doubled)."""
    prefixes = "ARRAY[" + ",".join(f"'{x}'" for x in MOBILE_PREFIXES) + "]"
    n = len(MOBILE_PREFIXES)
    return (
        f"({prefixes})[({p}) %% {n} + 1] || lpad(((({p}) / {n}) * 7919 %% 100000000)::text, 8, '0')"
    )


def build(messages: int, campaigns: int) -> dict:
    from django.core.management import call_command
    from django.db import connection

    steps = Steps()
    per_campaign = messages // campaigns
    print(
        f"building {per_campaign * campaigns:,} messages in {campaigns} campaigns of "
        f"{per_campaign:,}",
        flush=True,
    )
    steps.run("migrate", call_command, "migrate", verbosity=0)
    small = steps.run("users, accounts, template, lists (ORM)", create_small_objects)
    steps.run(f"recipients ({per_campaign:,})", insert_recipients, small, per_campaign)
    campaign_ids = steps.run(f"campaigns ({campaigns}, ORM)", create_campaigns, small, campaigns)
    steps.run(
        f"send batches ({math.ceil(per_campaign / BATCH_SIZE) * campaigns:,})",
        insert_batches,
        campaign_ids,
        per_campaign,
    )
    for number, campaign_id in enumerate(campaign_ids):
        steps.run(
            f"messages of campaign {number + 1} ({per_campaign:,})",
            insert_messages,
            campaign_id,
            number,
            per_campaign,
            messages,
            number == len(campaign_ids) - 1,
        )
    steps.run("campaign counters (refresh_counters)", refresh, campaign_ids)
    steps.run("delivery reports", insert_reports)
    steps.run(f"replies ({messages // 100:,}) and opt-outs", insert_replies, messages // 100)
    steps.run(
        f"raw pushes ({max(200, messages // BATCH_SIZE):,})",
        insert_pushes,
        max(200, messages // BATCH_SIZE),
    )
    steps.run(
        f"finished tasks ({max(200, messages // BATCH_SIZE):,}, ORM)",
        create_tasks,
        max(200, messages // BATCH_SIZE),
    )
    connection.close()
    steps.run("VACUUM ANALYZE", vacuum_analyze)
    seconds = time.perf_counter() - steps.started
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE admin_bench_dataset (messages bigint, campaigns int, "
            "built_at timestamptz, build_seconds float)"
        )
        cursor.execute(
            "INSERT INTO admin_bench_dataset VALUES (%s, %s, now(), %s)",
            [messages, campaigns, seconds],
        )
    print(f"built in {seconds:.1f} s", flush=True)
    return small


def create_small_objects() -> dict:
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import MARKETERS
    from messaging.models import (
        RecipientList,
        SensitiveWord,
        Template,
        TemplateRegistration,
        VendorAccount,
    )
    from messaging.vendors.registry import VENDOR_KEYS

    admin = User.objects.create(
        username=ADMIN_USER, is_superuser=True, is_staff=True, email="admin@example.com"
    )
    admin.set_unusable_password()
    admin.save()
    marketer = User.objects.create(username=MARKETER_USER, is_staff=True)
    marketer.set_unusable_password()
    marketer.save()
    marketer.groups.add(Group.objects.get(name=MARKETERS))
    accounts = [
        VendorAccount.objects.create(
            vendor=key,
            name=f"bench {key}",
            base_url=f"http://127.0.0.1:9/{key}",
            account_id="BENCH" if key == "montnets" else "960001",
            secret="bench-password-1",
            signature="【测试商城】",
            balance=123456,
            balance_unit="条",
        )
        for key in VENDOR_KEYS
    ]
    template = Template.objects.create(
        name="周末大促",
        body="<name>您好，周末大促，全场五折，您的积分<points>可抵现",
        created_by=marketer,
    )
    TemplateRegistration.objects.bulk_create(
        [
            TemplateRegistration(
                template=template,
                vendor_account=account,
                vendor_template_id=f"T{account.pk:06d}",
                review_status=TemplateRegistration.Review.APPROVED,
            )
            for account in accounts
        ]
    )
    big = RecipientList.objects.create(
        name="bench all customers", columns=["name", "points"], created_by=marketer
    )
    little = RecipientList.objects.create(name="bench VIP", columns=["name"], created_by=marketer)
    SensitiveWord.objects.bulk_create(
        [SensitiveWord(word=w) for w in ("赌博", "发票", "代开", "贷款", "彩票")]
    )
    return {
        "admin": admin.pk,
        "marketer": marketer.pk,
        "accounts": [a.pk for a in accounts],
        "template": template.pk,
        "lists": [big.pk, little.pk],
    }


def insert_recipients(small: dict, per_campaign: int) -> None:
    from django.db import connection

    from messaging.models import ImportJob, Recipient, RecipientList

    table = Recipient._meta.db_table
    big, little = small["lists"]
    with connection.cursor() as cursor:
        for list_pk, count in ((big, per_campaign), (little, min(1_000, per_campaign))):
            cursor.execute(
                f"""
                INSERT INTO {table} (recipient_list_id, phone, variables, source_row)
                SELECT %s, {phone_sql("p")},
                       jsonb_build_object('name', '客户' || p, 'points', (p * 37 %% 5000)::text),
                       p + 2
                FROM generate_series(0, %s - 1) AS p
                """,
                [list_pk, count],
            )
    for list_pk in (big, little):
        ImportJob.objects.create(
            recipient_list=RecipientList.objects.get(pk=list_pk),
            created_by_id=small["marketer"],
            file="imports/bench/customers.csv",
            original_name="customers.csv",
            file_format="csv",
            encoding="utf-8",
            headers=["phone", "name", "points"],
            phone_column="phone",
            state=ImportJob.State.DONE,
            estimated_rows=per_campaign,
            processed_rows=per_campaign,
            imported_count=per_campaign,
        )


def create_campaigns(small: dict, count: int) -> list[int]:
    from datetime import timedelta

    from django.db.models import F
    from django.utils import timezone

    from messaging.models import Campaign

    now = timezone.now()
    ids = []
    for number in range(count):
        newest = number == count - 1
        started = now - timedelta(days=count - number, hours=-9)
        campaign = Campaign.objects.create(
            name=f"Bench campaign {number + 1}",
            template_id=small["template"],
            vendor_account_id=small["accounts"][number % len(small["accounts"])],
            recipient_list_id=small["lists"][0],
            status=Campaign.State.SENDING if newest else Campaign.State.COMPLETED,
            start_requested_at=started,
            started_at=started,
            finished_at=None if newest else started + timedelta(days=3),
            created_by_id=small["marketer"],
        )
        ids.append(campaign.pk)
    # The newest first in the lists, as in real life: created_at follows the start.
    for campaign in Campaign.objects.filter(pk__in=ids):
        Campaign.objects.filter(pk=campaign.pk).update(
            created_at=F("started_at") - timedelta(hours=1)
        )
    return ids


def insert_batches(campaign_ids: list[int], per_campaign: int) -> None:
    from django.db import connection

    from messaging.models import Campaign, SendBatch

    batches = math.ceil(per_campaign / BATCH_SIZE)
    with connection.cursor() as cursor:
        for campaign_id in campaign_ids:
            started = Campaign.objects.get(pk=campaign_id).started_at
            cursor.execute(
                f"""
                INSERT INTO {SendBatch._meta.db_table} (
                    campaign_id, number, state, size, attempts, not_before, claimed_at,
                    lease_until, enqueued_at, finished_at, request_shape, answer, error
                )
                SELECT %s, b, 'done', least(%s, %s - (b - 1) * %s), 1, NULL,
                       %s + (b - 1) * interval '2 seconds', NULL,
                       %s + (b - 1) * interval '2 seconds',
                       %s + (b - 1) * interval '2 seconds' + interval '1 second',
                       'mts_var', NULL, ''
                FROM generate_series(1, %s) AS b ORDER BY b
                """,
                [
                    campaign_id,
                    BATCH_SIZE,
                    per_campaign,
                    BATCH_SIZE,
                    started,
                    started,
                    started,
                    batches,
                ],
            )


def insert_messages(
    campaign_id: int, number: int, per_campaign: int, messages: int, sending: bool
) -> None:
    """One campaign's messages: ``r`` (0..999, a hash of the message's number) decides its
    final state.  Phones come from a pool of 70 % of all messages, so a phone recurs across
    campaigns (and the first ``per_campaign`` of the pool are the big list's recipients)."""
    from django.db import connection

    from messaging.models import Campaign, Message, SendBatch

    campaign = Campaign.objects.get(pk=campaign_id)
    batch_ids = list(
        SendBatch.objects.filter(campaign_id=campaign_id)
        .order_by("number")
        .values_list("pk", flat=True)
    )
    pool = max(per_campaign, messages * 7 // 10)
    signature = campaign.vendor_account.signature
    submitted = "submitted" if sending else "delivered"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Message._meta.db_table} (
                campaign_id, send_batch_id, vendor_account_id, variables, phone, content,
                segments, custom_id, vendor_message_id, vendor_batch_id, status, vendor_status_code,
                vendor_status_description, error, attempts, created_at, submitted_at, final_at
            )
            SELECT %(campaign)s, (%(batch_ids)s::bigint[])[j / %(batch_size)s + 1],
                   %(account)s, '[]'::jsonb, {phone_sql("p")},
                   %(signature)s || '客户' || (p %% 100000) || '您好，周末大促，全场五折，您的积分'
                       || (p * 37 %% 5000) || '可抵现'
                       || CASE WHEN j %% 10 = 0 THEN '。会员专享：满299减50，满599减120，'
                               || '叠加店铺券更优惠，详情见商城首页活动专区，数量有限先到先得'
                          ELSE '' END || '回T退订',
                   CASE WHEN j %% 10 = 0 THEN 2 ELSE 1 END,
                   %(campaign)s::text || lpad((j + 1)::text, 9, '0'),
                   CASE WHEN st IN ('failed', 'unknown') THEN ''
                        ELSE (%(first_id)s + g)::text END,
                   '', st,
                   CASE st WHEN 'delivered' THEN 'DELIVRD'
                           WHEN 'undelivered' THEN (ARRAY['UNDELIV', 'MK:0001', 'MK:0005',
                                'MI:0013', 'DB:0141', 'MK:0012'])[r %% 6 + 1]
                           WHEN 'expired' THEN 'EXPIRED'
                           WHEN 'rejected' THEN 'REJECTD'
                           WHEN 'failed' THEN (ARRAY['-4', '-17', '105'])[r %% 3 + 1]
                           ELSE '' END,
                   CASE st WHEN 'delivered' THEN '成功' || chr(10) || 'Delivered'
                           WHEN 'undelivered' THEN '用户停机或空号' || chr(10)
                                || 'Subscriber unreachable'
                           WHEN 'expired' THEN '超时未送达' || chr(10) || 'Expired'
                           WHEN 'rejected' THEN '运营商拒绝' || chr(10) || 'Rejected'
                           ELSE '' END,
                   CASE st WHEN 'failed' THEN '号码格式错误'
                           WHEN 'unknown' THEN 'The answer to the request was lost.'
                           WHEN 'no_report' THEN 'No report within the report window.'
                           ELSE '' END,
                   1, %(started)s, sent,
                   CASE WHEN st IN ('submitted', 'unknown') THEN NULL
                        WHEN st = 'no_report' THEN sent + interval '72 hours'
                        WHEN st = 'failed' THEN sent
                        ELSE sent + (5 + r %% 295) * interval '1 second' END
            FROM (
                SELECT j, g, r, p, %(started)s + (j / %(batch_size)s) * interval '2 seconds'
                                  + (j %% %(batch_size)s) * interval '1 millisecond' AS sent,
                       CASE WHEN r < 860 THEN 'delivered'
                            WHEN r < 910 THEN 'undelivered'
                            WHEN r < 925 THEN 'failed'
                            WHEN r < 940 THEN 'unknown'
                            WHEN r < 960 THEN 'no_report'
                            WHEN r < 970 THEN 'expired'
                            WHEN r < 980 THEN 'rejected'
                            ELSE %(submitted)s END AS st
                FROM (
                    SELECT j, %(offset)s + j AS g,
                           abs(hashint8(%(offset)s + j)) %% 1000 AS r,
                           CASE WHEN %(number)s = 0 THEN j
                                ELSE abs(hashint8(%(offset)s + j + 7)) %% %(pool)s END AS p
                    FROM generate_series(0, %(n)s - 1) AS j
                ) numbered
            ) decided
            """,
            {
                "campaign": campaign_id,
                "batch_ids": batch_ids,
                "batch_size": BATCH_SIZE,
                "account": campaign.vendor_account_id,
                "signature": signature,
                "first_id": FIRST_VENDOR_ID,
                "started": campaign.started_at,
                "submitted": submitted,
                "offset": number * per_campaign,
                "number": number,
                "pool": pool,
                "n": per_campaign,
            },
        )


def refresh(campaign_ids: list[int]) -> None:
    from messaging.services.campaigns import refresh_counters

    refresh_counters(campaign_ids)


def insert_reports() -> None:
    """A report for about half the messages (those a report settled, 9 in 16 of them), as
    the vendor pushed or was polled for it; and a few reports no message claimed."""
    from django.db import connection

    from messaging.models import DeliveryReport, Message

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {DeliveryReport._meta.db_table} (
                vendor_account_id, source, vendor_message_id, custom_id, phone, status,
                vendor_code, description, done_at, part_index, part_count, received_at, raw,
                message_id, matched_at
            )
            SELECT m.vendor_account_id, CASE WHEN m.id %% 20 = 0 THEN 'poll' ELSE 'push' END,
                   m.vendor_message_id, m.custom_id, m.phone, m.status, m.vendor_status_code,
                   m.vendor_status_description, m.final_at, 1, 1,
                   m.final_at + interval '2 seconds',
                   json_build_object('seq', m.vendor_message_id, 'pn', m.phone,
                                     'sc', m.vendor_status_code, 'uname', '960001',
                                     'st', to_char(m.final_at, 'YYYYMMDDHH24MISS'))::text,
                   m.id, m.final_at + interval '2 seconds'
            FROM {Message._meta.db_table} m
            WHERE m.status IN ('delivered', 'undelivered', 'expired', 'rejected')
              AND abs(hashint8(m.id)) %% 16 < 9
            """,
            [],  # no parameters, but ``%%`` is read as one ``%``
        )
        cursor.execute(
            f"""
            INSERT INTO {DeliveryReport._meta.db_table} (
                vendor_account_id, source, vendor_message_id, custom_id, phone, status,
                vendor_code, description, done_at, part_index, part_count, received_at, raw,
                message_id, matched_at
            )
            SELECT (SELECT min(id) FROM messaging_vendoraccount), 'push',
                   (%s + i)::text, '', '', 'delivered', 'DELIVRD', '成功', now(), 1, 1,
                   now() - i * interval '1 minute', '{{"seq": "' || (%s + i) || '"}}',
                   NULL, NULL
            FROM generate_series(1, 1000) AS i
            """,
            [FIRST_VENDOR_ID * 2, FIRST_VENDOR_ID * 2],
        )


def insert_replies(count: int) -> None:
    """``count`` replies to messages spread over every campaign; 5 % opt out, and their
    phones are suppressed (linked to the reply), as the inbox service does."""
    from django.db import connection

    from messaging.models import InboundMessage, Message, Suppression

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {Message._meta.db_table}")
        low, high = cursor.fetchone()
        step = max(1, (high - low + 1) // max(count, 1))
        texts = "ARRAY[" + ",".join(f"'{t}'" for t in REPLY_TEXTS) + "]"
        opt_outs = "ARRAY[" + ",".join(f"'{t}'" for t in OPT_OUT_TEXTS) + "]"
        cursor.execute(
            f"""
            INSERT INTO {InboundMessage._meta.db_table} (
                vendor_account_id, phone, extension, content, received_at, vendor_message_id,
                campaign_id, message_id, is_opt_out, is_read, raw, created_at
            )
            SELECT m.vendor_account_id, m.phone, '1069' || (m.vendor_account_id %% 10),
                   CASE WHEN k.r < 50 THEN ({opt_outs})[k.r %% 3 + 1]
                        ELSE ({texts})[k.r %% {len(REPLY_TEXTS)} + 1] END,
                   coalesce(m.submitted_at, m.created_at) + (k.r + 1) * interval '1 minute',
                   'mo' || m.id, m.campaign_id, m.id, k.r < 50, k.r %% 10 < 7,
                   json_build_object('pn', m.phone, 'msg', 'reply')::text,
                   coalesce(m.submitted_at, m.created_at) + (k.r + 1) * interval '1 minute'
            FROM (
                SELECT %s + i * %s AS id, abs(hashint8(i)) %% 1000 AS r
                FROM generate_series(0, %s - 1) AS i
            ) k
            JOIN {Message._meta.db_table} m ON m.id = k.id
            ORDER BY 5
            """,
            [low, step, count],
        )
        cursor.execute(
            f"""
            INSERT INTO {Suppression._meta.db_table} (
                phone, reason, evidence, inbound_message_id, created_at, lifted_reason
            )
            SELECT DISTINCT ON (phone) phone, 'opt_out', content, id, received_at, ''
            FROM {InboundMessage._meta.db_table}
            WHERE is_opt_out
            ORDER BY phone, received_at
            ON CONFLICT (phone) WHERE lifted_at IS NULL DO NOTHING
            """
        )


def insert_pushes(count: int) -> None:
    from django.db import connection

    from messaging.models import PushRecord, VendorAccount

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {PushRecord._meta.db_table} (
                vendor_account_id, received_at, method, path, query, content_type, body,
                outcome, error, item_count
            )
            SELECT a.id, now() - i * interval '3 minutes', 'POST',
                   '/vendor/push/' || a.id || '/…/', '', 'application/json',
                   convert_to(
                       (SELECT json_agg(json_build_object(
                           'seq', ({FIRST_VENDOR_ID} + i * 500 + k)::text, 'sc', 'DELIVRD',
                           'pn', '1380013' || lpad(k::text, 4, '0')))::text
                        FROM generate_series(1, 50) AS k), 'UTF8'),
                   CASE WHEN i %% 100 = 1 THEN 'rejected'
                        WHEN i %% 100 = 2 THEN 'unauthenticated'
                        WHEN i %% 50 = 3 THEN 'partial' ELSE 'accepted' END,
                   CASE WHEN i %% 100 IN (1, 2) THEN 'unreadable body' ELSE '' END,
                   500
            FROM generate_series(1, %s) AS i
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
                  FROM {VendorAccount._meta.db_table}) a
              ON a.n = i %% (SELECT count(*) FROM {VendorAccount._meta.db_table})
            ORDER BY 2
            """,
            [count],
        )


def create_tasks(count: int) -> None:
    """Finished django-q2 tasks (send_batch, as the pipeline runs them), and a few failed."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import Task

    from messaging.models import SendBatch

    now = timezone.now()
    batch_ids = list(SendBatch.objects.order_by("-pk").values_list("pk", flat=True)[:count])
    tasks = []
    for i in range(count):
        failed = i % 100 == 99
        batch_id = batch_ids[i % len(batch_ids)] if batch_ids else i
        started = now - timedelta(minutes=3 * i)
        tasks.append(
            Task(
                id=uuid.uuid4().hex,
                name=f"send-batch-{batch_id}",
                func="messaging.tasks.send_batch",
                args=(batch_id,),
                kwargs={},
                result="vendor unreachable" if failed else {"sent": BATCH_SIZE, "queries": 17},
                group="sending",
                started=started,
                stopped=started + timedelta(seconds=1.5),
                success=not failed,
                attempt_count=1,
            )
        )
    Task.objects.bulk_create(tasks, batch_size=1000)


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def print_sizes() -> None:
    from django.apps import apps
    from django.db import connection

    from messaging.models import Message

    tables = sorted(
        {m._meta.db_table for m in apps.get_models() if not m._meta.proxy and m._meta.managed}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
                   c.reltuples::bigint
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname = 'public' AND relname = ANY(%s)
            ORDER BY pg_total_relation_size(c.oid) DESC
            """,
            [tables],
        )
        rows = cursor.fetchall()
        cursor.execute(f"SELECT count(*) FROM {Message._meta.db_table}")
        messages = cursor.fetchone()[0]
    print()
    print(f"{'table':<36} {'rows (estimate)':>16} {'table':>10} {'with indexes':>14}")
    total = 0
    for name, size, heap, tuples in rows:
        if size < 64 * 1024:
            continue
        total += size
        print(f"{name:<36} {max(tuples, 0):>16,} {mb(heap):>10} {mb(size):>14}")
    print(f"{'all tables':<36} {'':>16} {'':>10} {mb(total):>14}")
    by_name = {name: size for name, size, _heap, _tuples in rows}
    if messages:
        message_bytes = by_name.get(Message._meta.db_table, 0)
        reports = by_name.get("messaging_deliveryreport", 0)
        print(
            f"bytes per message: {message_bytes / messages:,.0f} (messages and their indexes), "
            f"{(message_bytes + reports) / messages:,.0f} with delivery reports, "
            f"{total / messages:,.0f} with every table"
        )
    print()


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


# --------------------------------------------------------------------------- the pages


def samples() -> dict:
    """The objects the pages are opened for, and the search terms, taken from the data."""
    from django.db.models import Count

    from accounts.models import User
    from messaging.models import (
        Campaign,
        DeliveryReport,
        ImportJob,
        InboundMessage,
        Message,
        RecipientList,
    )

    campaign = Campaign.objects.order_by("-total_count", "-pk").first()
    recipient_list = (
        RecipientList.objects.annotate(n=Count("recipients")).order_by("-n", "pk").first()
    )
    # A message of that campaign with a delivery report (found through the messages: the
    # reports of the newest campaign are the last of millions).
    first_messages = Message.objects.filter(campaign=campaign).order_by("pk")[:100]
    report = (
        DeliveryReport.objects.filter(message__in=list(first_messages.values_list("pk", flat=True)))
        .order_by("pk")
        .first()
    )
    message = report.message if report else first_messages.first()
    job = ImportJob.objects.filter(recipient_list=recipient_list).order_by("-pk").first()
    phone = message.phone if message else "13800138000"
    # A draft to the biggest list, for the pages of a campaign not yet sent (the
    # confirmation, the composer's edit page): the data set's campaigns are all sent.
    draft = None
    if campaign and recipient_list:
        draft, _created = Campaign.objects.get_or_create(
            name=DRAFT_NAME,
            defaults={
                "template": campaign.template,
                "vendor_account": campaign.vendor_account,
                "recipient_list": recipient_list,
                "created_by": User.objects.filter(username=MARKETER_USER).first(),
            },
        )
    return {
        "objects": {
            "messaging.campaign": campaign,
            "messaging.recipientlist": recipient_list,
            "messaging.message": message,
            "messaging.deliveryreport": report,
            "messaging.inboundmessage": InboundMessage.objects.filter(message=message).first()
            or InboundMessage.objects.order_by("pk").first(),
            "messaging.importjob": job,
            "messaging.vendoraccount": campaign.vendor_account if campaign else None,
            "messaging.template": campaign.template if campaign else None,
            "messaging.recipient": recipient_list.recipients.order_by("pk").first()
            if recipient_list
            else None,
            "accounts.user": User.objects.filter(username=MARKETER_USER).first(),
        },
        "draft": draft,
        "phone": phone,
        "vendor_id": message.vendor_message_id if message else "",
        "custom_id": message.custom_id if message else "",
    }


def search_terms(search_fields, found: dict) -> list[tuple[str, str]]:
    """(label, term) for each kind of lookup the admin's search fields make."""
    names = [field.lstrip("^=@").split("__")[-1] for field in search_fields]
    phone = found["phone"]
    terms = []
    if any("phone" in name for name in names):
        terms += [
            ("phone", phone),
            ("phone with spaces", f"{phone[:3]} {phone[3:7]} {phone[7:]}"),
            ("phone +86", f"+86{phone}"),
        ]
    if "vendor_message_id" in names and found["vendor_id"]:
        terms.append(("vendor id", found["vendor_id"]))
    if "custom_id" in names and found["custom_id"]:
        terms.append(("our id", found["custom_id"]))
    if not terms:
        terms.append(("word", "bench"))
    return terms


STANDARD_ADMIN_VIEWS = ("changelist", "add", "history", "delete", "change")
# Django's own site views: timed as the index, or no page (login, logout, JavaScript).
SITE_VIEWS_SKIPPED = ("index", "login", "logout", "password_change", "autocomplete", "jsi18n")


def admin_pages(found: dict) -> list[dict]:
    from django.contrib import admin
    from django.contrib.admin.utils import quote as admin_quote
    from django.test import RequestFactory
    from django.urls import NoReverseMatch, URLPattern, reverse

    from accounts.models import User

    superuser = User.objects.get(username=ADMIN_USER)
    factory = RequestFactory()
    pages = [page("admin index", reverse("admin:index"), "admin")]
    for name in sorted(
        p.name
        for p in admin.site.get_urls()
        if isinstance(p, URLPattern) and p.name and not p.pattern.regex.groups
    ):
        if name not in SITE_VIEWS_SKIPPED and not name.endswith("_done"):
            pages.append(page(f"admin {name}", reverse(f"admin:{name}"), "admin"))
    app_labels = sorted({model._meta.app_label for model in admin.site._registry})
    for app_label in app_labels:
        url = reverse("admin:app_list", kwargs={"app_label": app_label})
        pages.append(page(f"admin app {app_label}", url, "admin"))

    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower
    ):
        label = model._meta.label_lower
        info = (model._meta.app_label, model._meta.model_name)
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        pages.append(page(f"changelist {label}", changelist, "admin"))

        request = factory.get(changelist)
        request.user = superuser
        search_fields = model_admin.get_search_fields(request)
        for name, term in search_terms(search_fields, found) if search_fields else ():
            url = f"{changelist}?{urlencode({'q': term})}"
            pages.append(page(f"search {label} {name} {term}", url, "admin"))

        try:
            cl = model_admin.get_changelist_instance(request)
        except Exception as error:  # reported; the other pages still run
            pages.append(page(f"filters {label}", changelist, "admin", error=repr(error)))
        else:
            for spec in cl.filter_specs:
                choice = next((c for c in spec.choices(cl) if not c.get("selected")), None)
                if choice is None:
                    continue
                query = choice["query_string"]
                title = str(getattr(spec, "title", type(spec).__name__))
                pages.append(
                    page(
                        f"filter {label} {title}: {query.lstrip('?')}", changelist + query, "admin"
                    )
                )

        if model_admin.has_add_permission(request):
            pages.append(page(f"add {label}", reverse("admin:{}_{}_add".format(*info)), "admin"))

        obj = found["objects"].get(label)
        if obj is None:
            obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is None:
            pages.append(page(f"change {label}", "", "admin", error="no object"))
            continue
        key = admin_quote(obj.pk)
        change = reverse("admin:{}_{}_change".format(*info), args=[key])
        pages.append(page(f"change {label} #{obj.pk}", change, "admin"))
        if model_admin.has_delete_permission(request, obj):
            delete = reverse("admin:{}_{}_delete".format(*info), args=[key])
            pages.append(page(f"delete page {label} #{obj.pk}", delete, "admin"))
        # The admin's own pages (a campaign's send page, imports, ...).
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            if pattern.name.endswith(tuple(f"_{v}" for v in STANDARD_ADMIN_VIEWS)):
                continue
            kwargs = {name: obj.pk for name in pattern.pattern.converters}
            try:
                url = reverse(f"admin:{pattern.name}", kwargs=kwargs)
            except NoReverseMatch:
                continue
            pages.append(page(f"admin {pattern.name}", url, "admin"))
    return pages


def portal_pages(found: dict) -> list[dict]:
    from django.urls import reverse

    from messaging import portal_urls

    objects = found["objects"]
    campaign, recipient_list, job = (
        objects["messaging.campaign"],
        objects["messaging.recipientlist"],
        objects["messaging.importjob"],
    )
    ids = {
        "campaign_pk": campaign and campaign.pk,
        "list_pk": recipient_list and recipient_list.pk,
        "job_pk": job and job.pk,
        "account_pk": objects["messaging.vendoraccount"] and objects["messaging.vendoraccount"].pk,
        "fmt": "csv",
    }
    # ``pk`` means the object of the route's first segment.
    template = objects.get("messaging.template")
    by_segment = {
        "campaigns": ids["campaign_pk"],
        "lists": ids["list_pk"],
        "imports": ids["job_pk"],
        "accounts": ids["account_pk"],
        "templates": template and template.pk,
        "approvals": ids["campaign_pk"],
    }
    extra_queries = {
        "campaigns": [{"q": "bench"}, {"status": "completed"}, {"page": "999999"}],
        "lists": [{"q": "bench"}],
        "list": [{"page": "999999"}],
        "inbox": [
            {"q": found["phone"]},
            {"q": "退订"},
            {"campaign": ids["campaign_pk"]},
            {"read": "no"},
            {"opt_out": "yes"},
            {"page": "999999"},
        ],
    }
    pages = [page("portal home", reverse("home"), "marketer")]
    for pattern in portal_urls.urlpatterns:
        kwargs = {}
        missing = []
        for name in pattern.pattern.converters:
            value = ids.get(name)
            if name == "pk":
                value = by_segment.get(str(pattern.pattern).split("/", 1)[0])
                if pattern.name in DRAFT_PAGES and found["draft"] is not None:
                    value = found["draft"].pk
            if value is None:
                missing.append(name)
            kwargs[name] = value
        label = f"portal {pattern.name}"
        if missing:
            pages.append(page(label, "", "marketer", error=f"no object for {', '.join(missing)}"))
            continue
        url = reverse(f"portal:{pattern.name}", kwargs=kwargs)
        pages.append(page(label, url, "marketer"))
        for query in extra_queries.get(pattern.name, []):
            pages.append(
                page(f"{label} ?{urlencode(query)}", f"{url}?{urlencode(query)}", "marketer")
            )
    return pages


def page(label: str, url: str, user: str, error: str = "") -> dict:
    return {"label": label, "url": url, "user": user, "error": error}


# --------------------------------------------------------------------------- the child


def worker(args) -> None:
    """Requests the pages read from stdin (one JSON object a line) and reports on stdout:
    a ``tick`` after every request, a ``page`` with its times after the last."""
    import resource

    if args.worker_memory_mb:
        limit = args.worker_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    setup_django(database_url(args))
    import contextlib
    import logging

    from django.db import connection
    from django.db.backends.signals import connection_created
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    def statement_timeout(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {int(args.timeout * 1000)}")

    connection_created.connect(statement_timeout)
    # 404 and 405 answers are expected here, and reported in the table.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    clients = {}
    for name, username in (("admin", ADMIN_USER), ("marketer", MARKETER_USER)):
        client = Client(raise_request_exception=True)
        client.force_login(User.objects.get(username=username))
        clients[name] = client

    def emit(**event):
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    emit(event="ready")
    for line in sys.stdin:
        item = json.loads(line)
        client = clients[item["user"]]
        times, status, error, queries = [], None, "", None
        count = args.requests + 1
        i = 0
        while i < count:
            # The warm-up's queries are counted (the debug cursor costs a little time).
            capture = CaptureQueriesContext(connection) if i == 0 else contextlib.nullcontext()
            started = time.perf_counter()
            try:
                with capture:
                    response = client.get(item["url"], secure=True)
                    if response.streaming:
                        # A download: timed to its first chunk (the rest is the file).
                        next(iter(response.streaming_content), b"")
                        response.close()
            except Exception as exc:  # reported as the page's outcome
                error = (
                    f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
                )
                break
            elapsed = time.perf_counter() - started
            status = response.status_code
            emit(event="tick")
            if i == 0:
                queries = len(capture)
                if status == 405:
                    break  # POST only
                if elapsed > args.slow:
                    count = min(count, 4)  # warm-up plus three
            else:
                times.append(elapsed)
            i += 1
        emit(event="page", status=status, times=times, error=error, queries=queries)


class Worker:
    """The parent's side of a child requesting pages."""

    def __init__(self, args):
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--database",
            args.database,
            "--server",
            args.server,
            "--requests",
            str(args.requests),
            "--timeout",
            str(args.timeout),
            "--slow",
            str(args.slow),
            "--worker-memory-mb",
            str(args.worker_memory_mb),
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                continue  # not ours (a stray print)
        self.events.put(None)

    def next_event(self, timeout: float):
        return self.events.get(timeout=timeout)

    def send(self, item: dict):
        self.process.stdin.write(json.dumps(item) + "\n")
        self.process.stdin.flush()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def time_pages(args, pages: list[dict]) -> list[dict]:
    results = []
    current: Worker | None = None
    try:
        for item in pages:
            if item["error"] or not item["url"]:
                results.append({**item, "status": None, "times": []})
                print(format_row(results[-1]), flush=True)
                continue
            if current is None:
                current = Worker(args)
                event = current.next_event(timeout=120)
                if not event or event.get("event") != "ready":
                    raise SystemExit("the page-timing child did not start")
            current.send(item)
            outcome = None
            while outcome is None:
                try:
                    event = current.next_event(timeout=args.timeout)
                except queue.Empty:
                    outcome = {"status": None, "times": [], "error": f"> {args.timeout:g} s"}
                    current.stop()
                    current = None
                    break
                if event is None:
                    code = current.process.wait()
                    outcome = {"status": None, "times": [], "error": f"child died ({code})"}
                    current = None
                elif event["event"] == "page":
                    outcome = event
            result = {**item, **outcome}
            results.append(result)
            print(format_row(result), flush=True)
    finally:
        if current is not None:
            current.stop()
    return results


def p95(times: list[float]) -> float:
    """Nearest rank: with 10 requests, the slowest."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def format_row(result: dict) -> str:
    times = result.get("times") or []
    status = "-" if result.get("status") is None else str(result["status"])
    if times:
        p50_text = f"{statistics.median(times) * 1000:,.0f}"
        p95_text = f"{p95(times) * 1000:,.0f}"
        mark = " SLOW" if p95(times) * 1000 >= TARGET_MS else ""
    else:
        p50_text = p95_text = ""
        mark = ""
    note = result.get("error") or ""
    if not note and result.get("status") == 405:
        note = "POST only, not timed"
    queries = "" if result.get("queries") is None else str(result["queries"])
    return (
        f"{status:>6} {queries:>7} {len(times):>3} {p50_text:>8} {p95_text:>8}{mark:<6}  "
        f"{result['label']}{'  -- ' + note if note else ''}"
    )


def header() -> str:
    """The page comes last: its label is long, and Chinese filter titles are double-width."""
    return f"{'status':>6} {'queries':>7} {'n':>3} {'p50 ms':>8} {'p95 ms':>8}{'':<6}  page"


def summary(results: list[dict]) -> None:
    timed = [r for r in results if r.get("times")]
    slow = [r for r in timed if p95(r["times"]) * 1000 >= TARGET_MS]
    timed_out = [r for r in results if str(r.get("error", "")).startswith(">")]
    errors = [
        r
        for r in results
        if (r.get("error") and r not in timed_out) or (r.get("status") or 200) >= 500
    ]
    print()
    print(
        f"{len(slow) + len(timed_out)} of {len(timed) + len(timed_out)} pages miss the target "
        f"(p95 < {TARGET_MS} ms): {len(slow)} slower, {len(timed_out)} timed out; "
        f"{len(errors)} not timed for an error or a missing object"
    )


# --------------------------------------------------------------------------- main


def database_url(args) -> str:
    return f"{args.server.rstrip('/')}/{args.database}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--requests", type=int, default=10, help="timed requests per page")
    parser.add_argument("--database", default="admin_bench")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL, without a name")
    parser.add_argument("--rebuild", action="store_true", help="drop and build the data again")
    parser.add_argument("--skip-build", action="store_true", help="time the data as it is")
    parser.add_argument("--only", help="time only the pages whose label or URL contains this")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds one request may take (default 60)"
    )
    parser.add_argument(
        "--slow",
        type=float,
        default=3.0,
        help="a page whose warm-up takes longer is timed three times, not --requests",
    )
    parser.add_argument("--worker-memory-mb", type=int, default=3072)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    url = database_url(args)
    print(f"database {url}", flush=True)
    if not args.skip_build:
        ensure_database(url, drop=args.rebuild)
        wanted = (args.messages // args.campaigns * args.campaigns, args.campaigns)
        have = existing_dataset(url)
        if have != wanted and (have is not None or has_tables(url)):
            print(f"dropping the data set there ({have or 'incomplete'})", flush=True)
            ensure_database(url, drop=True)
            have = None
    setup_django(url)
    from django.core.management import call_command as _call

    _call("collectstatic", interactive=False, verbosity=0)  # as bin/serve does
    if not args.skip_build:
        if have is None:
            build(wanted[0], args.campaigns)
        else:
            from django.core.management import call_command

            print(f"reusing the data set of {have[0]:,} messages in {have[1]} campaigns")
            call_command("migrate", verbosity=0)
    print_sizes()

    found = samples()
    objects = found["objects"]
    campaign, recipient_list = objects["messaging.campaign"], objects["messaging.recipientlist"]
    if campaign and recipient_list:
        print(
            f"pages open campaign #{campaign.pk} ({campaign.total_count:,} messages), list "
            f"#{recipient_list.pk} ({recipient_list.n:,} recipients), message "
            f"#{objects['messaging.message'].pk}; searches: phone {found['phone']}, vendor id "
            f"{found['vendor_id']}, our id {found['custom_id']}"
        )
    pages = admin_pages(found) + portal_pages(found)
    if args.only:
        pages = [p for p in pages if args.only in p["label"] or args.only in p["url"]]
    print(
        f"timing {len(pages)} pages: 1 warm-up + {args.requests} requests each, "
        f"production settings, test client",
        flush=True,
    )
    print(header())
    started = time.perf_counter()
    results = time_pages(args, pages)
    results += time_whole_counts(args, pages)
    print(f"\ntimed in {time.perf_counter() - started:.0f} s")
    summary(results)


def time_whole_counts(args, pages: list[dict]) -> list[dict]:
    """The pages that count a long list's send in the background (``services.send_count``)
    showed it under way above: the count is run here, as its task would run it, timed, and
    those pages are timed again showing the whole list's figures."""
    from messaging.models import Campaign, SendCount
    from messaging.services import send_count

    again = []
    for item in pages:
        name = item["label"].removeprefix("portal ")
        if name not in ("confirm", "approval_review") or not item["url"]:
            continue
        pk = int(re.search(r"/(\d+)/", item["url"]).group(1))
        count = send_count.latest(Campaign.objects.get(pk=pk))
        if count is None or count.state == SendCount.State.DONE:
            continue
        started = time.perf_counter()
        outcome = send_count.run(count.pk)
        print(
            f"\nthe whole-list count behind {item['label']}: {outcome}, "
            f"{time.perf_counter() - started:.1f} s (a task; the page polls it)",
            flush=True,
        )
        again.append({**item, "label": f"{item['label']} (whole list counted)"})
    return time_pages(args, again) if again else []


if __name__ == "__main__":
    main()
