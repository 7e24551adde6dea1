"""smsadmin.cn pushes: one reply (``Class=mo``) or one report (``Class=rpt``) per request.

The document says the pushes are POSTs but its examples write the fields as a query string, so
both places are read.  Values are percent-encoded GB2312.  The document names no answer: the
gateway only cares whether it reached us ("由于用户服务器链接不成功，我方不再传递"), and it never
re-sends.  It also only pushes to port 80, which the receiver URL registered with its customer
service must use.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from ..base import AccountConfig, PushOutcome, PushRejected, PushRequest
from .client import REPLY_ENCODING, inbound_reply, report_event

REPLY_CONTENT_TYPE = "text/plain; charset=gb2312"


def parse_push(request: PushRequest, config: AccountConfig) -> PushOutcome:
    fields = _fields(request)
    raw = request.body.decode(REPLY_ENCODING, errors="replace") or str(dict(request.query))
    kind = fields.get("Class", "").strip()
    if kind not in ("mo", "rpt"):
        raise PushRejected(f"not a smsadmin push (Class={kind!r})", status=400, raw=raw)
    # The document has no signature; SmsName (the account's user ID) is the only check it allows.
    sms_name = fields.get("SmsName", "").strip()
    if not sms_name:
        raise PushRejected("smsadmin push without SmsName", status=401, raw=raw)
    if sms_name != config.account_id:
        raise PushRejected(f"smsadmin push for another account ({sms_name})", status=403, raw=raw)

    outcome = PushOutcome(reply_body="", reply_content_type=REPLY_CONTENT_TYPE)
    phone = fields.get("Mobile", "").strip()
    # The mo example wraps the LinkId over two lines; a linkid is letters and digits only.
    linkid = "".join(fields.get("LinkId", "").split())
    if not phone:
        outcome.errors.append(f"smsadmin {kind} push without Mobile: {raw}")
    elif kind == "rpt":
        report = fields.get("Report", "").strip()
        if report:
            outcome.reports.append(
                report_event(phone, linkid, report, fields.get("ReportTime", ""), raw)
            )
        else:
            outcome.errors.append(f"smsadmin rpt push without Report: {raw}")
    elif "Message" in fields:
        outcome.replies.append(
            inbound_reply(phone, linkid, fields["Message"], fields.get("RevertTime", ""), "", raw)
        )
    else:
        outcome.errors.append(f"smsadmin mo push without Message: {raw}")
    return outcome


def _fields(request: PushRequest) -> dict[str, str]:
    """Query and form fields, the form winning.  The form is split as Latin-1 so that each value
    keeps its bytes (percent-encoded or raw) for decoding as GB2312.  Names are stripped: the mo
    example writes ``& RevertTime=``."""
    pairs = list(request.decoded_query(REPLY_ENCODING).items())
    form = parse_qsl(request.body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    for name, value in form:
        pairs.append(
            (
                name.encode("latin-1").decode(REPLY_ENCODING, errors="replace"),
                value.encode("latin-1").decode(REPLY_ENCODING, errors="replace"),
            )
        )
    return {name.strip(): value for name, value in pairs}
