"""Campaign sending benchmark: real processes, PostgreSQL, the vendor simulator.

    .venv/bin/python bench/send_bench.py                      # ashx5g 1,000,000 + others 100,000
    .venv/bin/python bench/send_bench.py --vendor ashx5g --recipients 200000

For each vendor: a personalised campaign (``<name>`` and ``<points>`` per recipient) is started
through the admin's confirm page on a real web server (``manage.py runserver``); a real
``manage.py qcluster`` (ORM broker) creates the messages and sends the batches to the
simulator (``manage.py run_simulators``, its own process).  The cluster runs with ``DEBUG``
off, as in production.  Measured from the confirm POST to
the last batch's answer being recorded:

* time to first request: from the confirm POST to the simulator's first accepted message
  (the start sends its first chunk's batches while it writes the rest);
* time the start took (confirm POST → its last chunk committed);
* time to last answer: from the confirm POST to the last batch's answer recorded;
* messages per second (all messages accepted by the simulator / time to last answer);
* peak RSS (VmHWM) of the web process and of every task-cluster process;
* queries per batch, as counted by each send task (``messaging.tasks.send_batch``);
* CPU seconds from the confirm on, by kind of process: the task cluster (every process of
  it), the simulator, the web server, and the database's server processes (sampled every
  half second; a database connection that lives less than that goes uncounted).

Delivery-report pushes are off here (the account's push is disabled) so the figure is the
sending pipeline's; ingestion is measured by ``bench/push_bench.py``.  Figures are printed,
never asserted.  Uses ``DATABASE_URL`` (default: a ``bench_send`` database on the local
PostgreSQL, created when missing).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from common import free_port

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_send"
PLAN = [("ashx5g", 1_000_000), ("actiongw", 100_000), ("montnets", 100_000)]
PLAN += [("smsadmin", 100_000), ("smscn", 100_000)]
ACCOUNT_IDS = {"montnets": "E10ABC", "smscn": "benchuser"}
PASSWORD = "bench-password-1"


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuByProcess:
    """CPU seconds each kind of process spent from the confirm on: the machine is shared, so
    the wall-clock figures move with other people's load; these move much less.  A process's
    time is read while it lives (the last reading counts for one that ends)."""

    def __init__(self):
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}

    def sample(self, pids_by_kind: dict[str, list[int]]) -> None:
        for kind, pids in pids_by_kind.items():
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is None:
                    continue
                self.kind.setdefault(pid, kind)
                self.first.setdefault(pid, seconds)
                self.last[pid] = seconds

    def totals(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, kind in self.kind.items():
            totals[kind] = totals.get(kind, 0.0) + self.last[pid] - self.first[pid]
        return totals


def database_backends() -> list[int]:
    """Server processes of the bench's database (this machine's PostgreSQL), but the bench's
    own connection."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


