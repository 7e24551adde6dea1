"""Pushes: the portal's receiver view through the Django test client (``post_push``), a
push as an adapter's ``parse_push`` receives it (``push_request``), and ``PushReceiver``, a
live HTTP endpoint for the simulator to push to, which parses each push with the vendor's
``parse_push`` and answers what it says, as the portal's view does."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from messaging.vendors.base import AccountConfig, PushRejected, PushRequest
from messaging.vendors.registry import vendor as vendor_by_key

from .waiting import eventually


def push_request(
    body: bytes = b"",
    *,
    method: str = "POST",
    query: Mapping[str, str] | None = None,
    content_type: str = "",
    headers: Mapping[str, str] | None = None,
) -> PushRequest:
    """A push as the portal's view hands it to ``parse_push``."""
    return PushRequest(method, dict(query or {}), body, content_type, dict(headers or {}))


def post_push(
    client,
    account,
    body: bytes = b"",
    *,
    method: str = "POST",
    query: str | Mapping[str, str] = "",
    content_type: str = "application/x-www-form-urlencoded",
):
    """Sends a push to ``account``'s receiver URL through the Django test ``client``, as the
    vendor sends it, and returns the view's answer."""
    if not isinstance(query, str):
        query = urlencode(query)
    path = f"{account.push_path}?{query}" if query else account.push_path
    if method == "GET":
        return client.get(path)
    return client.generic(method, path, body, content_type=content_type)


class PushReceiver(ThreadingHTTPServer):
    """Our push endpoint in miniature for the simulator to push to.

    ``pushes`` keeps each push with what came of it (the ``PushOutcome`` or the
    ``PushRejected``); ``answer_status`` replaces the status answered to an accepted push
    (0: the outcome's own)."""

    daemon_threads = True

    def __init__(
        self,
        vendor: str,
        config: AccountConfig,
        *,
        query_encoding: str = "utf-8",
        reply_encoding: str = "utf-8",
    ):
        self.vendor, self.config = vendor, config
        self.query_encoding, self.reply_encoding = query_encoding, reply_encoding
        self.answer_status = 0
        self.pushes: list[tuple[PushRequest, object]] = []
        super().__init__(("127.0.0.1", 0), _PushHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/push/{self.vendor}"

    @property
    def outcomes(self) -> list:
        """The outcomes of the pushes accepted, in order."""
        return [r for _, r in list(self.pushes) if not isinstance(r, PushRejected)]

    @property
    def rejections(self) -> list[PushRejected]:
        return [r for _, r in list(self.pushes) if isinstance(r, PushRejected)]

    def items(self, kind: str) -> list:
        """Every report (``kind="reports"``), reply or review the accepted pushes carried."""
        return [item for outcome in self.outcomes for item in getattr(outcome, kind)]

    def wait(self, count: int, timeout: float = 5.0) -> list:
        """The results of the first ``count`` pushes (outcomes and rejections), once there."""
        assert eventually(lambda: len(self.pushes) >= count, timeout), "too few pushes"
        return [r for _, r in self.pushes]

    def wait_for(self, kind: str, count: int, timeout: float = 5.0) -> list:
        eventually(lambda: len(self.items(kind)) >= count, timeout)
        assert len(self.items(kind)) == count
        return self.items(kind)

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _PushHandler(BaseHTTPRequestHandler):
    server: PushReceiver

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.receive()

    def do_POST(self):
        self.receive()

    def receive(self):
        server = self.server
        query = urlsplit(self.path).query
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        push = push_request(
            body,
            method=self.command,
            query=dict(parse_qsl(query, keep_blank_values=True, encoding=server.query_encoding)),
            content_type=self.headers.get("Content-Type", ""),
            headers=dict(self.headers),
        )
        parse_push = vendor_by_key(server.vendor).parse_push
        try:
            outcome = parse_push(push, server.config)
        except PushRejected as exc:
            server.pushes.append((push, exc))
            self.answer(exc.status, str(exc), "text/plain")
            return
        server.pushes.append((push, outcome))
        status = server.answer_status or outcome.reply_status
        self.answer(status, outcome.reply_body, outcome.reply_content_type)

    def answer(self, status: int, body: str | bytes, content_type: str) -> None:
        payload = body.encode(self.server.reply_encoding) if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type or "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
