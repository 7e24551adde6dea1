"""Delivery-report push ingestion benchmark: a real HTTP server, PostgreSQL, the vendor's format.

    .venv/bin/python bench/push_bench.py                          # 1,000,000 reports, pushes of 500
    .venv/bin/python bench/push_bench.py --reports 200000 --push-size 500 --clients 4

What it does:

1. (Re)creates the ``bench_push`` database (``DATABASE_URL``; default
   ``postgres://postgres@127.0.0.1:5432/bench_push``) and migrates it.
2. Creates one ashx5g account, one campaign and ``--reports`` submitted messages with vendor
   ids (one ``INSERT ... SELECT generate_series``), then ``VACUUM ANALYZE``.
3. Starts the portal as production runs it (``bin/serve``): gunicorn with
   ``smsportal/gunicorn.conf.py``, ``--server-processes`` workers (default 2) of
   ``--server-threads`` threads (default 4; the threaded worker keeps connections alive).
   Production settings (``DJANGO_DEBUG=false``; the client sends ``X-Forwarded-Proto: https``
   as a TLS-terminating proxy would); the full middleware stack runs for every push.
4. ``--clients`` threads POST the reports to the account's push URL as the vendor does
   (document 3.4: a JSON array of report items, ``seq`` = the message's vendor id, a mix of
   DELIVRD and UNDELIV), one report per message in a shuffled order, each push on a kept-alive
   connection, and check every answer is the vendor's ``0``.
5. Prints reports per second (all reports / wall time from the first push to the last answer),
   p50 / p99 / max response time per push as the client saw it, the server's peak RSS
   (VmHWM), and checks the outcome in the database (every report stored and matched, every
   message final, campaign counters equal to a recount).

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from common import free_port, production_env

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_push"
FIRST_ID = 50_821_410_000_000_000  # 17-digit ids like the document's ``seq``
ACCOUNT_ID = "960001"


def bench_env(database_url: str) -> dict[str, str]:
    return production_env(
        database_url,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PORTAL_BASE_URL="http://127.0.0.1",
    )


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str) -> None:
    os.environ.update(bench_env(database_url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --------------------------------------------------------------------------- data


def create_data(n: int) -> tuple[str, int]:
    """The account, its campaign and ``n`` submitted messages.  Returns (push path, campaign)."""
    from django.core.management import call_command
    from django.db import connection

    from messaging.models import Campaign, Message, RecipientList, Template, VendorAccount
    from messaging.services.campaigns import refresh_counters

    call_command("migrate", verbosity=0)
    account = VendorAccount.objects.create(
        vendor="ashx5g",
        name="bench ashx5g",
        base_url="http://127.0.0.1:9/ashx5g",
        account_id=ACCOUNT_ID,
        secret="bench-password-1",
        signature="【测试商城】",
    )
    template = Template.objects.create(name="bench", body="周末大促，全场五折")
    recipients = RecipientList.objects.create(name="bench")
    campaign = Campaign.objects.create(
        name="bench",
        template=template,
        vendor_account=account,
        recipient_list=recipients,
        status=Campaign.State.SENDING,
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Message._meta.db_table} (
                campaign_id, vendor_account_id, variables, phone, content, segments, custom_id,
                vendor_message_id, vendor_batch_id, status, vendor_status_code,
                vendor_status_description, error, attempts, created_at, submitted_at
            )
            SELECT %s, %s, '[]'::jsonb, (13800000000 + i)::text, %s, 1, 'b' || i::text,
                   (%s + i)::text, '', 'submitted', '', '', '', 1, now(), now()
            FROM generate_series(0, %s - 1) AS i
            """,
            [campaign.pk, account.pk, "【测试商城】周末大促，全场五折回T退订", FIRST_ID, n],
        )
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Message._meta.db_table}")
    refresh_counters([campaign.pk])
    print(f"created {n:,} messages in {time.perf_counter() - started:.1f} s", flush=True)
    return account.push_path, campaign.pk


def push_bodies(n: int, size: int) -> list[bytes]:
    """The pushes, in the vendor's report-push format, one report per message, shuffled."""
    step = 7_919  # prime, coprime with any n it does not divide: a permutation of 0..n-1
    while n % step == 0:
        step += 2
    order = [(i * step) % n for i in range(n)]
    bodies = []
    for start in range(0, n, size):
        items = []
        for i in order[start : start + size]:
            seq = str(FIRST_ID + i)
            ok = i % 10 != 3
            items.append(
                {
                    "uid": "2",
                    "uname": ACCOUNT_ID,
                    "seq": seq,
                    "pn": str(13800000000 + i),
                    "stm": "20240501100000",
                    "sc": "DELIVRD" if ok else "UNDELIV",
                    "sc_chn": "成功" if ok else "失败",
                    "st": "20240501100005",
                    "sid": seq,
                    "pid": 1,
                    "row": 1,
                    "smsid": "",
                    "help": "",
                }
            )
        bodies.append(json.dumps(items, ensure_ascii=False).encode("utf-8"))
    return bodies


