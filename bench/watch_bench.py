"""Live refresh at scale: a hundred marketers watching a campaign of a million messages.

    .venv/bin/python bench/admin_bench.py                 # builds the data set (once)
    .venv/bin/python bench/watch_bench.py                 # 100 watchers, 60 s per phase
    .venv/bin/python bench/watch_bench.py --watchers 200 --seconds 30

Uses the data set ``admin_bench.py`` builds (10M messages in ten campaigns of 1M; the same
``--database`` and ``--server``).  Starts the production web server as ``bin/serve`` does
(gunicorn with ``smsportal/gunicorn.conf.py``: 2 processes per core + 1, production
settings, access log off) on a free port, signs the bench's marketer in, and has
``--watchers`` clients each request the campaign page's live refresh (``stats.json`` of the
campaign with the most messages) every 2 s, as the page does, their first requests spread
over the first 2 s.  Two phases of ``--seconds`` each:

* **changing**: no ``If-None-Match``, so every answer is a 200 with the whole JSON, as while
  a campaign sends and its counters move between two refreshes (the worst case);
* **unchanged**: the ETag of the last answer sent back, as the page's script does, so the
  answer is a 304 while nothing moves (a campaign that finished, or paused).

Prints per phase the requests answered and their statuses, p50 / p95 latency, and the CPU
seconds spent by the web server's processes and by the database's server processes, divided
by the phase's wall time: the cores the watchers cost.  Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from admin_bench import DEFAULT_SERVER, MARKETER_USER, bench_env, setup_django
from common import free_port
from send_bench import CpuByProcess, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
INTERVAL_S = 2.0
"""The campaign page's refresh (``static/portal/campaign.js``)."""


def gunicorn_pids(master: int) -> list[int]:
    """The server's master and its worker processes."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        children = []
    return [master, *map(int, children)]


def database_backends(database: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
        return [pid for (pid,) in cursor.fetchall()]


def signed_in_cookie() -> tuple[str, str]:
    """A session of the bench's marketer, made as ``force_login`` makes it (the session is
    in the database, which the server shares)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=MARKETER_USER))
    return settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value


class Watcher(threading.Thread):
    def __init__(self, url: str, headers: dict, start_at: float, stop_at: float, etag: bool):
        super().__init__(daemon=True)
        self.url, self.headers, self.start_at, self.stop_at = url, headers, start_at, stop_at
        self.use_etag = etag
        self.times: list[float] = []
        self.statuses: dict[int, int] = {}

    def run(self) -> None:
        import requests

        session = requests.Session()
        last_etag = None
        due = self.start_at
        while due < self.stop_at:
            time.sleep(max(0.0, due - time.monotonic()))
            headers = dict(self.headers)
            if self.use_etag and last_etag:
                headers["If-None-Match"] = last_etag
            began = time.monotonic()
            try:
                answer = session.get(self.url, headers=headers, timeout=30)
                status = answer.status_code
                last_etag = answer.headers.get("ETag", last_etag)
            except requests.RequestException:
                status = 0
            self.times.append(time.monotonic() - began)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            due += INTERVAL_S


def run_phase(name, url, headers, args, server_pid, database) -> None:
    cpu = CpuByProcess()

    def sample() -> None:
        cpu.sample({"web": gunicorn_pids(server_pid), "database": database_backends(database)})

    sample()
    began = time.monotonic()
    stop_at = began + args.seconds
    watchers = [
        Watcher(url, headers, began + INTERVAL_S * i / args.watchers, stop_at, name == "unchanged")
        for i in range(args.watchers)
    ]
    for watcher in watchers:
        watcher.start()
    while any(w.is_alive() for w in watchers):
        time.sleep(1.0)
        sample()  # the database's server processes come and go with the workers' connections
    wall = time.monotonic() - began
    sample()
    times = sorted(t for w in watchers for t in w.times)
    statuses: dict[int, int] = {}
    for watcher in watchers:
        for status, n in watcher.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    totals = cpu.totals()
    web, db = totals.get("web", 0.0), totals.get("database", 0.0)
    p95 = times[max(0, int(len(times) * 0.95) - 1)] if times else 0.0
    print(f"\n== {name}: {args.watchers} watchers, one refresh each every {INTERVAL_S:g} s")
    print(f"   requests            {len(times):,} in {wall:.1f} s ({len(times) / wall:.1f}/s)")
    print(f"   statuses            {dict(sorted(statuses.items()))}")
    if times:
        print(
            f"   latency             p50 {statistics.median(times) * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms"
        )
    print(f"   CPU seconds         web server {web:.1f}, database {db:.1f} (total {web + db:.1f})")
    print(
        f"   cores used          web server {web / wall:.2f}, database {db / wall:.2f}, "
        f"total {(web + db) / wall:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--database", default="admin_bench")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL, without a name")
    args = parser.parse_args()

    url = f"{args.server.rstrip('/')}/{args.database}"
    setup_django(url)
    from messaging.models import Campaign

    campaign = Campaign.objects.order_by("-total_count", "-pk").first()
    if campaign is None or not campaign.total_count:
        raise SystemExit(f"no data set in {url}: run bench/admin_bench.py first")
    cookie_name, cookie = signed_in_cookie()
    port = free_port()
    env = bench_env(url) | {"WEB_BIND": f"127.0.0.1:{port}", "WEB_ACCESS_LOG": "off"}
    log = open(Path("/tmp") / "watch-bench-web.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "smsportal/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        # The reverse proxy's header (trusted from 127.0.0.1), so that the production
        # settings take the request as HTTPS; the session cookie as the browser sends it.
        headers = {
            "Host": "127.0.0.1",
            "X-Forwarded-Proto": "https",
            "Cookie": f"{cookie_name}={cookie}",
        }
        stats_url = f"http://127.0.0.1:{port}/portal/campaigns/{campaign.pk}/stats.json"
        import requests

        first = requests.get(stats_url, headers=headers, timeout=30, allow_redirects=False)
        if first.status_code != 200:
            raise SystemExit(f"stats.json answered {first.status_code}, not 200")
        print(
            f"campaign #{campaign.pk} ({campaign.total_count:,} messages), "
            f"{len(gunicorn_pids(server.pid)) - 1} web server processes, "
            f"answer {len(first.content):,} bytes"
        )
        for phase in ("changing", "unchanged"):
            run_phase(phase, stats_url, headers, args, server.pid, args.database)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