class Processes:
    def __init__(self, env: dict):
        self.env, self.procs = env, {}
        self.logs = Path(os.environ.get("TMPDIR", "/tmp"))

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        log = open(self.logs / f"send-bench-{name}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def prepare(vendor: str, count: int, sim_url: str):
    """Fresh tables, one account on the simulator, a list of ``count`` recipients, a draft
    campaign.  Returns the campaign."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from messaging.models import Campaign, PortalSettings, RecipientList, Template, VendorAccount

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_message, messaging_deliveryreport, messaging_sendbatch, "
            "messaging_campaign, messaging_recipient, messaging_recipientlist, "
            "messaging_inboundmessage, messaging_pushrecord, django_q_ormq, django_q_task "
            "RESTART IDENTITY CASCADE"
        )
    # The bench measures the pipeline at whatever hour it runs: the send window is open all
    # day (start == end); the frequency caps keep their defaults and are applied as usual.
    rules = PortalSettings.load()
    rules.send_window_start = rules.send_window_end = datetime.time(0)
    rules.save()
    # Every earlier run's account goes, whichever vendor: their secrets were encrypted with
    # that run's key, which the simulator (it loads every active account) cannot read.
    # (Not loaded here either, for the same reason.)
    VendorAccount.objects.only("pk").delete()
    user_model = get_user_model()
    user = user_model.objects.filter(username="bench").first()
    if user is None:
        user = user_model.objects.create_superuser("bench", "bench@example.com", PASSWORD)
    account = VendorAccount.objects.create(
        vendor=vendor,
        name=f"bench {vendor}",
        base_url=f"{sim_url}/{vendor}",
        account_id=ACCOUNT_IDS.get(vendor, "960001"),
        secret="bench-secret",
        extension="12",
        signature="【会员中心】",
        push_enabled=False,
        rate_limit_per_s=1_000_000,
    )
    recipients = RecipientList.objects.create(name=f"bench {count}", columns=["name", "points"])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO messaging_recipient (recipient_list_id, phone, variables, source_row) "
            "SELECT %s, '13' || lpad(i::text, 9, '0'), "
            "jsonb_build_object('name', '会员' || i, 'points', (i * 7 %% 10000)::text), i + 1 "
            "FROM generate_series(1, %s) AS i",
            [recipients.pk, count],
        )
    template = Template.objects.create(
        name="bench", body="<name>您好，您的积分<points>将于月底清零，请及时兑换。", created_by=user
    )
    return Campaign.objects.create(
        name=f"bench {vendor}",
        template=template,
        vendor_account=account,
        recipient_list=recipients,
        created_by=user,
    )


def start_through_web(web_url: str, campaign_id: int) -> tuple[float, float]:
    """Log in to the admin and confirm the send, as an operator would; returns the time of the
    confirm POST (monotonic, and on the wall clock)."""
    import requests

    session = requests.Session()
    login = f"{web_url}/admin/login/"
    session.get(login, timeout=30)
    session.post(
        login,
        data={
            "username": "bench",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login},
        timeout=30,
    ).raise_for_status()
    send_url = f"{web_url}/admin/messaging/campaign/{campaign_id}/send/"
    session.get(send_url, timeout=600).raise_for_status()
    started, started_wall = time.monotonic(), time.time()
    answer = session.post(
        send_url,
        data={
            "confirm": "1",
            "missing": "exclude",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": send_url},
        timeout=600,
    )
    answer.raise_for_status()
    return started, started_wall


def sim_timeline(sim_url: str, vendor: str) -> dict:
    import requests

    answer = requests.post(f"{sim_url}/_sim/timeline", json={"vendor": vendor}, timeout=60)
    answer.raise_for_status()
    return answer.json()


def run_one(vendor: str, count: int, env: dict, timeout: float) -> dict:
    from django.db import close_old_connections
    from django.db.models import Count, Max
    from django_q.models import Success

    from messaging.models import Campaign, Message, SendBatch

    sim_port, web_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    campaign = prepare(vendor, count, sim_url)
    processes = Processes({**env, "PORTAL_BASE_URL": f"http://127.0.0.1:{web_port}"})
    try:
        simulator = processes.start("simulator", "run_simulators", "--port", str(sim_port))
        web = processes.start("web", "runserver", "--noreload", f"127.0.0.1:{web_port}")
        # The task cluster runs as in production (DEBUG off): with DEBUG on, Django formats
        # and keeps every statement a worker runs (a batch's carry its 25,000 ids and texts),
        # which costs the workers time and memory that production does not spend.
        cluster = processes.start("qcluster", "qcluster", DJANGO_DEBUG="false")
        wait_for_port(sim_port)
        wait_for_port(web_port)
        time.sleep(3)  # the cluster's workers start

        load_before = os.getloadavg()[0]
        cpu = CpuByProcess()

        def sample_cpu() -> None:
            cpu.sample(
                {
                    "task cluster": process_tree(cluster.pid),
                    "simulator": [simulator.pid],
                    "web": [web.pid],
                    "PostgreSQL": database_backends(),
                }
            )

        sample_cpu()
        started, started_wall = start_through_web(f"http://127.0.0.1:{web_port}", campaign.pk)
        cluster_pids: set[int] = set()
        rss: dict[int, float] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            close_old_connections()
            cluster_pids.update(process_tree(cluster.pid))
            for pid in cluster_pids:
                rss[pid] = max(rss.get(pid, 0.0), peak_rss_mb(pid))
            sample_cpu()
            state = Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)
            if state not in (
                Campaign.State.DRAFT,
                Campaign.State.STARTING,
                Campaign.State.SENDING,
            ):
                break
            time.sleep(0.5)
        finished = time.monotonic()
        sample_cpu()
        web_rss = peak_rss_mb(web.pid)
        for pid in cluster_pids:
            rss[pid] = max(rss.get(pid, 0.0), peak_rss_mb(pid))

        campaign.refresh_from_db()
        statuses = dict(
            Message.objects.filter(campaign=campaign)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        last_answer = SendBatch.objects.filter(campaign=campaign).aggregate(t=Max("finished_at"))
        first_created = Message.objects.filter(campaign=campaign).order_by("pk").first()
        queries = [
            int(m.group(1))
            for result in Success.objects.filter(func="messaging.tasks.send_batch").values_list(
                "result", flat=True
            )
            if (m := re.search(r"(\d+) queries", str(result)))
        ]
        batches = SendBatch.objects.filter(campaign=campaign).count()
        timeline = sim_timeline(sim_url, vendor)
        load_after = os.getloadavg()[0]
    finally:
        processes.stop()

    # Elapsed to the last recorded answer, measured on the database's clock against the
    # confirm POST (converted through the local clock at the end of the run).
    elapsed = finished - started
    if last_answer["t"] is not None:
        from django.utils import timezone

        elapsed = (last_answer["t"] - timezone.now()).total_seconds() + (time.monotonic() - started)
    submitted = campaign.submitted_count
    first_request = timeline["first"] - started_wall if timeline["first"] else None
    start_took = None
    if campaign.start_progress_at is not None:
        start_took = campaign.start_progress_at.timestamp() - started_wall
    return {
        "vendor": vendor,
        "recipients": count,
        "state": campaign.status,
        "reason": campaign.status_reason,
        "statuses": statuses,
        "batches": batches,
        "seconds": elapsed,
        "first_request_s": first_request,
        "start_s": start_took,
        "accepted": timeline["count"],
        "load": (load_before, load_after),
        "cpu_s": cpu.totals(),
        "per_second": submitted / elapsed if elapsed > 0 else 0.0,
        "web_rss_mb": web_rss,
        "worker_rss_mb": sorted(rss.values(), reverse=True),
        "queries_per_batch": (min(queries), max(queries), sum(queries) / len(queries))
        if queries
        else None,
        "first_message": first_created.content if first_created else "",
    }


def report(result: dict) -> None:
    print(f"\n== {result['vendor']}: {result['recipients']:,} personalised recipients")
    print(f"   campaign state      {result['state']} {result['reason']}")
    print(f"   message statuses    {result['statuses']}")
    print(f"   batches             {result['batches']:,}")
    if result["first_request_s"] is not None:
        print(f"   → first request     {result['first_request_s']:.2f} s")
    if result["start_s"] is not None:
        print(f"   → start written     {result['start_s']:.1f} s")
    print(f"   → last answer       {result['seconds']:.1f} s")
    print(f"   accepted by the sim {result['accepted']:,}")
    print(f"   load (1 min)        {result['load'][0]:.1f} before, {result['load'][1]:.1f} after")
    print(f"   messages per second {result['per_second']:,.0f}")
    print(f"   peak RSS web        {result['web_rss_mb']:.0f} MB")
    workers = ", ".join(f"{mb:.0f}" for mb in result["worker_rss_mb"])
    print(f"   peak RSS cluster    {workers} MB (each process)")
    cpu = result["cpu_s"]
    spent = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in cpu.items())
    print(f"   CPU seconds         {spent} (total {sum(cpu.values()):.1f})")
    if result["queries_per_batch"]:
        low, high, mean = result["queries_per_batch"]
        print(f"   queries per batch   min {low}, max {high}, mean {mean:.1f}")
    print(f"   first message       {result['first_message']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vendor", help="one vendor only")
    parser.add_argument("--recipients", type=int, help="recipients (with --vendor)")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--workers", type=int, default=2, help="task-cluster workers")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if url.startswith("postgres"):
        ensure_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "Q_WORKERS": str(args.workers),
        "Q_POLL": "0.1",
        "DJANGO_SETTINGS_MODULE": "smsportal.settings",
        # The development settings for the web server and the bench itself; keys of the run's
        # own, which the production-mode task cluster accepts too (this machine only).
        "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "true"),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    plan = PLAN
    if args.vendor:
        plan = [(args.vendor, args.recipients or dict(PLAN)[args.vendor])]
    print(f"database {url.rsplit('@', 1)[-1]}, {args.workers} workers, {os.cpu_count()} cores")
    for vendor, count in plan:
        report(run_one(vendor, count, env, args.timeout))


if __name__ == "__main__":
    main()
