"""Replies (MO) from recipients: stored once, linked to the message they answer, and an opt-out
turned into a suppression with the reply kept as its evidence.

A reply's phone is normalized as imported recipients' phones are (``importing.phones``:
full-width digits, +86 / 0086 / 86 forms, separators), so that a reply finds the messages and
suppresses the very phone the recipient lists hold.  A sender the import would refuse (a short
code, a landline) is kept as the vendor gave it, spaces and dashes dropped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import Action, record

from ..importing.phones import normalize
from ..models import InboundMessage, Message, Suppression, VendorAccount
from ..vendors.base import InboundReply

DEFAULT_OPT_OUT_KEYWORDS = ("T", "TD", "退订", "N", "取消", "STOP")


def opt_out_keywords() -> tuple[str, ...]:
    """``settings.OPT_OUT_KEYWORDS`` when set, else T, TD, 退订, N, 取消 and STOP."""
    return tuple(getattr(settings, "OPT_OUT_KEYWORDS", None) or DEFAULT_OPT_OUT_KEYWORDS)


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().strip(".,!?;:。，！？；：、 ").upper()


def is_opt_out(content: str, keywords: Sequence[str] | None = None) -> bool:
    """True for a reply that is exactly an opt-out keyword, in any case and in full- or
    half-width characters (ＴＤ, td, 退订 …), ignoring surrounding spaces and punctuation."""
    wanted = {_normalized(k) for k in (keywords or opt_out_keywords())}
    return _normalized(content or "") in wanted


def reply_phone(phone: str) -> str:
    """The phone of a reply as recipient lists hold it: a Chinese mobile as its 11 digits, an
    international number in E.164 (``importing.phones.normalize``); anything else as sent,
    without spaces and dashes."""
    normalized = normalize(phone, allow_international=True)
    if normalized.__class__ is str:
        return normalized
    return phone.strip().replace(" ", "").replace("-", "")


def _same_sender(account_extension: str, reply_extension: str) -> bool:
    """Whether a reply went to this account's sender number.  The access code a vendor reports
    is the gateway number followed by the account's extension (smscn ``1068112227282`` + ``12``);
    when both are known and disagree, the reply answered another sender number."""
    if not account_extension or not reply_extension:
        return True
    return reply_extension.endswith(account_extension)


def record_replies(account: VendorAccount, replies: Sequence[InboundReply]) -> int:
    """Store replies, link each to the latest campaign message sent to that phone on that
    account (and extension), and suppress phones whose reply is an opt-out, the reply kept as
    evidence.  A reply the vendor delivers twice is stored once.  Returns how many were
    stored."""
    if not replies:
        return 0
    now = timezone.now()
    with transaction.atomic():
        rows = []
        for reply in replies:
            phone = reply_phone(reply.phone)[:20]
            rows.append((reply, phone, reply.received_at or now))
        phones = {phone for _, phone, _ in rows}
        seen = _stored_replies(account, rows)
        latest: dict[str, Message] = {}
        for message in (
            Message.objects.filter(
                vendor_account=account,
                phone__in=phones,
                submitted_at__isnull=False,
                campaign__isnull=False,
            )
            .order_by("phone", "-submitted_at", "-pk")
            .only("pk", "phone", "campaign_id", "submitted_at")
        ):
            latest.setdefault(message.phone, message)
        keywords = opt_out_keywords()
        fresh = []
        for reply, phone, received_at in rows:
            key = _reply_key(phone, reply.vendor_message_id, reply.content, received_at)
            if key in seen:
                continue
            seen.add(key)
            same_sender = _same_sender(account.extension, reply.extension)
            message = latest.get(phone) if same_sender else None
            fresh.append(
                InboundMessage(
                    vendor_account=account,
                    phone=phone,
                    extension=reply.extension[:30],
                    content=reply.content,
                    received_at=received_at,
                    vendor_message_id=reply.vendor_message_id[:64],
                    message=message,
                    campaign_id=message.campaign_id if message else None,
                    is_opt_out=is_opt_out(reply.content, keywords),
                    raw=reply.raw or reply.content,
                )
            )
        stored = InboundMessage.objects.bulk_create(fresh)
        for inbound in stored:
            if inbound.is_opt_out:
                _suppress(account, inbound)
    return len(stored)


def _reply_key(phone: str, vendor_id: str, content: str, received_at) -> tuple:
    return (phone, vendor_id) if vendor_id else (phone, content, received_at)


def _stored_replies(account, rows) -> set[tuple]:
    """Keys of the replies among ``rows`` that are already stored (a re-sent push or poll)."""
    phones = {phone for _, phone, _ in rows}
    stored = InboundMessage.objects.filter(vendor_account=account, phone__in=phones).filter(
        received_at__in={at for _, _, at in rows}
    )
    return {
        _reply_key(phone, vendor_id, content, at)
        for phone, vendor_id, content, at in stored.values_list(
            "phone", "vendor_message_id", "content", "received_at"
        )
    }


def _suppress(account: VendorAccount, inbound: InboundMessage) -> None:
    local = timezone.localtime(inbound.received_at)
    suppression, created = Suppression.objects.get_or_create(
        phone=inbound.phone,
        defaults={
            "reason": Suppression.Reason.OPT_OUT,
            "evidence": f"{local:%Y-%m-%d %H:%M:%S} {account.name}"
            f"{' (' + inbound.extension + ')' if inbound.extension else ''}: {inbound.content}",
            "inbound_message": inbound,
        },
    )
    if created:
        record(
            Action.SUPPRESSION_ADDED,
            suppression,
            details={"reason": Suppression.Reason.OPT_OUT, "inbound_message": inbound.pk},
        )
