"""sms.cn pushes: ``cmd=res`` with ``name=value`` fields in the query (GET) or a form body (POST).

Quirk: the document's section 6.2 is titled "push received replies" and its parameter table lists
an MO (``time``, ``mobile``, ``content``), but its URL template carries a delivery report
(``mobileids``, ``status``).  Both shapes are read: a push with ``content`` is a reply, one with
``mobileids``/``status`` is a report.  Each push carries one item.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from ..base import AccountConfig, InboundReply, PushOutcome, PushRejected, PushRequest, StatusEvent
from .client import parse_time
from .codes import report_status

PUSH_ENCODING = "gbk"  # "content 返回值：GBK字符串"

# Quirk: the document does not say what the receiver should answer; any HTTP 200 is taken as
# received, and a plain "OK" says so.
ACK_BODY = "OK"


def _fields(request: PushRequest) -> tuple[dict[str, str], set[str]]:
    """The push's fields and the names of those that are not valid GBK.

    A GET push's query is decoded from ``raw_query`` as GBK; a POST body is raw bytes, decoded
    here.
    """
    fields = request.decoded_query(PUSH_ENCODING)
    undecodable: set[str] = set()
    # Parsed as Latin-1, which maps every byte to one character, so that each value's GBK bytes
    # (percent-encoded or not) come back unchanged for a strict decode.
    latin1 = request.body.decode("latin-1")
    for key, value in parse_qsl(latin1, keep_blank_values=True, encoding="latin-1"):
        try:
            fields[key] = value.encode("latin-1").decode(PUSH_ENCODING)
        except UnicodeDecodeError:
            undecodable.add(key)
    return fields, undecodable


def parse_push(request: PushRequest, config: AccountConfig) -> PushOutcome:
    fields, undecodable = _fields(request)
    if fields.get("cmd") != "res":
        raise PushRejected(
            "Not an sms.cn push (cmd=res missing)",
            status=400,
            raw=request.body or urlencode(request.query),
        )
    # The document's only check on a push is the account name it carries.
    uid = fields.get("uid", "")
    if not uid:
        raise PushRejected("sms.cn push without uid", status=401)
    if uid != config.account_id:
        raise PushRejected(f"sms.cn push for another account {uid!r}", status=403)
    raw = request.body.decode(PUSH_ENCODING, errors="replace") or urlencode(request.query)
    outcome = PushOutcome(reply_body=ACK_BODY, reply_content_type="text/plain; charset=utf-8")
    phone = fields.get("mobile", "").strip()
    # received/report time is optional in practice (and refused outside a sane window): the
    # item is kept without it.
    when = parse_time(fields["time"]) if fields.get("time") else None
    if not phone.lstrip("+").isdigit():
        outcome.errors.append(f"sms.cn push item without a valid mobile: {raw}")
    elif "content" in fields or "content" in undecodable:
        if "content" in undecodable:
            outcome.errors.append(f"sms.cn reply push content is not GBK: {raw}")
        else:
            outcome.replies.append(
                InboundReply(phone=phone, content=fields["content"], received_at=when, raw=raw)
            )
    elif "mobileids" in fields and fields.get("status", "").strip():
        # An empty mobileids (optional when sending) still names the phone: kept.
        code = fields["status"].strip()
        meaning = report_status(code)
        outcome.reports.append(
            StatusEvent(
                vendor_message_id=fields["mobileids"],
                status=meaning.meaning,
                vendor_code=code,
                description_zh=meaning.zh,
                description_en=meaning.en,
                phone=phone,
                custom_id=fields["mobileids"],
                done_at=when,
                raw=raw,
            )
        )
    else:
        outcome.errors.append(f"sms.cn push item is neither a reply nor a report: {raw}")
    return outcome
