"""The engine behind the vendor simulators: one HTTP server, one in-memory gateway state.

Each vendor package has a ``simulator.py`` with a ``VendorSimulator`` subclass that speaks the
vendor's protocol (paths, signing, limits, encodings, error codes, push formats).  This module
holds what they share:

* ``SimulatorState``: accounts, every accepted message (the record tests compare against),
  delivery reports that become ready after a delay with a configurable mix of outcomes, injected
  replies (MO), polling-interval bookkeeping and the misbehaviour switch;
* ``SimulatorServer``: a threaded HTTP server that routes ``/<vendor key>/...`` to the vendor's
  simulator and ``/_sim/...`` to a small JSON control API, and a background thread that pushes
  ready reports and replies to accounts that have a push URL;
* the demo's controls (``SimulatorServer.overview``, ``inject_reply``, ``set_fault``,
  ``review_template``): what the demo's simulator page shows and does, through
  ``SimulatorControl`` over HTTP (the simulator runs in a process of its own).

It is a test and demo tool: it is never needed in production.
"""

from __future__ import annotations

import codecs
import heapq
import itertools
import json
import logging
import threading
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import requests

# The control API's client is a module of its own (the demo's page uses it without loading
# the simulators); re-exported here for tests and scripts.
from .simulator_control import SimulatorControl, SimulatorRefused  # noqa: F401

log = logging.getLogger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")


# --------------------------------------------------------------------------- state


@dataclass
class SimAccount:
    vendor: str
    account_id: str
    secret: str
    extension: str = ""
    push_url: str = ""
    """Where reports and replies are pushed; empty means they wait to be polled."""
    balance: int = 10_000_000
    """In messages (parts)."""
    options: dict = field(default_factory=dict)


@dataclass
class AcceptedMessage:
    vendor: str
    account_id: str
    vendor_message_id: str
    phone: str
    content: str
    custom_id: str = ""
    batch_id: str = ""
    extension: str = ""
    parts: int = 1
    accepted_at: float = 0.0
    outcome: str = "delivered"
    """The normalized final status this message's report will carry."""
    extra: dict = field(default_factory=dict)


@dataclass
class SimReply:
    vendor: str
    account_id: str
    phone: str
    content: str
    extension: str = ""
    mo_id: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(CHINA))


FAULT_MODES = (
    "normal",
    "slow",
    "error",
    "unavailable",
    "garbage",
    "rate_limit",
    "accept_then_drop",
    "auth_error",
    "no_balance",
)
"""How a simulated gateway can misbehave (``Behaviour.mode``; ``_Handler._misbehave``)."""

REQUEST_LOG_SIZE = 50
"""How many of the last requests the simulator keeps for its demo page."""


@dataclass
class Behaviour:
    mode: str = "normal"
    """One of ``FAULT_MODES``."""
    delay_s: float = 0.0
    remaining: int = -1
    """How many more requests misbehave; -1 means until told otherwise."""
    paths: tuple[str, ...] = ()
    """Only requests whose path ends with one of these misbehave (empty: all)."""


DEFAULT_OUTCOMES = {"delivered": 0.9, "undelivered": 0.05, "expired": 0.03, "rejected": 0.02}


