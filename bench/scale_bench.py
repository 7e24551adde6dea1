"""Scale-out benchmark: one personalised campaign sent by 1, 2 and 4 task workers in total,
as one cluster or as several clusters (separate processes, as on separate hosts) sharing
PostgreSQL and the broker.

    .venv/bin/python bench/scale_bench.py                              # smsadmin, 100,000
    .venv/bin/python bench/scale_bench.py --vendor ashx5g --recipients 200000
    Q_REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/scale_bench.py   # Redis broker

For each layout (clusters × workers per cluster): the simulator (its own process), a web
server and the clusters start, the campaign is confirmed through the admin's page as a user
would, and the time from the confirm to the last batch's answer gives messages per second.
It prints one line per layout, and the simulator's own count of accepted messages (each
recipient exactly once).  The figure rises with workers until the simulator (one Python
process) or the machine's cores are the limit; ``os.cpu_count()`` is printed with it.
Figures are printed, never asserted.  Uses ``DATABASE_URL`` (default: the ``bench_scale``
database on the local PostgreSQL, created when missing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import send_bench  # noqa: E402 - the same processes, preparation and confirm as send_bench

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_scale"
LAYOUTS = [(1, 1), (1, 2), (2, 1), (2, 2), (4, 1)]
"""(clusters, workers per cluster): 1, 2, 2, 4 and 4 workers in total."""


def accepted_count(sim_url: str, vendor: str) -> tuple[int, int]:
    """(requests' messages the simulator accepted, distinct phones among them)."""
    from messaging.vendors.simulator import SimulatorControl

    rows = SimulatorControl(sim_url).accepted(vendor=vendor)
    return len(rows), len({row["phone"] for row in rows})


def run_layout(vendor: str, count: int, clusters: int, workers: int, env: dict, timeout: float):
    from django.db import close_old_connections
    from django.db.models import Max
    from django.utils import timezone

    from messaging.models import Campaign, SendBatch

    sim_port, web_port = send_bench.free_port(), send_bench.free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    campaign = send_bench.prepare(vendor, count, sim_url)
    processes = send_bench.Processes(
        {**env, "Q_WORKERS": str(workers), "PORTAL_BASE_URL": f"http://127.0.0.1:{web_port}"}
    )
    try:
        processes.start("simulator", "run_simulators", "--port", str(sim_port))
        processes.start("web", "runserver", "--noreload", f"127.0.0.1:{web_port}")
        for number in range(clusters):
            processes.start(f"cluster-{number}", "qcluster")
        send_bench.wait_for_port(sim_port)
        send_bench.wait_for_port(web_port)
        time.sleep(3 + clusters)  # the clusters' workers start
        started, _wall = send_bench.start_through_web(f"http://127.0.0.1:{web_port}", campaign.pk)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            close_old_connections()
            state = Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)
            if state not in (Campaign.State.DRAFT, Campaign.State.STARTING, Campaign.State.SENDING):
                break
            time.sleep(0.3)
        last = SendBatch.objects.filter(campaign=campaign).aggregate(t=Max("finished_at"))["t"]
        elapsed = (last - timezone.now()).total_seconds() + (time.monotonic() - started)
        accepted, distinct = accepted_count(sim_url, vendor)
    finally:
        processes.stop()
    campaign.refresh_from_db()
    return {
        "state": campaign.status,
        "seconds": elapsed,
        "per_second": campaign.submitted_count / elapsed if elapsed > 0 else 0.0,
        "accepted": accepted,
        "distinct": distinct,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vendor", default="smsadmin")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if url.startswith("postgres"):
        send_bench.ensure_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "Q_POLL": "0.1",
        "DJANGO_SETTINGS_MODULE": "smsportal.settings",
        "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "true"),
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    broker = "Redis" if settings.Q_CLUSTER.get("redis") else "ORM"
    print(
        f"{args.vendor}, {args.recipients:,} personalised recipients; {broker} broker; "
        f"database {url.rsplit('@', 1)[-1]}; {os.cpu_count()} cores"
    )
    print("clusters × workers   total   seconds   messages/s   accepted (distinct)   state")
    for clusters, workers in LAYOUTS:
        result = run_layout(args.vendor, args.recipients, clusters, workers, env, args.timeout)
        print(
            f"{clusters:>8} × {workers:<7} {clusters * workers:>5} {result['seconds']:>9.1f} "
            f"{result['per_second']:>12,.0f}   {result['accepted']:>9,} ({result['distinct']:,})"
            f"   {result['state']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
