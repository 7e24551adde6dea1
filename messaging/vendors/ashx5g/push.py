"""Pushes from the ashx5g gateway.

* reports (3.4) and replies (3.8): "GET 推送(单条)、POST 推送(多条)" - one item as GET query
  parameters, several as a JSON array in a POST body;
* the template review result (5.2): a JSON object like the upload's answer, POSTed to the
  ``push_url`` given at upload.

The document describes no signature or token on pushes (the receiver address is bound by the
vendor's staff), so there is no authentication check to apply.  It names only one answer: the
review push is acknowledged with "0" (1 means failure).  Reports and replies get the same "0".
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from ..base import AccountConfig, PushOutcome, PushRejected, PushRequest, TemplateReview
from . import codes
from .client import (
    as_text,
    china_time,
    inbound_reply,
    json_array_items,
    loads_lenient,
    report_event,
)

ACKNOWLEDGED = "0"


def parse_push(request: PushRequest, config: AccountConfig) -> PushOutcome:
    outcome = PushOutcome(reply_body=ACKNOWLEDGED, reply_content_type="text/plain; charset=utf-8")
    if not request.body.strip():
        if not request.query:
            raise PushRejected("Empty push", status=400)
        # The document names the single-item GET push but shows no sample of it: its
        # parameters are taken to be the fields of a pushed report / reply item.
        _collect(outcome, dict(request.query), urlencode(request.query))
        return outcome
    try:
        text = request.body.decode("utf-8").lstrip("\ufeff").strip()
        if text.startswith("{"):
            items = [(loads_lenient(text), text)]
        else:
            items, errors = json_array_items(text)
            outcome.errors.extend(errors)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise PushRejected(f"Unreadable push: {exc}", status=400, raw=request.body) from exc
    for item, raw in items:
        _collect(outcome, item, raw)
    return outcome


def _collect(outcome: PushOutcome, item: object, raw: str) -> None:
    """File one pushed item; a bad one is recorded in ``errors`` and never stops the others."""
    try:
        if not isinstance(item, Mapping):
            raise ValueError("not an object")
        if "mms_id" in item:
            outcome.reviews.append(template_review(item, raw))
        elif "sc" in item:
            outcome.reports.append(report_event(item, raw))
        elif "msg" in item:
            outcome.replies.append(inbound_reply(item, raw))
        else:
            raise ValueError("neither a report, a reply nor a template review")
    except ValueError as exc:
        outcome.errors.append(f"{exc}: {raw}")


def template_review(item: Mapping, raw: str) -> TemplateReview:
    """5.2: {"ct", "code", "mms_id", "status"}; code 0 is approval.  The document says the push
    comes "after the review passes", yet carries a code, so a non-zero code is a refusal."""
    template_id, code = as_text(item.get("mms_id")), as_text(item.get("code"))
    if not template_id or not code:
        raise ValueError("template review without mms_id or code")
    return TemplateReview(
        vendor_template_id=template_id,
        approved=code == codes.SUCCESS,
        status_code=code,
        reason=as_text(item.get("status")),
        reviewed_at=china_time(item.get("ct")),
        raw=raw,
    )
