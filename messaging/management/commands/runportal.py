"""Run the whole portal for development and the demo: web server, django-q2 task cluster and
the vendor simulators, together; Ctrl-C stops all three.

With ``--demo`` (``bin/run``) it first creates the demo data (``setup_demo --demo``), runs in
demo mode (the simulator page exists) and, once everything answers, prints the logins and the
addresses last, in a box, below the processes' start-up lines."""

import io
import os
import signal
import subprocess
import sys
import time
import unicodedata

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from messaging.management.commands.setup_demo import Command as SetupDemo

READY_TIMEOUT_S = 60


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def box(lines: list[str]) -> str:
    width = max(display_width(line) for line in lines)
    rule = "─" * (width + 2)
    body = [f"│ {line}{' ' * (width - display_width(line))} │" for line in lines]
    return "\n".join([f"┌{rule}┐", *body, f"└{rule}┘"])


def login_text(login: dict) -> str:
    if login["password"]:
        return f"{login['username']} / {login['password']}"
    return f"{login['username']} / (unchanged; {login['env']} sets it)"


def demo_box(base: str, simulator_url: str, logins: list[dict]) -> str:
    by_name = {login["username"]: login_text(login) for login in logins}
    rows = [
        ("Portal", f"{base}/portal/", by_name.get("marketer", "")),
        ("Admin", f"{base}/admin/", by_name.get("admin", "")),
        ("Simulator", f"{base}/demo/simulator/", "replies, opt-outs, template review, faults"),
        ("Vendors", f"{simulator_url}/<vendor>", "the simulated gateways"),
    ]
    url_width = max(len(url) for _, url, _ in rows)
    return box(
        [
            "SMS campaign portal — demo",
            "",
            *(f"{name:<10} {url:<{url_width}}   {note}" for name, url, note in rows),
            "",
            "Ctrl-C stops the web server, the task cluster and the simulators.",
        ]
    )


class Command(BaseCommand):
    help = "Run the web server, the task cluster and the vendor simulators together."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-simulators", action="store_true")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="create the demo data first, run in demo mode, print the logins last",
        )

    def handle(self, *args, addrport, no_simulators, demo, **options):
        host, _, port = addrport.rpartition(":")
        base = f"http://{host if host not in ('', '0.0.0.0') else '127.0.0.1'}:{port}"  # noqa: S104
        manage = [sys.executable, "manage.py"]
        commands = {
            "web": [*manage, "runserver", addrport, "--noreload"],
            "tasks": [*manage, "qcluster"],
        }
        if not no_simulators:
            commands["simulators"] = [*manage, "run_simulators"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Vendors (the simulators here) push to the address this portal really listens on.
        env.setdefault("PORTAL_BASE_URL", base)
        logins = []
        if demo:
            env["PORTAL_DEMO"] = "true"
            setup = SetupDemo(stdout=io.StringIO())
            call_command(setup, demo=True, simulator_url=settings.SIMULATOR_URL)
            logins = setup.logins
        processes = {
            name: subprocess.Popen(cmd, env=env)  # noqa: S603 - our manage.py, fixed arguments
            for name, cmd in commands.items()
        }
        if demo:
            self._wait_until_ready(base, processes)
            self.stdout.write(self.style.SUCCESS(demo_box(base, settings.SIMULATOR_URL, logins)))
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Portal on {base}/  (admin: {base}/admin/)  — Ctrl-C stops")
            )

        def stop(*_):
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        try:
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping")
                        stop()
                time.sleep(1)
        except KeyboardInterrupt:
            stop()

    def _wait_until_ready(self, base: str, processes: dict) -> None:
        """Until the web server and the simulators answer and a task cluster reports itself,
        so that their start-up lines come before the box."""
        from django_q.status import Stat

        checks = {
            "web": lambda: requests.get(f"{base}/healthz", timeout=2).ok,
            "tasks": lambda: bool(Stat.get_all()),
        }
        if "simulators" in processes:
            url = settings.SIMULATOR_URL.rstrip("/")
            checks["simulators"] = lambda: requests.get(f"{url}/_sim/health", timeout=2).ok
        deadline = time.monotonic() + READY_TIMEOUT_S
        while checks and time.monotonic() < deadline:
            if any(process.poll() is not None for process in processes.values()):
                return
            for name, check in list(checks.items()):
                try:
                    if check():
                        del checks[name]
                except Exception:  # noqa: S110 - not up yet
                    pass
            time.sleep(0.3)
        time.sleep(0.5)  # the cluster's last start-up lines
