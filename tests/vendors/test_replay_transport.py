"""The replay transport of the vendor tests is the real ``HttpTransport``: a recorded answer
goes through its status mapping and decoding as a vendor's answer would."""

import pytest

from messaging.vendors.base import AmbiguousOutcome, RateLimited, TransientError
from messaging.vendors.http import HttpTransport
from tests.harness.replay import ReplayTransport


def test_it_is_an_http_transport_that_keeps_what_was_asked_and_sent():
    transport = ReplayTransport("已收到".encode("gbk"), encoding="gbk")
    assert isinstance(transport, HttpTransport)
    reply = transport.post("http://vendor.test/send?pwd=x", data=b"a=1&b=%E4")
    assert (reply.status, reply.text, reply.url) == (200, "已收到", "http://vendor.test/send")
    assert transport.calls == [
        {"method": "POST", "url": "http://vendor.test/send?pwd=x", "data": b"a=1&b=%E4"}
    ]
    (sent,) = transport.sent
    assert (sent.method, sent.url, sent.body) == (
        "POST",
        "http://vendor.test/send?pwd=x",
        b"a=1&b=%E4",
    )
    assert transport.sent_fields("latin-1") == ("/send", {"a": "1", "b": "ä"})


def test_a_get_query_is_read_back_as_fields():
    transport = ReplayTransport(b"ok")
    transport.get("http://vendor.test/rpt", params={"uid": "u", "pwd": "p"})
    assert transport.sent_fields() == ("/rpt", {"uid": "u", "pwd": "p"})


def test_429_is_rate_limited_with_its_retry_after():
    transport = ReplayTransport(b"slow down", 429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        transport.get("http://vendor.test/x")
    assert (caught.value.code, caught.value.retry_after, caught.value.raw) == (
        "429",
        7.0,
        "slow down",
    )


def test_503_is_transient_and_other_5xx_ambiguous():
    with pytest.raises(TransientError) as caught:
        ReplayTransport(b"busy", 503).get("http://vendor.test/x")
    assert caught.value.code == "503" and not isinstance(caught.value, AmbiguousOutcome)
    with pytest.raises(AmbiguousOutcome) as caught:
        ReplayTransport(b"<html>oops</html>", 502).post("http://vendor.test/x")
    assert (caught.value.code, caught.value.raw) == ("502", "<html>oops</html>")


def test_4xx_is_handed_to_the_adapter_and_the_answer_can_change():
    transport = ReplayTransport(b"Not Found", 404)
    assert transport.get("http://vendor.test/x").status == 404
    transport.answer_with(b"fine")
    assert transport.get("http://vendor.test/x").text == "fine"
