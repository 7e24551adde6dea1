"""Delivery reports, replies (MO) and template reviews: stored raw, matched, applied forward.

Everything works in bulk: a push of 500 reports is a handful of queries, not 500.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import (
    DeliveryReport,
    InboundMessage,
    Message,
    Suppression,
    TemplateRegistration,
    VendorAccount,
)
from ..statuses import FINAL_STATUSES, Status, can_advance
from ..vendors.base import InboundReply, StatusEvent, TemplateReview
from .campaigns import refresh_counters

DEFAULT_OPT_OUT_KEYWORDS = ("T", "TD", "退订", "N", "取消", "STOP")


@dataclass(frozen=True)
class ApplyResult:
    stored: int
    matched: int
    advanced: int


def apply_status_events(
    account: VendorAccount, events: Sequence[StatusEvent], source: str
) -> ApplyResult:
    """Store every report (raw kept), match it to its message and move the message forward.

    Matching is by the vendor's id within the account, then by our custom id where the vendor
    echoes it.  A report whose message is not known yet (its submit answer not recorded) stays
    unmatched and is matched by ``match_waiting_reports`` when the answer is recorded.  Parts
    of a long message carry one vendor id: the first final report wins, later parts and
    duplicates change nothing.
    """
    if not events:
        return ApplyResult(0, 0, 0)
    now = timezone.now()
    with transaction.atomic():
        reports = DeliveryReport.objects.bulk_create(
            DeliveryReport(
                vendor_account=account,
                source=source,
                vendor_message_id=event.vendor_message_id[:64],
                custom_id=event.custom_id[:64],
                phone=event.phone[:20],
                status=event.status,
                vendor_code=event.vendor_code[:32],
                description=(event.description_zh or event.description_en)[:255],
                done_at=event.done_at,
                raw=event.raw,
            )
            for event in events
        )
        matched, advanced = _match_and_apply(account, reports, now)
    return ApplyResult(len(reports), matched, advanced)


def match_waiting_reports(account: VendorAccount, vendor_message_ids: Sequence[str]) -> int:
    """Apply reports that arrived before their messages' submit answers were recorded."""
    ids = [i for i in vendor_message_ids if i]
    if not ids:
        return 0
    with transaction.atomic():
        waiting = list(
            DeliveryReport.objects.filter(
                vendor_account=account, message__isnull=True, vendor_message_id__in=ids
            ).order_by("pk")
        )
        matched, _ = _match_and_apply(account, waiting, timezone.now())
    return matched


def _match_and_apply(account, reports: list[DeliveryReport], now) -> tuple[int, int]:
    vendor_ids = {r.vendor_message_id for r in reports if r.vendor_message_id}
    custom_ids = {r.custom_id for r in reports if r.custom_id}
    # Lock the messages so two pushes for the same message cannot both advance it.
    messages = Message.objects.select_for_update().filter(vendor_account=account)
    by_vendor_id = (
        {m.vendor_message_id: m for m in messages.filter(vendor_message_id__in=vendor_ids)}
        if vendor_ids
        else {}
    )
    by_custom_id = (
        {m.custom_id: m for m in messages.filter(custom_id__in=custom_ids)} if custom_ids else {}
    )

    # Messages whose submit answer was lost have no vendor id: a report for the same phone
    # resolves them (the vendor has them after all) and tells us their id.
    unresolved_phones = {
        r.phone
        for r in reports
        if r.phone and r.vendor_message_id not in by_vendor_id and r.custom_id not in by_custom_id
    }
    by_phone: dict[str, Message] = {}
    if unresolved_phones:
        for message in messages.filter(
            phone__in=unresolved_phones,
            status__in=[Status.UNKNOWN, Status.SUBMITTING],
            vendor_message_id="",
        ).order_by("pk"):
            by_phone.setdefault(message.phone, message)

    changed: dict[int, Message] = {}
    matched_reports = []
    for report in reports:
        message = by_vendor_id.get(report.vendor_message_id) or by_custom_id.get(report.custom_id)
        if message is None and report.phone in by_phone:
            message = by_phone.pop(report.phone)
        if message is None:
            continue
        if not message.vendor_message_id and report.vendor_message_id:
            message.vendor_message_id = report.vendor_message_id
            by_vendor_id[report.vendor_message_id] = message
            changed[message.pk] = message
        report.message_id, report.matched_at = message.pk, now
        matched_reports.append(report)
        if can_advance(message.status, report.status):
            message.status = report.status
            message.vendor_status_code = report.vendor_code
            message.vendor_status_description = report.description
            message.final_at = report.done_at or now if report.status in FINAL_STATUSES else None
            changed[message.pk] = message
    if matched_reports:
        DeliveryReport.objects.bulk_update(
            matched_reports, ["message", "matched_at"], batch_size=500
        )
    if changed:
        Message.objects.bulk_update(
            changed.values(),
            [
                "status",
                "vendor_status_code",
                "vendor_status_description",
                "final_at",
                "vendor_message_id",
            ],
            batch_size=500,
        )
        refresh_counters(m.campaign_id for m in changed.values())
    return len(matched_reports), len(changed)