class SimulatorState:
    """Everything the simulated gateways know.  Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            # A request still being handled when the state is reset (a "slow" answer its
            # client gave up on) must not land in the new state: handlers compare this.
            self.generation += 1
            self.accounts: dict[tuple[str, str], SimAccount] = {}
            self.accepted: list[AcceptedMessage] = []
            self.by_id: dict[tuple[str, str], AcceptedMessage] = {}
            self._pending: list[tuple[float, int, AcceptedMessage]] = []
            self.ready_reports: dict[tuple[str, str], deque[AcceptedMessage]] = defaultdict(deque)
            self.replies: dict[tuple[str, str], deque[SimReply]] = defaultdict(deque)
            self.pushed_reports: list[dict] = []
            self.last_poll: dict[tuple[str, str, str], float] = {}
            self.behaviour: dict[str, Behaviour] = {}
            self.report_delay_s = 0.3
            self.outcome_weights = dict(DEFAULT_OUTCOMES)
            self.phone_outcomes: dict[str, str] = {}
            # phone -> why the gateway refuses that number when it is submitted:
            # "invalid_number", "no_balance", "bad_sender" (sender number / extension not
            # registered), "bad_signature" (signature not registered), "content_rejected", or a
            # vendor's own per-number code as text.  Each simulator answers it with its vendor's
            # per-number code where the vendor's format has per-number answers, otherwise as
            # that vendor would (its module says how).
            self.phone_refusals: dict[str, str] = {}
            # Reports leave the vendor's message id and ours empty (the phone and the status
            # stay), where the vendor's report format allows it: for phone-only matching.
            self.reports_without_ids = False
            self.enforce_poll_interval = True
            # The last requests the gateways answered, newest last: time, vendor, method, path
            # (never the query or body: they carry the credentials), status, fault mode.
            self.requests: deque[dict] = deque(maxlen=REQUEST_LOG_SIZE)
            self.vendor_state: dict[str, dict] = defaultdict(dict)
            self._ids = itertools.count(1)
            self._seq = itertools.count()

    # accounts --------------------------------------------------------------
    def add_account(self, account: SimAccount) -> None:
        with self.lock:
            self.accounts[(account.vendor, account.account_id)] = account

    def account(self, vendor: str, account_id: str) -> SimAccount | None:
        return self.accounts.get((vendor, account_id))

    # sending ---------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    def outcome_for(self, phone: str, vendor_message_id: str) -> str:
        if phone in self.phone_outcomes:
            return self.phone_outcomes[phone]
        # Deterministic per message so reruns of a test see the same mix (a hash, not a
        # seeded Random per message: that cost more than the rest of accepting it).
        point = zlib.crc32(f"{phone}:{vendor_message_id}".encode()) / 2**32
        total = sum(self.outcome_weights.values())
        for outcome, weight in self.outcome_weights.items():
            point -= weight / total
            if point < 0:
                return outcome
        return outcome

    def refusal(self, phone: str) -> str:
        """Why the gateway refuses ``phone`` at submit time (``phone_refusals``); empty when
        it takes it."""
        return self.phone_refusals.get(phone, "")

    def accept(
        self,
        account: SimAccount,
        *,
        phone: str,
        content: str,
        vendor_message_id: str,
        custom_id: str = "",
        batch_id: str = "",
        extension: str = "",
        parts: int = 1,
        extra: dict | None = None,
    ) -> AcceptedMessage:
        now = time.monotonic()
        with self.lock:
            message = AcceptedMessage(
                vendor=account.vendor,
                account_id=account.account_id,
                vendor_message_id=vendor_message_id,
                phone=phone,
                content=content,
                custom_id=custom_id,
                batch_id=batch_id,
                extension=extension,
                parts=parts,
                accepted_at=time.time(),
                outcome=self.outcome_for(phone, vendor_message_id),
                extra=extra or {},
            )
            account.balance -= parts
            self.accepted.append(message)
            self.by_id[(account.vendor, vendor_message_id)] = message
            heapq.heappush(self._pending, (now + self.report_delay_s, next(self._seq), message))
            return message

    def tick(self) -> None:
        """Move reports whose delay has passed to their account's ready queue."""
        now = time.monotonic()
        with self.lock:
            while self._pending and self._pending[0][0] <= now:
                _, _, message = heapq.heappop(self._pending)
                self.ready_reports[(message.vendor, message.account_id)].append(message)

    # polling ---------------------------------------------------------------
    def poll_too_soon(self, vendor: str, account_id: str, kind: str, min_interval: float) -> bool:
        """Record a poll; True when it came sooner than ``min_interval`` after the last one."""
        now = time.monotonic()
        key = (vendor, account_id, kind)
        with self.lock:
            last = self.last_poll.get(key)
            if self.enforce_poll_interval and last is not None and now - last < min_interval:
                return True
            self.last_poll[key] = now
            return False

    def take_reports(self, vendor: str, account_id: str, limit: int) -> list[AcceptedMessage]:
        self.tick()
        with self.lock:
            queue = self.ready_reports[(vendor, account_id)]
            return [queue.popleft() for _ in range(min(limit, len(queue)))]

    def put_back_reports(self, vendor: str, account_id: str, items: Iterable[AcceptedMessage]):
        with self.lock:
            self.ready_reports[(vendor, account_id)].extendleft(reversed(list(items)))

    def inject_reply(self, reply: SimReply) -> SimReply:
        with self.lock:
            if not reply.mo_id:
                reply.mo_id = str(self.next_id())
            self.replies[(reply.vendor, reply.account_id)].append(reply)
            return reply

    def take_replies(self, vendor: str, account_id: str, limit: int) -> list[SimReply]:
        with self.lock:
            queue = self.replies[(vendor, account_id)]
            return [queue.popleft() for _ in range(min(limit, len(queue)))]

    def put_back_replies(self, vendor: str, account_id: str, items: Iterable[SimReply]):
        with self.lock:
            self.replies[(vendor, account_id)].extendleft(reversed(list(items)))

    def log_request(self, vendor: str, method: str, path: str, status: int, fault: str) -> None:
        with self.lock:
            self.requests.append(
                {
                    "at": datetime.now(CHINA).strftime("%H:%M:%S"),
                    "vendor": vendor,
                    "method": method,
                    "path": path,
                    "status": status,
                    "fault": fault,
                }
            )

    # misbehaviour ----------------------------------------------------------
    def misbehaviour(self, vendor: str, path: str) -> Behaviour | None:
        with self.lock:
            behaviour = self.behaviour.get(vendor)
            if behaviour is None or behaviour.mode == "normal" or behaviour.remaining == 0:
                return None
            if behaviour.paths and not any(path.endswith(p) for p in behaviour.paths):
                return None
            if behaviour.remaining > 0:
                behaviour.remaining -= 1
            return behaviour


