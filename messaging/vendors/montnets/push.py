"""The status-report push (2.3): the gateway POSTs ``RPT_REQ`` and expects
``{"cmd": "RPT_RESP", "seqid": <the same seqid>, "result": 0}`` back.

2.3.2 names JSON, but the document accepts x-www-form-urlencoded everywhere (1., 5.1) and
2.3.3 describes the encoding of a form push's errdesc; gateways configured for forms push
``userid=…&pwd=…&timestamp=…&cmd=RPT_REQ&seqid=1004&rpts=[…]``.  Both are read here."""

from __future__ import annotations

import hmac
import json
from urllib.parse import parse_qsl

from ..base import AccountConfig, PushOutcome, PushRejected, PushRequest
from .client import loads_lenient, parse_report, password_digest, report_items


def parse_push(request: PushRequest, config: AccountConfig) -> PushOutcome:
    payload = _payload(request)
    if not isinstance(payload, dict) or payload.get("cmd") != "RPT_REQ":
        raise PushRejected("Montnets push is not an RPT_REQ", status=400, raw=request.body)
    seqid = payload.get("seqid")
    if isinstance(seqid, bool) or not isinstance(seqid, int | str) or seqid == "":
        raise PushRejected("RPT_REQ without a seqid", status=400, raw=request.body)
    if isinstance(seqid, str) and seqid.strip().isascii() and seqid.strip().isdigit():
        seqid = int(seqid)  # a form field is text; 2.3.5 types the answer's seqid int
    _check_signature(payload, config, request.body)
    try:
        items = report_items(payload.get("rpts"))
    except ValueError as exc:
        raise PushRejected("RPT_REQ rpts is not a list", status=400, raw=request.body) from exc

    # The same seqid, exactly as the gateway sent it.  A bad item does not fail the push: a
    # non-zero result would only make the gateway push the good reports again.
    reply = json.dumps({"cmd": "RPT_RESP", "seqid": seqid, "result": 0})
    outcome = PushOutcome(reply_body=reply, reply_content_type="application/json")
    for item in items:
        try:
            outcome.reports.append(parse_report(item))
        except ValueError as exc:
            outcome.errors.append(str(exc))
    return outcome


def _payload(request: PushRequest) -> object:
    """The push's fields: a JSON object (read like the gateway's answers, ``loads_lenient``)
    or a form whose ``rpts`` is the JSON array as text.  Told apart by the body itself: a
    JSON push starts with "{", a form never does, whatever the Content-Type says."""
    try:
        text = request.body.decode("utf-8")  # 2.3.3: UTF-8 in both formats
    except UnicodeDecodeError as exc:
        raise PushRejected("Montnets push is not UTF-8", status=400, raw=request.body) from exc
    if text.lstrip().startswith("{"):
        try:
            return loads_lenient(text)
        except ValueError as exc:
            raise PushRejected("Montnets push is not JSON", status=400, raw=request.body) from exc
    fields = parse_qsl(text.strip(), keep_blank_values=True, encoding="utf-8")
    if not fields:
        raise PushRejected("Montnets push is neither JSON nor a form", status=400, raw=request.body)
    return dict(fields)


def _check_signature(payload: dict, config: AccountConfig, body: bytes) -> None:
    """2.3.3: the gateway signs the push like our requests, so we can tell it is the real one.
    The document sets no freshness window for the push timestamp, so only the digest counts."""
    userid, pwd, timestamp = (str(payload.get(key) or "") for key in ("userid", "pwd", "timestamp"))
    if not (userid and pwd and timestamp):
        raise PushRejected("RPT_REQ without userid / pwd / timestamp", status=401, raw=body)
    expected = password_digest(config.account_id, config.secret, timestamp)
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, i.e.
    # a traceback in the log for every such push), and a pwd that is not hex is simply wrong.
    if userid.upper() != config.account_id.upper() or not hmac.compare_digest(
        pwd.lower().encode(), expected.encode()
    ):
        raise PushRejected("RPT_REQ signature does not match this account", status=403, raw=body)
