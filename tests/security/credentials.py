"""Known credentials and every form of them that must never show: helpers for the credential
leak tests (vendor errors, the portal's surfaces, the crawl)."""

from __future__ import annotations

import hashlib
import html
import json
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

from messaging.vendors.smscn.client import sign

# A space, "&", "+", "/" and Chinese: every encoding rule the adapters apply changes it.
SECRET = "Pa55 w&rd+密码/x"
PUSH_TOKEN = "pushTok3n-known-to-the-leak-tests-0123456789"
ACCOUNT_IDS = {"montnets": "E10ABC", "smscn": "demo", "smsadmin": "演示账号"}


def account_id(key: str) -> str:
    return ACCOUNT_IDS.get(key, "960001")


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def forbidden(secret: str = SECRET, uid: str = "", tokens: tuple[str, ...] = ()) -> list[str]:
    """The secret as the adapters send it, its digests in either case, sms.cn's fixed
    md5(password + uid) for ``uid``, and ``tokens``."""
    forms = {secret, html.escape(secret), json.dumps(secret)[1:-1]}
    for encoding in ("utf-8", "gb2312"):
        forms |= {quote(secret, safe="", encoding=encoding)}
        forms |= {quote_plus(secret, safe="", encoding=encoding)}
    digests = {md5(secret.encode("utf-8")), md5(secret.encode("gb18030"))}
    if uid:
        digests.add(sign(secret, uid))
    for digest in digests:
        forms |= {digest, digest.upper()}
    return sorted(forms | set(tokens), key=len, reverse=True)


def leaks(text: object, needles: list[str]) -> list[str]:
    """The needles found in ``text`` (bytes are read as UTF-8, GB18030 and Latin-1)."""
    if isinstance(text, bytes):
        variants = [text.decode(e, errors="replace") for e in ("utf-8", "gb18030", "latin-1")]
        return sorted({n for v in variants for n in leaks(v, needles)})
    text = "" if text is None else str(text)
    lower = text.lower()
    return [n for n in needles if n in text or (n.isalnum() and n.lower() in lower)]


def exception_texts(exc: BaseException) -> list[str]:
    """Everything an exception can show: its traceback as logged (chain included), str, repr,
    and a VendorError's code, words and raw reply."""
    texts = ["".join(traceback.format_exception(exc)), str(exc), repr(exc)]
    seen = exc
    while seen is not None:
        texts += [repr(seen), repr(getattr(seen, "args", ""))]
        for name in ("raw", "code", "description_zh", "description_en"):
            texts.append(str(getattr(seen, name, "")))
        seen = seen.__cause__ or seen.__context__
    return texts


def record_texts(records) -> list[str]:
    """A log record as every handler could show it: message, arguments and traceback."""
    import logging

    formatter = logging.Formatter()
    texts = []
    for record in records:
        texts += [record.getMessage(), repr(record.args), str(record.msg)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        if record.exc_text:
            texts.append(record.exc_text)
    return texts


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class HostileVendor:
    """A vendor that is down in every way at once, chosen by the first path segment of the
    request: ``echo500`` / ``echo503`` / ``echo200`` answer with that status and a body that
    echoes our request line and body (credentials included), ``drop`` reads the request and
    closes the connection, ``slow`` answers after the client's read timeout."""

    SLOW_S = 0.3

    def __init__(self):
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the test output quiet
                pass

            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                vendor.requests += 1
                mode = self.path.strip("/").split("/")[0]
                echo = self.requestline.encode("latin-1", "replace") + b"\r\n" + body
                if mode == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "slow":
                    time.sleep(vendor.SLOW_S)
                status = {"echo500": 500, "echo503": 503, "echo429": 429}.get(mode, 200)
                payload = b"<html>Error; you sent: " + echo + b" \xff\xfe{{</html>"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    self.close_connection = True

        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> HostileVendor:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, mode: str, key: str) -> str:
        if mode == "refused":
            return f"http://127.0.0.1:{closed_port()}/{key}"
        return f"http://127.0.0.1:{self.server.server_port}/{mode}/{key}"