# --------------------------------------------------------------------------- protocol


def parse_form(body: bytes, encoding: str) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` fields, like ``parse_qsl`` but fast enough for
    the 20 MB bodies of a 50,000-recipient personalised send: ``unquote`` decodes in
    Python, byte by byte; here each ``%XX`` becomes ``\\xXX`` for the C escape decoder.  A
    literal backslash cannot appear in a well-formed body (it is sent as ``%5C``); a body
    with one, or with a broken escape, takes the standard route."""
    if b"\\" in body:
        return parse_qsl(body.decode("ascii", errors="replace"), True, encoding=encoding)
    fields = []
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        try:
            decoded = [
                codecs.escape_decode(part.replace(b"+", b" ").replace(b"%", b"\\x"))[0]
                for part in (name, value)
            ]
        except ValueError:
            return parse_qsl(body.decode("ascii", errors="replace"), True, encoding=encoding)
        fields.append(
            (decoded[0].decode(encoding, "replace"), decoded[1].decode(encoding, "replace"))
        )
    return fields


@dataclass
class SimRequest:
    method: str
    path: str
    """Path below the vendor prefix, e.g. ``/mt.ashx``."""
    query_string: str
    body: bytes
    headers: Mapping[str, str]

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def params(self, encoding: str = "utf-8") -> dict[str, str]:
        """Query and form fields merged (form wins), decoded with the vendor's encoding."""
        fields = dict(parse_qsl(self.query_string, keep_blank_values=True, encoding=encoding))
        if self.content_type == "application/x-www-form-urlencoded" and self.body:
            fields.update(parse_form(self.body, encoding))
        return fields

    def json(self):
        return json.loads(self.body.decode("utf-8"))


@dataclass
class SimResponse:
    body: bytes | str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    encoding: str = "utf-8"
    drop_connection: bool = False

    def payload(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else self.body.encode(self.encoding)


@dataclass
class PushCall:
    """A push the simulator makes to a receiver, in the vendor's format."""

    method: str
    url: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None

    def send(self, timeout: float = 5.0) -> requests.Response:
        return requests.request(
            self.method,
            self.url,
            data=self.body or None,
            params=self.params,
            headers=self.headers,
            timeout=timeout,
        )


class VendorSimulator:
    """Subclass per vendor.  ``handle`` answers one request; ``report_push`` / ``reply_push``
    build the vendor's push (or return None when the vendor does not push that kind)."""

    key: str = ""
    encoding: str = "utf-8"
    min_poll_interval_s: float = 5.0
    push_batch_size: int = 100
    replies: bool = True
    """The vendor hands replies (MO) over, by push or poll; False where its document has no
    MO interface at all."""

    def __init__(self, state: SimulatorState):
        self.state = state

    def handle(self, request: SimRequest) -> SimResponse:
        raise NotImplementedError

    def rate_limited(self, request: SimRequest) -> SimResponse:
        """The vendor's own 'too many requests' answer."""
        return SimResponse("rate limited", status=429)

    def auth_failed(self, request: SimRequest) -> SimResponse:
        return SimResponse("auth failed", status=401)

    def no_balance(self, request: SimRequest) -> SimResponse:
        return SimResponse("insufficient balance", status=402)

    def report_push(self, account: SimAccount, messages: list[AcceptedMessage]) -> PushCall | None:
        return None

    def reply_push(self, account: SimAccount, replies: list[SimReply]) -> PushCall | None:
        return None

    def push_acknowledged(self, call: PushCall, response: requests.Response) -> bool:
        return response.status_code == 200

    def control(self, action: str, payload: dict) -> dict:
        """Vendor-specific control actions (``POST /_sim/<vendor>/<action>``)."""
        raise KeyError(action)

    def account_id_error(self, account_id: str) -> str:
        """Why this vendor would never issue ``account_id`` (empty: it could)."""
        return ""

    def pending_templates(self) -> list[dict]:
        """Templates uploaded for review and not yet decided: ``{"id", "account_id",
        "title"}`` each (none for a vendor without template review)."""
        return []

    def review_template(self, template_id: str, approved: bool, reason: str = "") -> dict:
        """Decide a pending template's review as the vendor's staff would, pushing the verdict
        where the vendor pushes one."""
        raise KeyError(template_id)

    # helpers for subclasses ---------------------------------------------
    def find_account(self, account_id: str) -> SimAccount | None:
        return self.state.account(self.key, account_id)

    @staticmethod
    def now_text(fmt: str = "%Y%m%d%H%M%S") -> str:
        return datetime.now(CHINA).strftime(fmt)


# --------------------------------------------------------------------------- server


def _registry() -> dict[str, type[VendorSimulator]]:
    from messaging.vendors import registry

    return {key: vendor.simulator for key, vendor in registry.all_vendors().items()}


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: under a sending campaign's bursts of connections
    # the kernel would drop some handshakes and reset them after the request was written,
    # which the sender can only record as an answer lost.
    request_queue_size = 128

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        simulators: Mapping[str, type[VendorSimulator]] | None = None,
        push_interval_s: float = 0.2,
    ):
        self.state = SimulatorState()
        self.simulators = {key: cls(self.state) for key, cls in (simulators or _registry()).items()}
        self.push_interval_s = push_interval_s
        self._stop = threading.Event()
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def vendor_url(self, key: str) -> str:
        return f"{self.base_url}/{key}"

    def start(self) -> SimulatorServer:
        """Serve and push in background threads (for tests and the run command)."""
        threading.Thread(target=self.serve_forever, name="sim-http", daemon=True).start()
        threading.Thread(target=self._push_loop, name="sim-push", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.shutdown()
        self.server_close()

    # pushes -------------------------------------------------------------
    def _push_loop(self) -> None:
        while not self._stop.wait(self.push_interval_s):
            try:
                self.push_once()
            except Exception:  # a push failure must never stop the loop
                log.exception("simulator push loop")

    def push_once(self) -> None:
        self.state.tick()
        for account in list(self.state.accounts.values()):
            simulator = self.simulators.get(account.vendor)
            if not account.push_url or simulator is None:
                continue
            key = (account.vendor, account.account_id)
            reports = self.state.take_reports(*key, simulator.push_batch_size)
            if reports:
                call = simulator.report_push(account, reports)
                if call is None or not self._deliver(simulator, call):
                    self.state.put_back_reports(*key, reports)
            replies = self.state.take_replies(*key, simulator.push_batch_size)
            if replies:
                call = simulator.reply_push(account, replies)
                if call is None or not self._deliver(simulator, call):
                    self.state.put_back_replies(*key, replies)

    def _deliver(self, simulator: VendorSimulator, call: PushCall) -> bool:
        try:
            response = call.send()
        except requests.RequestException as exc:
            log.warning("push to %s failed: %s", call.url, exc)
            return False
        ok = simulator.push_acknowledged(call, response)
        with self.state.lock:
            self.state.pushed_reports.append(
                {
                    "vendor": simulator.key,
                    "url": call.url,
                    "status": response.status_code,
                    "acknowledged": ok,
                }
            )
        return ok

    # accounts and the demo's controls -------------------------------------
    def add_account(self, account: SimAccount) -> None:
        """Register ``account``; ValueError when its vendor would never issue its id."""
        simulator = self.simulators.get(account.vendor)
        problem = simulator.account_id_error(account.account_id) if simulator else ""
        if problem:
            raise ValueError(f"{account.vendor} account {account.account_id!r}: {problem}")
        self.state.add_account(account)

    def overview(self) -> dict:
        """What the demo's simulator page shows: the accounts (and whether their vendor hands
        replies over), each vendor's fault mode, the templates awaiting review and the last
        requests, newest first."""
        state = self.state
        with state.lock:
            accounts = [
                {
                    "vendor": a.vendor,
                    "account_id": a.account_id,
                    "pushes": bool(a.push_url),
                    "replies": self.simulators[a.vendor].replies,
                }
                for a in state.accounts.values()
                if a.vendor in self.simulators
            ]
            faults = {
                key: (
                    state.behaviour[key].mode
                    if key in state.behaviour and state.behaviour[key].remaining != 0
                    else "normal"
                )
                for key in sorted(self.simulators)
            }
            requests_seen = list(reversed(state.requests))
        templates = [
            {"vendor": key, **template}
            for key, simulator in sorted(self.simulators.items())
            for template in simulator.pending_templates()
        ]
        return {
            "accounts": accounts,
            "faults": faults,
            "fault_modes": list(FAULT_MODES),
            "templates": templates,
            "requests": requests_seen,
        }

    def inject_reply(self, vendor: str, account_id: str, phone: str, content: str) -> str:
        """A reply from ``phone`` to an account, sent to the account's own sender number (its
        extension), so the portal can tie it to the campaign; pushed or left for polling as
        the account is set up.  Returns the reply's MO id."""
        account = self.state.account(vendor, account_id)
        if account is None:
            raise ValueError(f"no {vendor} account {account_id!r} on this simulator")
        if not self.simulators[vendor].replies:
            raise ValueError(f"{vendor} has no reply (MO) interface")
        if not (phone.isascii() and phone.isdigit() and 5 <= len(phone) <= 20):
            raise ValueError("a phone is 5 to 20 digits")
        if not content.strip():
            raise ValueError("a reply needs some text")
        reply = SimReply(
            vendor=vendor,
            account_id=account_id,
            phone=phone,
            content=content,
            extension=account.extension,
        )
        return self.state.inject_reply(reply).mo_id

    def set_fault(self, vendor: str, mode: str) -> None:
        """Make every request to ``vendor``'s gateway misbehave as ``mode`` until told
        ``normal``."""
        if vendor not in self.simulators:
            raise ValueError(f"no simulator for vendor {vendor!r}")
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self.state.lock:
            if mode == "normal":
                self.state.behaviour.pop(vendor, None)
            else:
                self.state.behaviour[vendor] = Behaviour(mode=mode)

    def review_template(self, vendor: str, template_id: str, approved: bool, reason: str = ""):
        if vendor not in self.simulators:
            raise ValueError(f"no simulator for vendor {vendor!r}")
        pending = {t["id"] for t in self.simulators[vendor].pending_templates()}
        if template_id not in pending:
            raise ValueError(f"no {vendor} template {template_id!r} awaits review")
        return self.simulators[vendor].review_template(template_id, approved, reason)

    # control API ---------------------------------------------------------
    def control(self, path: str, payload: dict) -> tuple[int, object]:
        state = self.state
        parts = [p for p in path.split("/") if p]
        action = parts[0] if parts else "health"
        if action == "health":
            return 200, {"ok": True, "vendors": sorted(self.simulators)}
        if action == "reset":
            state.reset()
            return 200, {"ok": True}
        if action == "accounts":
            if payload:
                self.add_account(SimAccount(**payload))
            return 200, [asdict(a) for a in state.accounts.values()]
        if action == "accepted":
            with state.lock:
                rows = [
                    asdict(m)
                    for m in state.accepted
                    if m.vendor == payload.get("vendor", m.vendor)
                    and m.account_id == payload.get("account_id", m.account_id)
                ]
            return 200, rows
        if action == "timeline":
            # When the first and the last accepted message came (wall clock), and how many:
            # what a benchmark needs without fetching every message.
            with state.lock:
                times = [
                    m.accepted_at
                    for m in state.accepted
                    if m.vendor == payload.get("vendor", m.vendor)
                ]
            return 200, {
                "count": len(times),
                "first": min(times, default=None),
                "last": max(times, default=None),
            }
        if action == "mo":
            reply = state.inject_reply(SimReply(**payload))
            return 200, {"mo_id": reply.mo_id}
        if action == "behaviour":
            vendor = payload.pop("vendor")
            payload["paths"] = tuple(payload.get("paths", ()))
            state.behaviour[vendor] = Behaviour(**payload)
            return 200, {"ok": True}
        if action == "config":
            for name in (
                "report_delay_s",
                "outcome_weights",
                "phone_outcomes",
                "phone_refusals",
                "reports_without_ids",
                "enforce_poll_interval",
            ):
                if name in payload:
                    setattr(state, name, payload[name])
            return 200, {"ok": True}
        if action == "pushes":
            return 200, list(state.pushed_reports)
        # The demo page's controls.
        if action == "overview":
            return 200, self.overview()
        if action == "reply":
            mo_id = self.inject_reply(
                str(payload["vendor"]),
                str(payload["account_id"]),
                str(payload["phone"]),
                str(payload["content"]),
            )
            return 200, {"mo_id": mo_id}
        if action == "fault":
            self.set_fault(str(payload["vendor"]), str(payload["mode"]))
            return 200, {"ok": True}
        if action == "review":
            result = self.review_template(
                str(payload["vendor"]),
                str(payload["id"]),
                bool(payload.get("approved", True)),
                str(payload.get("reason", "")),
            )
            return 200, result
        if action in self.simulators and len(parts) == 2:
            return 200, self.simulators[action].control(parts[1], payload)
        return 404, {"error": f"unknown control action {path}"}


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    # The headers and the body of an answer are written separately; with Nagle's algorithm on
    # a kept-alive connection the body waits for the client's delayed ACK (40 ms on Linux).
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        log.debug("sim %s", format % args)

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = split.path.split("/", 2)
        prefix = parts[1] if len(parts) > 1 else ""
        rest = "/" + (parts[2] if len(parts) > 2 else "")
        if prefix == "_sim":
            payload = (
                json.loads(body or b"{}")
                if self.command == "POST"
                else dict(parse_qsl(split.query))
            )
            try:
                status, result = self.server.control(rest, payload)
            except (KeyError, TypeError, ValueError) as exc:
                # A refusal (ValueError) in its own words; a malformed call as it went wrong.
                reason = str(exc) if type(exc) is ValueError else repr(exc)
                status, result = 400, {"error": reason}
            self._write(
                SimResponse(
                    json.dumps(result, default=str), status=status, content_type="application/json"
                )
            )
            return
        simulator = self.server.simulators.get(prefix)
        if simulator is None:
            self._write(SimResponse("no such vendor", status=404))
            return
        request = SimRequest(self.command, rest, split.query, body, dict(self.headers.items()))
        generation = self.server.state.generation
        behaviour = self.server.state.misbehaviour(prefix, rest)
        response = self._misbehave(simulator, request, behaviour) if behaviour else None
        if response is None and self.server.state.generation != generation:
            # Reset while this request waited (a slow answer): it belongs to a state gone.
            response = SimResponse("simulator reset while answering", status=503)
        if response is None:
            try:
                response = simulator.handle(request)
            except Exception as exc:  # the simulator's own bug: answer like a broken gateway
                log.exception("simulator %s failed", prefix)
                response = SimResponse(f"simulator error: {exc!r}", status=500)
        if behaviour and behaviour.mode == "accept_then_drop":
            response.drop_connection = True
        self.server.state.log_request(
            prefix,
            self.command,
            rest,
            0 if response.drop_connection else response.status,
            behaviour.mode if behaviour else "",
        )
        self._write(response)

    def _misbehave(self, simulator, request, behaviour: Behaviour) -> SimResponse | None:
        mode = behaviour.mode
        if mode == "slow":
            time.sleep(behaviour.delay_s or 3.0)
            return None
        if mode == "error":
            return SimResponse(
                "<html><body>500 Internal Server Error</body></html>",
                status=500,
                content_type="text/html",
            )
        if mode == "unavailable":
            return SimResponse("Service Unavailable", status=503)
        if mode == "garbage":
            return SimResponse(b"\xff\xfe<not what the document shows>\x00{{", status=200)
        if mode == "rate_limit":
            return simulator.rate_limited(request)
        if mode == "auth_error":
            return simulator.auth_failed(request)
        if mode == "no_balance":
            return simulator.no_balance(request)
        return None  # accept_then_drop handles the request, then drops the answer

    def _write(self, response: SimResponse) -> None:
        if response.drop_connection:
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        payload = response.payload()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test, or a real client's timeout): nothing to do.
            self.close_connection = True
