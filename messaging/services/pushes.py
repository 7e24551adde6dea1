"""What vendors push (delivery reports, replies and template reviews), received and applied.

``messaging.views.push`` hands each push here.  One URL per vendor account, carrying the
account's unguessable token.  The push is kept raw
before anything else, parsed by the vendor's ``parse_push`` and applied in bulk; the answer is
exactly what that vendor expects.  A malformed or unauthenticated push gets a 4xx and stays in
``PushRecord`` for inspection — never a 500.

Each item is checked on its own before anything is stored (``clean_item``): characters no
database column can hold (NUL, lone surrogates) are dropped, a time no one can mean (year 1 or
9999) is left out, part counts are kept in range.  Should storing the items together still fail
on what one of them carries, they are stored one by one and only the failing ones are listed in
the push's record: an item never takes the valid ones beside it down (vendors that never re-send
would lose them).

The raw push is stored (``keep_push``) in the transaction that applies what it carries, so the
vendor hears "received" only once all of it is stored; that transaction runs in
``deadlocks.retry_on_deadlock``.

Logs name a push by its account (id and name), never by its token: the token is the push's
only credential (``smsportal.log_filters`` hides it in Django's request and access logs).
"""

import hmac
import logging
from dataclasses import dataclass

from django.db import DataError, IntegrityError, transaction

from ..models import PushRecord, VendorAccount
from ..vendors.base import PushRejected, PushRequest, clean_item, clean_text
from ..vendors.registry import vendor
from .deadlocks import retry_on_deadlock
from .replies import record_replies
from .reports import apply_status_events
from .sql import reports as reports_sql
from .templates import apply_template_reviews

log = logging.getLogger(__name__)

ITEM_ERRORS = (DataError, IntegrityError, ValueError, TypeError, ArithmeticError, LookupError)
"""What the data of one item can make storing fail with (anything else, e.g. the database going
away, fails the push and the vendor is asked to send it again)."""


@dataclass(frozen=True)
class PushAnswer:
    """What the vendor hears."""

    body: str | bytes
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


def receive_push(
    account_pk: int, token: str, push: PushRequest, *, path: str, content_type: str
) -> PushAnswer:
    """Keep, check, parse and apply one push to the URL ``path`` (``content_type``: the
    media type of the push, as its record keeps it)."""
    account = VendorAccount.objects.filter(pk=account_pk).first()
    record = PushRecord(
        vendor_account=account,
        method=push.method,
        path=clean_text(path)[:255],
        query=clean_text(push.raw_query),
        content_type=clean_text(content_type)[:100],
        body=push.body,
    )
    # Constant-time comparison: the token is the push's only credential.
    if account is None or not hmac.compare_digest(account.push_token.encode(), token.encode()):
        return _reject(record, PushRecord.Outcome.UNAUTHENTICATED, "unknown push token", 404)
    if not account.push_enabled:
        return _reject(record, PushRecord.Outcome.REJECTED, "pushes are disabled", 403)

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
        log.exception("push parser failed for %s", _who(account))
        return _reject(
            record, PushRecord.Outcome.REJECTED, f"parser error: {exc!r}", 400, "unreadable push"
        )

    errors = list(outcome.errors)
    reports = _cleaned("report", outcome.reports, errors)
    replies = _cleaned("reply", outcome.replies, errors)
    reviews = _cleaned("review", outcome.reviews, errors)
    record.item_count = len(reports) + len(replies) + len(reviews)

    def finish_record(failures=()) -> None:
        problems = [*errors, *failures]
        record.outcome = PushRecord.Outcome.PARTIAL if problems else PushRecord.Outcome.ACCEPTED
        record.error = clean_text("\n".join(problems))

    def store_and_apply() -> None:
        # The raw push and everything it carried commit together: the vendor hears "received"
        # only once all of it is stored.
        with transaction.atomic():
            finish_record()
            keep_push(record)
            apply_status_events(account, reports, source="push")
            record_replies(account, replies)
            apply_template_reviews(account, reviews)

    def store_one_by_one() -> None:
        # Only when storing them together failed: each item in its own savepoint, the failing
        # ones listed in the record.  Any other error, or no item stored at all, still fails
        # the whole push (the vendor may send it again).
        record.pk = None
        failures, stored = [], 0
        steps = [
            *((r, lambda r: apply_status_events(account, [r], source="push")) for r in reports),
            *((r, lambda r: record_replies(account, [r])) for r in replies),
            *((r, lambda r: apply_template_reviews(account, [r])) for r in reviews),
        ]
        with transaction.atomic():
            for item, apply in steps:
                try:
                    with transaction.atomic():
                        apply(item)
                    stored += 1
                except ITEM_ERRORS as exc:
                    failures.append(f"not stored ({exc!r}): {clean_text(item.raw)[:500]}")
            if failures and not stored:
                raise ItemsNotStored(failures[0])
            finish_record(failures)
            keep_push(record)

    try:
        try:
            retry_on_deadlock(store_and_apply)
        except ITEM_ERRORS:
            log.warning("push for %s: stored item by item", _who(account), exc_info=True)
            retry_on_deadlock(store_one_by_one)
    except Exception as exc:  # e.g. the database went away: keep the push, let the vendor retry
        log.exception("push for %s could not be applied", _who(account))
        record.pk = None
        record.outcome = PushRecord.Outcome.REJECTED
        record.error = clean_text(f"not applied: {exc!r}")
        try:
            record.save()
        except Exception:
            log.exception("push record for %s could not be saved", _who(account))
        return PushAnswer("temporarily unavailable", status=503)
    return PushAnswer(
        outcome.reply_body, status=outcome.reply_status, content_type=outcome.reply_content_type
    )


def keep_push(record: PushRecord) -> None:
    """Store a received push (a new ``PushRecord``) as it came (``sql.reports.insert_push``:
    on PostgreSQL its body is bound as binary, not as hex in the SQL text)."""
    reports_sql.insert_push(record)


def _who(account: VendorAccount) -> str:
    """How logs name a push: ``account=<id>`` (never the token of the URL), as every log line
    of the pipeline names its account, campaign and batch."""
    return f"account={account.pk}"


class ItemsNotStored(Exception):
    """Storing a push item by item stored none of them."""


def _cleaned(kind: str, items, errors: list[str]) -> list:
    cleaned = []
    for index, item in enumerate(items):
        item, note = clean_item(item)
        if note:
            errors.append(f"{kind} {index}: {note}")
        cleaned.append(item)
    return cleaned


def _reject(
    record: PushRecord, outcome: str, error: str, status: int, answer: str | None = None
) -> PushAnswer:
    """Keep the refused push with why; ``answer`` is what the vendor hears when the reason is
    ours (a parser error) rather than the push's."""
    record.outcome = outcome
    record.error = clean_text(error)
    record.save()
    return PushAnswer(clean_text(answer or error), status=status)
