"""HTTP for adapters: one pooled session per process, timeouts, and the rules that turn a
transport failure into a typed error.

Which failures are safe to retry matters more than anything else here: a request that never
reached the vendor (refused connection, connect timeout, DNS) accepted nothing and may be
sent again; one that left but whose answer was lost (read timeout, reset connection) may have
been accepted and must be reconciled from delivery reports instead.

Credentials never reach a text from here.  Some vendors take the password in a GET query
(smsadmin's user_info, mgz, report and reve offer nothing else), and requests' and urllib3's
exception texts carry the whole URL: so an error says what happened in our words, with the
host and path only, and is raised with no exception chain.  ``Redactor`` is the last line of
defence behind that: every error and refusal an adapter hands out is scrubbed of the account's
secret in every form the adapters send it (``guard_credentials``, applied to every public
method of every ``VendorClient`` by ``VendorClient.__init_subclass__``).
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import hashlib
import html
import inspect
import json as _json
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from .base import (
    AmbiguousOutcome,
    ContentCheck,
    RateLimited,
    SubmitResult,
    TransientError,
    VendorError,
)

if TYPE_CHECKING:
    from .base import AccountConfig

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
    """Scheme, host and path only: the query, which may hold credentials, is left out."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests keeps urllib3's error in ``args[0]``, urllib3 its
    cause in ``reason``, Python in ``__cause__`` / ``__context__``."""
    pending, seen = [exc], set()
    while pending and len(seen) < 12:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__]
        inner += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in inner if isinstance(e, BaseException)]


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


# (exception types, our words), the first that any exception of the chain matches.
_WHAT_HAPPENED: list[tuple[tuple[type[BaseException], ...], str]] = [
    ((ConnectionRefusedError,), "connection refused"),
    ((NameResolutionError, socket.gaierror), "host name not found"),
    ((requests.ConnectTimeout, ConnectTimeoutError), "connection timed out"),
    ((requests.ReadTimeout, ReadTimeoutError, TimeoutError), "timed out waiting for the answer"),
    ((ConnectionResetError,), "connection reset"),
    ((RemoteDisconnected, ConnectionAbortedError, BrokenPipeError), "connection closed"),
    ((requests.exceptions.SSLError, ssl.SSLError), "TLS error"),
    ((requests.exceptions.ChunkedEncodingError,), "answer cut off"),
    ((requests.exceptions.ContentDecodingError,), "answer could not be decoded"),
    (
        (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema),
        "not a valid URL",
    ),
    ((requests.exceptions.InvalidSchema,), "not an http or https URL"),
    ((ProtocolError,), "connection broken"),
    ((NewConnectionError,), "connection failed"),
]


def what_happened(exc: BaseException) -> str:
    """A transport failure in our words, never the exception's own text (requests and
    urllib3 put the whole URL, query included, into theirs)."""
    chain = list(_causes(exc))
    for types, words in _WHAT_HAPPENED:
        if any(isinstance(e, types) for e in chain):
            return words
    return type(exc).__name__


def where(url: str) -> str:
    """``host[:port] /path`` of ``url``: no user, password, query or fragment."""
    try:
        split = urlsplit(url)
        host = split.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = split.port
    except ValueError:
        return "(an unreadable URL)"
    return f"{host}{f':{port}' if port else ''} {split.path or '/'}"


def _without_query(url: str) -> str:
    split = urlsplit(url)
    return split._replace(query="", fragment="").geturl()


class HttpTransport:
    """Sends one request and returns the decoded reply, or raises a typed error."""

    def __init__(
        self,
        *,
        encoding: str = "utf-8",
        timeout: tuple[float, float] = (5.0, 15.0),
        session: requests.Session | None = None,
    ):
        """``session`` replaces the pooled per-thread session (tests serve recorded answers
        through one); without it every request goes through ``shared_session()``."""
        self.encoding = encoding
        self.timeout = timeout
        self.session = session

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
        failure: VendorError | None = None
        try:
            response = (self.session or shared_session()).request(
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
            # Our words, host and path only; raised below, outside this block, so that the
            # requests exception (its text and args hold the URL with its query) is neither
            # the error's __cause__ nor its __context__.
            summary = f"{where(url)} ({what_happened(exc)})"
            if _never_sent(exc):
                failure = TransientError(f"Could not connect to {summary}")
            else:
                failure = AmbiguousOutcome(f"No answer from {summary}")
        if failure is not None:
            raise failure
        body = response.content
        text = body.decode(encoding or self.encoding, errors="replace")
        reply = HttpReply(
            response.status_code, body, text, dict(response.headers), _without_query(url)
        )
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


# --------------------------------------------------------------------------- credentials

REDACTED = "[redacted]"
WITHHELD = "[text withheld: it held a credential]"
PASSWORD_FIELDS = ("pwd", "pswd", "password", "passwd")
"""The names under which the five vendors take a password or its digest."""
# A password field's value in a query, form, JSON or repr (``pwd=…``, ``"pswd": "…"``),
# whatever the vendor echoes: it also covers the digests signed with a timestamp or the
# content (montnets, ashx5g's md5 mode, actiongw's send), which no fixed list of values can.
_PASSWORD_FIELD = re.compile(
    r"(?<![A-Za-z0-9_])((?i:" + "|".join(PASSWORD_FIELDS) + r"))"
    r"(\s*=\s*|[\"']\s*:\s*[\"']?)"
    r"(?!\[redacted\])[^&\s\"'<>,;}]+"
)
_TEXT_ENCODINGS = ("utf-8", "gb18030", "gbk")
"""How the adapters encode a secret before quoting or hashing it (smsadmin: GB2312, hashed as
GB18030; sms.cn: GBK; the others: UTF-8)."""


class Redactor:
    """Removes one account's credentials from text: the secret as sent (plain, percent-encoded
    by either rule in each encoding, JSON- and HTML-escaped), its md5 / sha1 / sha256 in
    either case, sms.cn's fixed ``md5(password + uid)`` (which works as a password), the
    account's push token, and the value of any password field."""

    def __init__(self, config: AccountConfig | None):
        self.config = config
        exact: set[str] = set()
        folded: set[str] = set()
        secret = getattr(config, "secret", "") or ""
        uid = getattr(config, "account_id", "") or ""
        if secret:
            exact |= {secret, html.escape(secret), _json.dumps(secret)[1:-1]}
            exact.add(_json.dumps(secret, ensure_ascii=False)[1:-1])
            for encoding in _TEXT_ENCODINGS:
                try:
                    data = secret.encode(encoding)
                except UnicodeEncodeError:
                    continue
                folded |= {quote(data, safe=""), quote_plus(data, safe="")}
                folded |= {hashlib.md5(data, usedforsecurity=False).hexdigest()}
                folded |= {hashlib.sha1(data, usedforsecurity=False).hexdigest()}
                folded |= {hashlib.sha256(data).hexdigest()}
                try:
                    signed = (secret + uid).encode(encoding)
                except UnicodeEncodeError:
                    continue
                folded.add(hashlib.md5(signed, usedforsecurity=False).hexdigest())  # sms.cn
        token = _push_token(getattr(config, "push_url", "") or "")
        if token:
            exact.add(token)
        folded -= exact
        needles = [(n, False) for n in exact if n] + [(n, True) for n in folded if n]
        # Longest first, so that a secret inside a longer form is not cut out of it first.
        needles.sort(key=lambda item: len(item[0]), reverse=True)
        alternatives = [f"(?i:{re.escape(n)})" if fold else re.escape(n) for n, fold in needles]
        self._needles = re.compile("|".join(alternatives)) if alternatives else None
        self._anything = re.compile("|".join([*alternatives, _PASSWORD_FIELD.pattern]))

    def mentions(self, text: object) -> bool:
        if not isinstance(text, str) or not text:
            return False
        return self._anything.search(text) is not None

    def redact(self, text: str) -> str:
        """``text`` without any credential of the account (unchanged when it has none)."""
        if not isinstance(text, str) or not self.mentions(text):
            return text
        for _ in range(4):
            if self._needles is not None:
                text = self._needles.sub(REDACTED, text)
            text = _PASSWORD_FIELD.sub(lambda m: m[1] + m[2] + REDACTED, text)
            if not self.mentions(text):
                return text
        # A secret that our own placeholder contains ("act", "e"): say nothing at all.
        return "" if self.mentions(WITHHELD) else WITHHELD


