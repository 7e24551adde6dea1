"""Run the whole portal for development and the demo: web server, django-q2 task cluster and
the vendor simulators, together; Ctrl-C stops all three."""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server, the task cluster and the vendor simulators together."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-simulators", action="store_true")

    def handle(self, *args, addrport, no_simulators, **options):
        manage = [sys.executable, "manage.py"]
        commands = {
            "web": [*manage, "runserver", addrport, "--noreload"],
            "tasks": [*manage, "qcluster"],
        }
        if not no_simulators:
            commands["simulators"] = [*manage, "run_simulators"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Vendors (the simulators here) push to the address this portal really listens on.
        env.setdefault("PORTAL_BASE_URL", f"http://{addrport}")
        processes = {
            name: subprocess.Popen(cmd, env=env)  # noqa: S603 - our manage.py, fixed arguments
            for name, cmd in commands.items()
        }
        self.stdout.write(
            self.style.SUCCESS(
                f"Portal on http://{addrport}/  (admin: http://{addrport}/admin/)  — Ctrl-C stops"
            )
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
