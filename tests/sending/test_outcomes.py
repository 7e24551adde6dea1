"""The outcome table: every answer the pipeline can get, case by case, to one disposition."""

import pytest

from messaging.services.outcomes import (
    DISPOSITION_BY_KIND,
    Decision,
    Disposition,
    backoff_s,
    decide,
)
from messaging.vendors.base import (
    ERROR_KINDS,
    AccountProblem,
    AmbiguousOutcome,
    ContentRejected,
    InsufficientBalance,
    InvalidNumber,
    InvalidRequest,
    NeedsSingleSend,
    RateLimited,
    Refused,
    SubmitResult,
    TransientError,
    UnexpectedReply,
    VendorAuthError,
    VendorError,
)


def refused(kind: str, **fields) -> SubmitResult:
    return SubmitResult("c1", "13800000001", accepted=False, error_kind=kind, **fields)


@pytest.mark.parametrize(
    ("kind", "disposition"),
    [
        ("invalid_number", Disposition.FAILED),
        ("content_rejected", Disposition.FAILED),
        ("invalid_request", Disposition.FAILED),
        ("refused", Disposition.FAILED),
        ("ambiguous", Disposition.UNKNOWN),
        ("unexpected_reply", Disposition.UNKNOWN),
        ("vendor_error", Disposition.UNKNOWN),
        ("transient", Disposition.REQUEUE),
        ("rate_limited", Disposition.REQUEUE),
        ("auth", Disposition.PAUSE),
        ("balance", Disposition.PAUSE),
        ("account", Disposition.PAUSE),
        ("needs_single", Disposition.RESEND_SINGLE),
        # A kind nobody declared, or none at all, can neither lose a message nor send it
        # twice only as "unknown".
        ("", Disposition.UNKNOWN),
        ("something new", Disposition.UNKNOWN),
    ],
)
def test_a_refused_recipient_means_what_its_kind_says(kind, disposition):
    decision = decide(refused(kind, error_code="17", error_description="账号签名无效"))
    assert decision.disposition == disposition
    assert decision.code == "17" and "账号签名无效" in decision.reason


def test_every_error_kind_of_the_contract_is_in_the_table():
    declared = set(ERROR_KINDS) - {"push_rejected"}
    assert declared <= set(DISPOSITION_BY_KIND), declared - set(DISPOSITION_BY_KIND)


def test_an_accepted_recipient_is_submitted_with_the_vendors_ids():
    result = SubmitResult("c1", "138", accepted=True, vendor_message_id="v9", batch_id="b1")
    assert decide(result) == Decision(
        Disposition.SUBMITTED, vendor_message_id="v9", vendor_batch_id="b1"
    )


@pytest.mark.parametrize(
    ("error", "disposition"),
    [
        (VendorAuthError("wrong password", code="-1"), Disposition.PAUSE),
        (InsufficientBalance("no money"), Disposition.PAUSE),
        (AccountProblem("sender number not registered", code="10"), Disposition.PAUSE),
        (RateLimited("slow down", retry_after=7), Disposition.REQUEUE),
        (TransientError("HTTP 503", code="503"), Disposition.REQUEUE),
        (InvalidNumber("bad"), Disposition.FAILED),
        (ContentRejected("words"), Disposition.FAILED),
        (InvalidRequest("malformed"), Disposition.FAILED),
        (Refused("no"), Disposition.FAILED),
        (AmbiguousOutcome("HTTP 500", code="500"), Disposition.UNKNOWN),
        (UnexpectedReply("garbage"), Disposition.UNKNOWN),
        (VendorError("other error"), Disposition.UNKNOWN),
        (NeedsSingleSend("a separator inside"), Disposition.RESEND_SINGLE),
    ],
)
def test_an_error_for_the_whole_request_means_what_its_type_says(error, disposition):
    decision = decide(error)
    assert decision.disposition == disposition
    assert decision.reason


def test_the_vendors_retry_after_is_kept_and_honoured():
    decision = decide(RateLimited("frequency deny", retry_after=5))
    assert decision.retry_after == 5
    assert backoff_s(decision.retry_after, attempt=3) == 5
    # Without a figure from the vendor: exponential back-off, capped.
    assert [backoff_s(0, n) for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff_s(0, 30) == 300


def test_an_adapter_exception_or_a_missing_answer_is_unknown():
    assert decide(KeyError("mid")).disposition == Disposition.UNKNOWN
    assert decide(None).disposition == Disposition.UNKNOWN
    assert decide(None).reason