def _push_token(push_url: str) -> str:
    """The token of our push receiver URL (``…/push/<account>/<token>/``)."""
    try:
        segments = [s for s in urlsplit(push_url).path.split("/") if s]
    except ValueError:
        return ""
    return segments[-1] if segments else ""


_FIELDS_ONLY = Redactor(None)


def redact(text: str, config: AccountConfig | None) -> str:
    """``text`` without the credentials of the account ``config`` describes."""
    return Redactor(config).redact(text)


def _leaky(exc: BaseException, redactor: Redactor) -> bool:
    """Whether an exception's own text could show a credential: requests' and urllib3's
    always may (their texts and args hold URLs); others when their text, or the text an
    encoding error failed on, holds one."""
    if isinstance(exc, requests.RequestException | urllib3.exceptions.HTTPError):
        return True
    try:
        texts = [str(exc), repr(exc), getattr(exc, "object", ""), getattr(exc, "raw", "")]
    except Exception:  # an exception that cannot say what it is cannot be vouched for
        return True
    return any(redactor.mentions(t if isinstance(t, str) else "") for t in texts)


def scrub_error(exc: Exception, redactor: Redactor) -> Exception:
    """The exception to raise in place of ``exc``: a ``VendorError`` with every text field
    redacted, and no exception chain when anything in it could show a credential (a logged
    traceback prints the chain).  Another exception whose text holds a credential (a codec
    error on the password) becomes a ``RuntimeError`` in our words, still not a
    ``VendorError``, so the pipeline reads it as it read the original."""
    if isinstance(exc, VendorError):
        exc.args = tuple(redactor.redact(a) if isinstance(a, str) else a for a in exc.args)
        for name in ("code", "description_zh", "description_en", "raw"):
            setattr(exc, name, redactor.redact(getattr(exc, name, "")))
    elif _leaky(exc, redactor):
        return RuntimeError(
            f"{type(exc).__name__} in the vendor adapter (its text is withheld: it held the "
            "account's credentials)"
        )
    chained = [e for e in _causes(exc) if e is not exc]
    if any(_leaky(e, redactor) for e in chained):
        exc.__cause__ = None
        exc.__context__ = None
        exc.__suppress_context__ = True
    return exc


