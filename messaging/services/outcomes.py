"""What a vendor's answer means for each message: the one outcome table.

Every answer the sending pipeline can get for a recipient — a ``SubmitResult`` (accepted, or
not with an ``error_kind``), a typed ``VendorError`` that concerns the whole request, an
exception from adapter code, or nothing at all (the answer did not list the recipient) — is
turned here, and only here, into one ``Decision``.  Adapters say what an answer means by the
kind they give it; the pipeline (``services.sending``) does what the decision says and never
second-guesses it.

==================  ==========================================================================
disposition         what the pipeline does
==================  ==========================================================================
``submitted``       the vendor took it: ``submitted`` with the vendor's ids
``failed``          refused for good: ``failed``, with a reason the marketer can read
``unknown``         the vendor may have it: ``unknown``, reconciled by reports, never re-sent
                    blindly (an explicit resend after the report window is the marketer's call)
``requeue``         nothing was taken and trying again later is safe: back to ``queued``, the
                    batch waits ``retry_after`` seconds (the vendor's own figure when it gave one)
``pause``           the account must be fixed (credentials, balance, sender number, signature):
                    back to ``queued`` and the campaign is paused with the vendor's words
``resend_single``   not sent: the request shape cannot carry it; sent again on its own
==================  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from django.utils.translation import gettext_lazy as _

from ..vendors.base import SubmitResult, VendorError
from . import wording


class Disposition(StrEnum):
    SUBMITTED = "submitted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REQUEUE = "requeue"
    PAUSE = "pause"
    RESEND_SINGLE = "resend_single"


# The table: a VendorError kind (on a SubmitResult or a raised error) → what it means.
DISPOSITION_BY_KIND: dict[str, Disposition] = {
    # Refused for good: the vendor said no to this recipient or this content.
    "invalid_number": Disposition.FAILED,
    "content_rejected": Disposition.FAILED,
    "invalid_request": Disposition.FAILED,
    # A refusal the vendor's table does not explain: still a refusal.
    "refused": Disposition.FAILED,
    # The request may have been taken: reconcile, never re-send blindly.  "vendor_error" is
    # a code that says nothing either way (actiongw STATUS 5 "其它错误").
    "ambiguous": Disposition.UNKNOWN,
    "vendor_error": Disposition.UNKNOWN,
    "unexpected_reply": Disposition.UNKNOWN,
    # Nothing taken; the same request later is safe.
    "transient": Disposition.REQUEUE,
    "rate_limited": Disposition.REQUEUE,
    # The account must be fixed before anything can be sent.
    "auth": Disposition.PAUSE,
    "balance": Disposition.PAUSE,
    "account": Disposition.PAUSE,
    # Another request shape carries it.
    "needs_single": Disposition.RESEND_SINGLE,
}

# How many times a batch is requeued before the campaign pauses ("the vendor has been down
# for a while": someone should look), and the back-off between tries when the vendor gave no
# figure of its own.
MAX_REQUEUES = 6
DEFAULT_RETRY_AFTER_S = 5.0
MAX_RETRY_AFTER_S = 300.0

NOT_LISTED = _("The vendor's answer did not list this number: it may have the message.")
ADAPTER_FAILED = _("The answer could not be read: the vendor may have the message.")


@dataclass(frozen=True)
class Decision:
    """What one recipient's answer means (see the module's table)."""

    disposition: Disposition
    vendor_message_id: str = ""
    vendor_batch_id: str = ""
    code: str = ""
    reason: str = ""
    """The vendor's code and words, or ours (in both languages, ``wording``) where the
    vendor said nothing."""
    retry_after: float = 0.0
    """Seconds to wait before a requeued request goes again (0: the default back-off)."""


def decide(answer: SubmitResult | VendorError | BaseException | None) -> Decision:
    """The disposition of one recipient, given what came back for it."""
    if isinstance(answer, SubmitResult):
        if answer.accepted:
            return Decision(
                Disposition.SUBMITTED,
                vendor_message_id=answer.vendor_message_id,
                vendor_batch_id=answer.batch_id,
            )
        reason = " ".join(filter(None, [answer.error_description]))
        return Decision(
            disposition_of_kind(answer.error_kind),
            code=answer.error_code,
            reason=reason or answer.error_code or answer.error_kind,
            retry_after=0.0,
        )
    if isinstance(answer, VendorError):
        return Decision(
            disposition_of_kind(answer.kind),
            code=answer.code,
            reason=str(answer),
            retry_after=float(getattr(answer, "retry_after", 0.0) or 0.0),
        )
    if isinstance(answer, BaseException):
        # Adapter code failed after the request may have left.
        return Decision(Disposition.UNKNOWN, reason=_stored(ADAPTER_FAILED))
    return Decision(Disposition.UNKNOWN, reason=_stored(NOT_LISTED))


@cache
def _stored(reason) -> str:
    """Our reason in both languages, rendered once (a lost answer may leave thousands)."""
    return wording.both(reason)


def disposition_of_kind(kind: str) -> Disposition:
    """An unknown or empty kind is read as "maybe taken": the one answer that can never lose a
    message nor send it twice."""
    return DISPOSITION_BY_KIND.get(kind or "", Disposition.UNKNOWN)


def backoff_s(decision_retry_after: float, attempt: int) -> float:
    """Seconds before a requeued batch goes again: the vendor's figure when it gave one, else
    an exponential back-off from ``DEFAULT_RETRY_AFTER_S``."""
    if decision_retry_after > 0:
        return min(MAX_RETRY_AFTER_S, decision_retry_after)
    return min(MAX_RETRY_AFTER_S, DEFAULT_RETRY_AFTER_S * 2 ** max(0, attempt - 1))