# --------------------------------------------------------------------------- server


def start_servers(database_url: str, processes: int, threads: int) -> tuple[subprocess.Popen, int]:
    """The production web server as ``bin/serve`` runs it: gunicorn with the project's config
    (``smsportal/gunicorn.conf.py``), ``processes`` workers of ``threads`` threads each (the
    threaded worker keeps the vendor's connections alive between pushes)."""
    port = free_port()
    env = bench_env(database_url)
    env.update(
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(processes),
        WEB_THREADS=str(threads),
        WEB_ACCESS_LOG="off",
        # No static files are asked for here; an empty directory keeps whitenoise quiet.
        DJANGO_STATIC_ROOT=tempfile.mkdtemp(prefix="push-bench-static-"),
    )
    master = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "smsportal/gunicorn.conf.py"],
        env=env,
        cwd=ROOT,
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return master, port
        except OSError:
            time.sleep(0.1)
    master.kill()
    raise SystemExit("the server did not start")


def worker_pids(master: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --------------------------------------------------------------------------- client


def send_all(port: int, path: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))
    headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        own = []
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=bodies[index], headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"push {index}: {exc!r}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            own.append(time.perf_counter() - started)
            if response.status != 200 or answer != b"0":
                failures.append(f"push {index}: HTTP {response.status} {answer[:200]!r}")
        connection.close()
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        print(f"{len(failures)} pushes failed, first: {failures[0]}", flush=True)
    return elapsed, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def check(campaign_id: int, n: int) -> None:
    from django.db.models import Count

    from messaging.models import Campaign, DeliveryReport, Message
    from messaging.services.campaigns import refresh_counters

    reports = DeliveryReport.objects.aggregate(
        total=Count("id"), matched=Count("message_id", distinct=False)
    )
    statuses = dict(
        Message.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    fields = ("submitted_count", "delivered_count", "failed_count", "segment_count")
    incremental = Campaign.objects.values(*fields).get(pk=campaign_id)
    refresh_counters([campaign_id])
    recount = Campaign.objects.values(*fields).get(pk=campaign_id)
    print(f"reports stored {reports['total']:,} (matched {reports['matched']:,}) of {n:,}")
    print(f"messages by status: {statuses}")
    print(
        f"campaign: delivered {incremental['delivered_count']:,}, "
        f"failed {incremental['failed_count']:,}; "
        f"incremental counters {'equal' if incremental == recount else 'DIFFER from'} a recount"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--push-size", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4, help="concurrent pushing connections")
    parser.add_argument("--server-processes", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--server-threads", type=int, default=4, help="threads per worker")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)

    recreate_database(database_url)
    setup_django(database_url)
    path, campaign_id = create_data(args.reports)
    bodies = push_bodies(args.reports, args.push_size)
    print(f"{len(bodies):,} pushes of {args.push_size} built", flush=True)
    master, port = start_servers(database_url, args.server_processes, args.server_threads)
    try:
        # Warm up: the first requests import the views and open the database connections.
        for _ in range(4 * args.server_processes):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("POST", path, body=b"[]", headers={"X-Forwarded-Proto": "https"})
            connection.getresponse().read()
            connection.close()
        elapsed, latencies = send_all(port, urlsplit(path).path, bodies, args.clients)
        rss = [peak_rss_mb(pid) for pid in worker_pids(master)]
    finally:
        master.terminate()
        master.wait(timeout=60)
    pushed = min(args.reports, len(latencies) * args.push_size)
    print(
        f"pushed {pushed:,} reports in {len(latencies):,} pushes of {args.push_size} "
        f"with {args.clients} clients to gunicorn ({args.server_processes} workers of "
        f"{args.server_threads} threads) "
        f"in {elapsed:.1f} s"
    )
    print(f"reports per second: {pushed / elapsed:,.0f}")
    print(
        f"per-push response time: p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    print(
        f"server peak RSS: {max(rss):.0f} MB per worker "
        f"({len(rss)} workers, {sum(rss):.0f} MB together)"
    )
    check(campaign_id, args.reports)


if __name__ == "__main__":
    main()
