"""No vendor credential in any error, raw reply or log line an adapter produces, whichever way
the vendor is down: a closed port, HTTP 500 / 503 / 429 or garbage echoing our own request
(credentials and all) back, a dropped connection, an answer that comes too late.

Every public operation of every adapter is called; the secret, its md5 (either case, UTF-8
and GB18030), sms.cn's fixed md5(password + uid) and the push token must appear in no
``str(exc)``, traceback (exception chain included), ``exc.raw`` and log record."""

import contextlib
import inspect
import logging
from urllib.parse import quote_plus

import pytest

from messaging.vendors.base import (
    AccountConfig,
    OutgoingMessage,
    TemplateFrame,
    VendorClient,
    VendorError,
)
from messaging.vendors.http import HttpTransport, Redactor, redact, where
from messaging.vendors.registry import VENDOR_KEYS, vendor
from tests.harness.replay import ReplayTransport

from .credentials import (
    PUSH_TOKEN,
    SECRET,
    HostileVendor,
    account_id,
    closed_port,
    exception_texts,
    forbidden,
    leaks,
    record_texts,
)

MODES = ["refused", "echo500", "echo503", "echo429", "echo200", "drop", "slow"]
MESSAGE = OutgoingMessage("100001", "13800138000", "您好 测试")
OTHER = OutgoingMessage("100002", "13800138001", "您好 测试二")
FRAME = TemplateFrame(frame=1, order=1, content_type="text/plain", data=b"hi", name="a.txt")

# Every public operation of an adapter, with arguments.  A new public method fails
# test_every_public_operation_is_exercised until it is added here.
OPERATIONS = {
    "send_same": lambda c: c.send_same([MESSAGE, OTHER], MESSAGE.content),
    "send_personalised": lambda c: c.send_personalised([MESSAGE, OTHER]),
    "send_single": lambda c: c.send_single(MESSAGE),
    "send_template": lambda c: c.send_template(
        "T1", [OutgoingMessage("100001", "13800138000", variables=("a", "b"))]
    ),
    "poll_reports": lambda c: c.poll_reports(),
    "poll_mo": lambda c: c.poll_mo(),
    "balance": lambda c: c.balance(),
    "check_content": lambda c: c.check_content("您好"),
    "upload_template": lambda c: c.upload_template(
        title="t", signature="【测试】", frames=[FRAME], has_variables=False
    ),
    "probe": lambda c: c.probe(),
    "account_info": lambda c: c.account_info(),
    "sent_count": lambda c: c.sent_count(),
    "send_records": lambda c: c.send_records(),
}


