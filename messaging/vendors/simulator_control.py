"""A client of the vendor simulators' control API (``/_sim/...``, served by
``messaging.vendors.simulator.SimulatorServer``), for tests, scripts and the demo's simulator
page.

It only speaks HTTP: importing it loads no simulator, so the demo page's module can be
imported like any other while the simulators stay out of production processes.
"""

from __future__ import annotations

import requests


class SimulatorRefused(Exception):
    """The simulator did not do what it was asked (its reason as the message), or did not
    answer at all."""


class SimulatorControl:
    """A small client of the control API, for tests, the demo and the run command."""

    def __init__(self, base_url: str, timeout: float = 10):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _post(self, path: str, payload: dict | None = None):
        response = requests.post(
            f"{self.base_url}/_sim/{path}", json=payload or {}, timeout=self.timeout
        )
        response.raise_for_status()
        return response.json()

    def _demo(self, path: str, payload: dict | None = None):
        """A demo control call: its refusal or an unreachable simulator as SimulatorRefused."""
        try:
            response = requests.post(
                f"{self.base_url}/_sim/{path}", json=payload or {}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise SimulatorRefused(f"the simulator at {self.base_url} does not answer") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200:
            raise SimulatorRefused(str(answer.get("error", response.status_code)))
        return answer

    # The demo page's calls (SimulatorServer.overview, inject_reply, set_fault, review_template).
    def overview(self) -> dict:
        return self._demo("overview")

    def reply(self, *, vendor: str, account_id: str, phone: str, content: str) -> str:
        payload = {"vendor": vendor, "account_id": account_id, "phone": phone, "content": content}
        return self._demo("reply", payload)["mo_id"]

    def set_fault(self, vendor: str, mode: str) -> None:
        self._demo("fault", {"vendor": vendor, "mode": mode})

    def review(self, vendor: str, template_id: str, *, approved: bool, reason: str = "") -> dict:
        payload = {"vendor": vendor, "id": template_id, "approved": approved, "reason": reason}
        return self._demo("review", payload)

    def add_account(self, **account) -> None:
        self._post("accounts", account)

    def accepted(self, **filters) -> list[dict]:
        return self._post("accepted", filters)

    def inject_reply(self, **reply) -> str:
        return self._post("mo", reply)["mo_id"]

    def misbehave(self, vendor: str, mode: str, **options) -> None:
        self._post("behaviour", {"vendor": vendor, "mode": mode, **options})

    def configure(self, **options) -> None:
        self._post("config", options)

    def reset(self) -> None:
        self._post("reset")

    def vendor_action(self, vendor: str, action: str, **payload):
        return self._post(f"{vendor}/{action}", payload)
