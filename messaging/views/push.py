"""Receivers for what vendors push: delivery reports, replies and template reviews.

One URL per vendor account, carrying the account's unguessable token.  The push is kept raw
before anything else, parsed by the vendor's ``parse_push`` and applied in bulk; the answer is
exactly what that vendor expects.  A malformed or unauthenticated push gets a 4xx and stays in
``PushRecord`` for inspection — never a 500.

Logs name a push by its account (id and name), never by its token: the token is the push's
only credential (``smsportal.log_filters`` hides it in Django's request and access logs).
"""

import hmac
import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..models import PushRecord, VendorAccount
from ..services.reports import (
    apply_status_events,
    apply_template_reviews,
    keep_push,
    record_replies,
    retry_on_deadlock,
)
from ..vendors.base import PushRejected, PushRequest
from ..vendors.registry import vendor

log = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, account_pk: int, token: str) -> HttpResponse:
    account = VendorAccount.objects.filter(pk=account_pk).first()
    record = PushRecord(
        vendor_account=account,
        method=request.method,
        path=request.path[:255],
        query=request.META.get("QUERY_STRING", ""),
        content_type=request.content_type or "",
        body=request.body,
    )
    # Constant-time comparison: the token is the push's only credential.
    if account is None or not hmac.compare_digest(account.push_token.encode(), token.encode()):
        return _reject(record, PushRecord.Outcome.UNAUTHENTICATED, "unknown push token", 404)
    if not account.push_enabled:
        return _reject(record, PushRecord.Outcome.REJECTED, "pushes are disabled", 403)

    push = PushRequest(
        method=request.method,
        query={k: v for k, v in request.GET.items()},
        body=request.body,
        content_type=request.META.get("CONTENT_TYPE", ""),
        headers={k: v for k, v in request.headers.items()},
        raw_query=request.META.get("QUERY_STRING", ""),
    )
    client = account.client()
    try:
        outcome = vendor(account.vendor).parse_push(push, client.config)
    except PushRejected as exc:
        outcome_kind = (
            PushRecord.Outcome.UNAUTHENTICATED
            if exc.status in (401, 403)
            else PushRecord.Outcome.REJECTED
        )
        return _reject(record, outcome_kind, str(exc), exc.status)
    except Exception as exc:  # a parser bug must not lose the push nor answer 500
        log.exception("push parser failed for account %s", _who(account))
        return _reject(record, PushRecord.Outcome.REJECTED, f"parser error: {exc!r}", 400)

    items = len(outcome.reports) + len(outcome.replies) + len(outcome.reviews)
    record.item_count = items
    record.outcome = PushRecord.Outcome.PARTIAL if outcome.errors else PushRecord.Outcome.ACCEPTED
    record.error = "\n".join(outcome.errors)

    def store_and_apply() -> None:
        # The raw push and everything it carried commit together: the vendor hears "received"
        # only once all of it is stored.
        with transaction.atomic():
            keep_push(record)
            apply_status_events(account, outcome.reports, source="push")
            record_replies(account, outcome.replies)
            apply_template_reviews(account, outcome.reviews)

    try:
        retry_on_deadlock(store_and_apply)
    except Exception as exc:  # e.g. the database went away: keep the push, let the vendor retry
        log.exception("push for account %s could not be applied", _who(account))
        record.pk = None
        record.outcome, record.error = PushRecord.Outcome.REJECTED, f"not applied: {exc!r}"
        try:
            record.save()
        except Exception:
            log.exception("push record for account %s could not be saved", _who(account))
        return HttpResponse(
            "temporarily unavailable", status=503, content_type="text/plain; charset=utf-8"
        )
    body = outcome.reply_body
    return HttpResponse(body, content_type=outcome.reply_content_type, status=outcome.reply_status)


def _who(account: VendorAccount) -> str:
    """How logs name a push: its account's id and name (never the token of the URL)."""
    return f"{account.pk} ({account.name})"


def _reject(record: PushRecord, outcome: str, error: str, status: int) -> HttpResponse:
    record.outcome = outcome
    record.error = error
    record.save()
    return HttpResponse(error, status=status, content_type="text/plain; charset=utf-8")