def public_operations(cls: type[VendorClient]) -> set[str]:
    return {
        name
        for klass in cls.__mro__
        if issubclass(klass, VendorClient)
        for name, value in vars(klass).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


def auth_modes(key: str) -> list[str]:
    return list(vendor(key).capabilities.auth_modes)


CASES = [(key, auth) for key in VENDOR_KEYS for auth in auth_modes(key)]


@pytest.fixture(scope="module")
def hostile():
    server = HostileVendor().start()
    yield server
    server.stop()


def config_for(key: str, base_url: str, auth_mode: str) -> AccountConfig:
    return AccountConfig(
        base_url=base_url,
        account_id=account_id(key),
        secret=SECRET,
        auth_mode=auth_mode,
        extension="12",
        signature="【测试】",
        push_url=f"http://portal.test/vendor/push/7/{PUSH_TOKEN}/",
        timeout_s=0.1,
        connect_timeout_s=1.0,
    )


def needles_for(key: str) -> list[str]:
    return forbidden(SECRET, account_id(key), (PUSH_TOKEN,))


@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_every_public_operation_is_exercised(key):
    assert public_operations(vendor(key).client) <= set(OPERATIONS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("key", "auth_mode"), CASES)
def test_no_credential_in_errors_raw_or_logs(key, auth_mode, mode, hostile, caplog):
    caplog.set_level(logging.DEBUG)
    client = vendor(key).client(config_for(key, hostile.url(mode, key), auth_mode))
    needles = needles_for(key)
    found, raised = {}, 0
    for name in sorted(public_operations(type(client))):
        try:
            result = OPERATIONS[name](client)
        except NotImplementedError as exc:
            texts = exception_texts(exc)
        except Exception as exc:
            raised += 1
            texts = exception_texts(exc)
        else:
            texts = [repr(result)]
        for text in texts:
            if hits := leaks(text, needles):
                found.setdefault(name, set()).update(hits)
    log_hits = {n for text in record_texts(caplog.records) for n in leaks(text, needles)}
    assert not found, f"credentials in {key} errors ({mode}): {found}"
    assert not log_hits, f"credentials in log records ({key}, {mode}): {log_hits}"
    assert raised, "the vendor being down raised nothing"


def test_the_hostile_vendor_does_echo_the_credentials(hostile):
    """The echo modes are worth something only if a raw reply holds the secret before the
    adapter's guard takes it out: the bare transport keeps the echo."""
    url = hostile.url("echo500", "smsadmin") + "/smsmarketing/wwwroot/api/user_info/"
    query = "uid=x&pwd=" + quote_plus(SECRET, encoding="gb2312")
    with pytest.raises(VendorError) as caught:
        HttpTransport().get(f"{url}?{query}", encoding="gb18030")
    assert leaks(caught.value.raw, needles_for("smsadmin"))
    assert not leaks(str(caught.value), needles_for("smsadmin"))


def test_connection_error_names_host_and_path_only():
    port = closed_port()
    url = f"http://user:pw@127.0.0.1:{port}/smsadmin/api/user_info/?uid=a&pwd=" + "x" * 8
    with pytest.raises(VendorError) as caught:
        HttpTransport().get(url)
    assert str(caught.value) == (
        f"Could not connect to 127.0.0.1:{port} /smsadmin/api/user_info/ (connection refused)"
    )
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert where("http://[::1]:8025/a/b?c=d") == "[::1]:8025 /a/b"


# --------------------------------------------------------------------------- the redaction


@pytest.mark.parametrize("key", VENDOR_KEYS)
def test_redact_removes_every_form(key):
    config = config_for(key, "http://x", "plain")
    needles = needles_for(key)
    text = " | ".join(needles) + ' | pwd=0123456789abcdef&x=1 | {"pswd": "signed"}'
    cleaned = redact(text, config)
    assert not leaks(cleaned, needles)
    assert "pwd=[redacted]&x=1" in cleaned and '"pswd": "[redacted]"' in cleaned
    assert redact("nothing secret here: 0 发送成功!", config) == "nothing secret here: 0 发送成功!"


def test_redact_with_a_secret_inside_the_placeholder():
    for secret in ("e", "redacted", "[redacted]", "held"):
        config = AccountConfig("http://x", "u", secret)
        assert secret not in redact(f"a {secret} b {secret}{secret}", config)


def test_a_codec_error_on_the_password_is_withheld():
    """sms.cn signs md5(password + uid) in GBK: a password GBK cannot carry fails in
    ``sign`` with Python's text naming its character; the client says nothing of it."""
    secret = "pw😀word"
    client = vendor("smscn").client(AccountConfig("http://127.0.0.1:9/x", "demo", secret))
    with pytest.raises(Exception) as caught:
        client.balance()
    assert not isinstance(caught.value, VendorError)  # read by the pipeline as before
    texts = exception_texts(caught.value)
    assert not any("😀" in t or secret in t for t in texts)


def test_smsadmin_password_gb2312_cannot_carry_is_not_spelled_out():
    secret = "pw😀word"
    client = vendor("smsadmin").client(AccountConfig("http://127.0.0.1:9/x", "u", secret))
    with pytest.raises(VendorError) as caught:
        client.balance()
    assert "password" in str(caught.value)
    assert not any("😀" in t for t in exception_texts(caught.value))


def test_redactor_leaves_clean_results_alone():
    redactor = Redactor(AccountConfig("http://x", "u", SECRET))
    assert redactor.redact("") == "" and not redactor.mentions("HTTP 500")


# --------------------------------------------------------------------------- where they travel

# The only requests whose document offers GET alone (smsadmin sections 5 to 8, "类型: GET"):
# the password rides in their query, which the HTTP layer never puts into any text.
GET_ONLY = {"smsadmin": {"user_info", "mgz", "report", "reve_urlencode", "reve"}}


@pytest.mark.parametrize(("key", "auth_mode"), CASES)
def test_credentials_travel_in_request_bodies(key, auth_mode):
    transport = ReplayTransport(b"")
    config = config_for(key, f"http://gateway.test/{key}", auth_mode)
    client = vendor(key).client(config, transport=transport)
    for name in public_operations(type(client)):
        with contextlib.suppress(VendorError, NotImplementedError):
            OPERATIONS[name](client)
    assert transport.sent
    needles = needles_for(key)
    allowed = GET_ONLY.get(key, set())
    for method, url in ((request.method, request.url) for request in transport.sent):
        endpoint = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        if endpoint in allowed:
            assert method == "GET"
            continue
        assert not leaks(url, needles), (method, url)
        assert "?" not in url or not any(f in url for f in ("pwd=", "pswd=", "password=")), url