def _scrub_submit(result: SubmitResult, redactor: Redactor) -> SubmitResult:
    # A refusal's words become the message's error; an acceptance gives ids only (its raw
    # is stored nowhere), so the 50,000 acceptances of a large send cost nothing here.
    if result.accepted:
        return result
    fields = ("error_code", "error_description", "raw")
    # One search over the three: no credential form holds a NUL.
    if not redactor.mentions(f"{result.error_code}\0{result.error_description}\0{result.raw}"):
        return result
    return dataclasses.replace(
        result, **{name: redactor.redact(getattr(result, name)) for name in fields}
    )


def scrub_result(result: Any, redactor: Redactor) -> Any:
    """What an operation returns, with the texts that become an error or a message a user
    sees redacted: per-recipient answers (a refusal's words become ``Message.error``) and a
    content check's message (shown in the composer).  Reports, replies and balances are the
    vendor's own data and are returned as they came."""
    if isinstance(result, SubmitResult):
        return _scrub_submit(result, redactor)
    if isinstance(result, list) and result and isinstance(result[0], SubmitResult):
        scrubbed = [
            _scrub_submit(r, redactor) if isinstance(r, SubmitResult) else r for r in result
        ]
        return result if all(a is b for a, b in zip(scrubbed, result, strict=True)) else scrubbed
    if isinstance(result, ContentCheck):
        texts = {"message": result.message, "raw": result.raw}
        if any(redactor.mentions(t) for t in texts.values()):
            words = tuple(redactor.redact(w) for w in result.words)
            texts = {name: redactor.redact(t) for name, t in texts.items()}
            return dataclasses.replace(result, words=words, **texts)
    return result


_active: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "vendor_credentials", default=None
)
"""The redactor of the account whose operation runs in this thread / task, for log records."""


def guard_credentials(cls: type) -> type:
    """Guard every public operation a ``VendorClient`` subclass defines: whatever it raises or
    returns leaves it scrubbed of the client's credentials (``scrub_error``,
    ``scrub_result``), and what the adapter's module logs meanwhile is redacted too.

    This is the one point every error of an adapter passes before anything turns it into
    text - the vendor account's last error, a message's error, a page, a log line, a task
    result - and the only one that knows both the error and the account.
    ``VendorClient.__init_subclass__`` calls it, so no adapter can forget it."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(value):
            setattr(cls, name, _guarded(value))
    logger = logging.getLogger(cls.__module__)
    if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
        logger.addFilter(_RedactingFilter())
    return cls


def _guarded(method: Callable) -> Callable:
    if getattr(method, "credentials_guarded", False):
        return method

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        redactor = _redactor(self)
        active = _active.set(redactor)
        try:
            result = method(self, *args, **kwargs)
        except Exception as exc:
            safe = scrub_error(exc, redactor)
        else:
            return scrub_result(result, redactor)
        finally:
            _active.reset(active)
        # Raised here rather than inside the except block, so that a replacement does not
        # carry the original as its __context__.
        raise safe

    guarded.credentials_guarded = True
    return guarded


def _redactor(client) -> Redactor:
    redactor = client.__dict__.get("_credential_redactor")
    config = getattr(client, "config", None)
    if redactor is None or redactor.config is not config:
        redactor = Redactor(config)
        client.__dict__["_credential_redactor"] = redactor
    return redactor


# --------------------------------------------------------------------------- logging


class _RedactingFilter(logging.Filter):
    """On an adapter module's logger: a record logged while one of the adapter's operations
    runs (an unreadable item of a reply, quoted) loses the account's credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = _active.get() or _FIELDS_ONLY
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is left to logging
            return True
        if redactor.mentions(message):
            record.msg, record.args = redactor.redact(message), None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redactor.redact(text)
        return True


class _QueryStringFilter(logging.Filter):
    """urllib3 logs the request line, query included, at DEBUG ("GET /api/user_info/?uid=…
    &pwd=…"): its records keep the path and lose the query."""

    _QUERY = re.compile(r"\?[^\s'\")]+")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is left to logging
            return True
        if "?" in message:
            record.msg, record.args = self._QUERY.sub("?[query withheld]", message), None
        return True


def _filter_urllib3_logs() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QueryStringFilter) for f in logger.filters):
            logger.addFilter(_QueryStringFilter())


_filter_urllib3_logs()
