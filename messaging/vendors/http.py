"""HTTP for adapters: one pooled session per process, timeouts, and the rules that turn a
transport failure into a typed error.

Which failures are safe to retry matters more than anything else here: a request that never
reached the vendor (refused connection, connect timeout, DNS) accepted nothing and may be
sent again; one that left but whose answer was lost (read timeout, reset connection) may have
been accepted and must be reconciled from delivery reports instead.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from .base import AmbiguousOutcome, RateLimited, TransientError

_local = threading.local()


def shared_session() -> requests.Session:
    """A pooled session per thread (requests.Session is not guaranteed thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "smsportal/1.0"
        _local.session = session
    return session


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    text: str
    headers: Mapping[str, str]
    url: str


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    # requests wraps urllib3's errors; walk the chain for the connect-phase ones.
    seen = exc
    for _ in range(6):
        if isinstance(seen, NewConnectionError | ConnectTimeoutError | NameResolutionError):
            return True
        reason = getattr(seen, "reason", None) or getattr(seen, "__context__", None)
        if reason is None and seen.args:
            reason = seen.args[0] if isinstance(seen.args[0], BaseException) else None
        if reason is None:
            break
        seen = reason
    return False


class HttpTransport:
    """Sends one request and returns the decoded reply, or raises a typed error."""

    def __init__(self, *, encoding: str = "utf-8", timeout: tuple[float, float] = (5.0, 15.0)):
        self.encoding = encoding
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | str | bytes | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        encoding: str | None = None,
        read_timeout: float | None = None,
    ) -> HttpReply:
        """``read_timeout`` overrides the default wait for the answer, for requests whose
        size makes the vendor's work grow (tens of thousands of recipients)."""
        try:
            response = shared_session().request(
                method,
                url,
                params=params,
                data=data,
                json=json,
                headers=headers,
                timeout=(self.timeout[0], read_timeout or self.timeout[1]),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            if _never_sent(exc):
                raise TransientError(f"Could not connect to {url}: {exc}") from exc
            raise AmbiguousOutcome(f"No answer from {url}: {exc}") from exc
        body = response.content
        text = body.decode(encoding or self.encoding, errors="replace")
        reply = HttpReply(response.status_code, body, text, dict(response.headers), url)
        if response.status_code == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise RateLimited("HTTP 429", code="429", retry_after=retry_after, raw=text)
        if response.status_code == 503:
            # Service Unavailable: the gateway refused before taking the request.
            raise TransientError("HTTP 503", code="503", raw=text)
        if response.status_code >= 500:
            raise AmbiguousOutcome(
                f"HTTP {response.status_code}", code=str(response.status_code), raw=text
            )
        return reply

    def get(self, url: str, params: Mapping[str, str] | None = None, **kwargs) -> HttpReply:
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url: str, **kwargs) -> HttpReply:
        return self.request("POST", url, **kwargs)


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, float(value or 5))
    except ValueError:
        return 5.0
