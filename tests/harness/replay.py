"""Recorded vendor answers served through a real ``HttpTransport``.

``ReplayTransport`` is an ``HttpTransport`` whose ``requests`` session has an adapter that
answers every request with recorded bytes instead of opening a connection: everything the
transport does with an answer (decoding, the 429 / 503 / 5xx mapping to typed errors, the
query left out of ``HttpReply.url``) runs as it does against a vendor.  It keeps what the
client asked for (``calls``) and what went on the wire (``sent``)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from messaging.vendors.base import AccountConfig, VendorClient
from messaging.vendors.http import HttpTransport


class ReplayAdapter(BaseAdapter):
    """Answers every request with one recorded answer (status, body, headers)."""

    def __init__(self, answer: tuple[int, bytes, Mapping[str, str]]):
        super().__init__()
        self.answer = answer
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        status, body, headers = self.answer
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url
        response.request = request
        response.encoding = None
        return response

    def close(self):
        pass


class ReplayTransport(HttpTransport):
    """A real ``HttpTransport`` answering every request with ``body`` and ``status``."""

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        *,
        headers: Mapping[str, str] | None = None,
        encoding: str = "utf-8",
    ):
        self.adapter = ReplayAdapter((status, body, dict(headers or {})))
        session = requests.Session()
        session.mount("http://", self.adapter)
        session.mount("https://", self.adapter)
        super().__init__(encoding=encoding, session=session)
        self.calls: list[dict] = []
        """Each request as the client made it: ``method``, ``url`` and its keyword arguments."""

    def answer_with(
        self, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        """Answers the requests from now on with ``body`` and ``status``."""
        self.adapter.answer = (status, body, dict(headers or {}))

    def request(self, method: str, url: str, **kwargs):
        self.calls.append({"method": method, "url": url, **kwargs})
        return super().request(method, url, **kwargs)

    @property
    def sent(self) -> list[requests.PreparedRequest]:
        """Each request as it went on the wire."""
        return self.adapter.sent

    def sent_fields(self, encoding: str = "utf-8", index: int = -1) -> tuple[str, dict[str, str]]:
        """The path and the form fields (body, or the query when there is none) of a request
        sent, percent-decoded in ``encoding``."""
        prepared = self.sent[index]
        split = urlsplit(prepared.url)
        body = prepared.body
        if isinstance(body, bytes):
            body = body.decode("ascii")
        form = body or split.query
        return split.path, dict(parse_qsl(form, keep_blank_values=True, encoding=encoding))


def replay(
    client_class: type[VendorClient],
    config: AccountConfig,
    body: bytes,
    status: int = 200,
    **options,
) -> tuple[VendorClient, ReplayTransport]:
    """A ``client_class`` client for ``config`` whose every request is answered with ``body``,
    decoded as the vendor's answers are (``capabilities.reply_encoding``)."""
    transport = ReplayTransport(
        body, status, encoding=client_class.capabilities.reply_encoding, **options
    )
    return client_class(config, transport=transport), transport