# --------------------------------------------------------------------------- replies


def is_opt_out(content: str, keywords: Sequence[str] | None = None) -> bool:
    """True for a reply that is exactly an opt-out keyword, in any case and in full- or
    half-width characters (ＴＤ, td, 退订 …), ignoring surrounding spaces and punctuation."""
    keywords = keywords or getattr(settings, "OPT_OUT_KEYWORDS", DEFAULT_OPT_OUT_KEYWORDS)
    normalized = unicodedata.normalize("NFKC", content).strip().strip(".,!?;:。，！？；：、 ")
    return normalized.upper() in {unicodedata.normalize("NFKC", k).upper() for k in keywords}


def record_replies(account: VendorAccount, replies: Sequence[InboundReply]) -> int:
    """Store replies, link each to the latest message sent to that phone on that account, and
    suppress phones whose reply is an opt-out.  Returns how many were stored."""
    if not replies:
        return 0
    now = timezone.now()
    with transaction.atomic():
        phones = {r.phone for r in replies}
        latest: dict[str, Message] = {}
        for message in (
            Message.objects.filter(
                vendor_account=account, phone__in=phones, submitted_at__isnull=False
            )
            .order_by("phone", "-submitted_at")
            .only("pk", "phone", "campaign_id", "submitted_at")
        ):
            latest.setdefault(message.phone, message)
        stored = InboundMessage.objects.bulk_create(
            InboundMessage(
                vendor_account=account,
                phone=reply.phone[:20],
                extension=reply.extension[:30],
                content=reply.content,
                received_at=reply.received_at or now,
                vendor_message_id=reply.vendor_message_id[:64],
                message=latest.get(reply.phone),
                campaign_id=latest[reply.phone].campaign_id if reply.phone in latest else None,
                is_opt_out=is_opt_out(reply.content),
                raw=reply.raw,
            )
            for reply in replies
        )
        for inbound in stored:
            if inbound.is_opt_out:
                Suppression.objects.get_or_create(
                    phone=inbound.phone,
                    defaults={
                        "reason": Suppression.Reason.OPT_OUT,
                        "evidence": f"{inbound.received_at:%Y-%m-%d %H:%M:%S} "
                        f"{account.name}: {inbound.content}",
                        "inbound_message": inbound,
                    },
                )
    return len(stored)


# --------------------------------------------------------------------------- templates


def apply_template_reviews(account: VendorAccount, reviews: Sequence[TemplateReview]) -> int:
    updated = 0
    for review in reviews:
        status = (
            TemplateRegistration.Review.PENDING
            if review.approved is None
            else TemplateRegistration.Review.APPROVED
            if review.approved
            else TemplateRegistration.Review.REJECTED
        )
        updated += TemplateRegistration.objects.filter(
            vendor_account=account, vendor_template_id=review.vendor_template_id
        ).update(
            review_status=status,
            review_reason=review.reason,
            reviewed_at=review.reviewed_at or timezone.now(),
            raw=review.raw,
        )
    return updated
