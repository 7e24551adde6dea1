"""Replies (MO) from recipients: stored once, linked to the message they answer, an opt-out
turned into a suppression with the reply kept as its evidence, and a re-subscribe reply
lifting an opt-out.

Re-subscribing: a reply that is exactly one of ``PortalSettings.resubscribe_keywords``
(compared as opt-out keywords are: any case, full or half width, surrounding punctuation
ignored) lifts the phone's suppression in force *when that suppression came from an opt-out
reply*, and only when it arrived after the opt-out.  A suppression added by a person (by hand,
an import, a complaint) is a decision a reply cannot undo; a person lifts it on the
suppression page.  The lifted suppression stays as history with the reply that lifted it.

Opt-out confirmation: when ``PortalSettings.opt_out_confirmation`` is on, a phone newly
suppressed by its reply gets the configured text once, through the account it replied to
(when that account's vendor takes single messages), as a notification outside any campaign
(``sending.send_notification``, in a task): not marketing, so the suppression just made does
not hold it back.

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

from accounts import audit

from ..importing.phones import normalize
from ..models import InboundMessage, Message, PortalSettings, Suppression, VendorAccount
from ..statuses import Status
from ..vendors.base import InboundReply
from . import suppressions
from .compose import segment_count
from .sending import can_send_notifications, notification_id

DEFAULT_OPT_OUT_KEYWORDS = ("T", "TD", "退订", "N", "取消", "STOP")


def opt_out_keywords() -> tuple[str, ...]:
    """``settings.OPT_OUT_KEYWORDS`` when set, else T, TD, 退订, N, 取消 and STOP."""
    return tuple(getattr(settings, "OPT_OUT_KEYWORDS", None) or DEFAULT_OPT_OUT_KEYWORDS)


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().strip(".,!?;:。，！？；：、 ").upper()


def resubscribe_keywords(portal: PortalSettings | None = None) -> tuple[str, ...]:
    """``PortalSettings.resubscribe_keywords``: comma-separated (an ASCII or a Chinese comma)."""
    text = (portal or PortalSettings.load()).resubscribe_keywords or ""
    return tuple(k.strip() for k in text.replace("，", ",").split(",") if k.strip())


def is_resubscribe(content: str, keywords: Sequence[str]) -> bool:
    """True for a reply that is exactly a re-subscribe keyword (as ``is_opt_out`` compares)."""
    wanted = {_normalized(k) for k in keywords} - {""}
    return _normalized(content or "") in wanted


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
        portal = PortalSettings.load() if stored else None
        resubscribe = resubscribe_keywords(portal) if stored else ()
        for inbound in sorted(stored, key=lambda reply: reply.received_at):
            if inbound.is_opt_out:
                _suppress(account, inbound, portal)
            elif is_resubscribe(inbound.content, resubscribe):
                _resubscribe(inbound)
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


def _suppress(account: VendorAccount, inbound: InboundMessage, portal: PortalSettings) -> None:
    local = timezone.localtime(inbound.received_at)
    suppression, created = Suppression.objects.active().get_or_create(
        phone=inbound.phone,
        defaults={
            "reason": Suppression.Reason.OPT_OUT,
            "evidence": f"{local:%Y-%m-%d %H:%M:%S} {account.name}"
            f"{' (' + inbound.extension + ')' if inbound.extension else ''}: {inbound.content}",
            "inbound_message": inbound,
        },
    )
    if not created:
        return
    audit.record(
        audit.Action.SUPPRESSION_ADDED,
        suppression,
        details={"reason": Suppression.Reason.OPT_OUT, "reply": inbound.pk},
    )
    if portal.opt_out_confirmation and can_send_notifications(account):
        _confirm(account, suppression, portal.opt_out_confirmation_text)


def _confirm(account: VendorAccount, suppression: Suppression, text: str) -> None:
    """Queue the opt-out confirmation: one message per suppression, linked to it."""
    text = text.strip()
    if not text:
        return
    # Chinese carriers want the signature first on every message, notifications included.
    if account.signature and not text.startswith(account.signature):
        text = f"{account.signature}{text}"
    message = Message.objects.create(
        vendor_account=account,
        phone=suppression.phone,
        content=text,
        segments=segment_count(text, account),
        custom_id=notification_id(),
        status=Status.QUEUED,
    )
    Suppression.objects.filter(pk=suppression.pk).update(confirmation=message)
    suppression.confirmation = message
    transaction.on_commit(lambda: _enqueue_notification(message.pk))


def _enqueue_notification(message_pk: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "messaging.tasks.send_notification",
        message_pk,
        q_options={"task_name": f"notification {message_pk}"},
    )


def _resubscribe(inbound: InboundMessage) -> None:
    """Lift the phone's opt-out (only one made by a reply, and only by a later reply)."""
    suppression = (
        Suppression.objects.active()
        .filter(phone=inbound.phone, reason=Suppression.Reason.OPT_OUT)
        .select_related("inbound_message")
        .first()
    )
    if suppression is None:
        return
    opted_out_at = suppression.inbound_message.received_at if suppression.inbound_message else None
    if opted_out_at is not None and inbound.received_at < opted_out_at:
        return  # an earlier reply delivered late does not undo a later opt-out
    local = timezone.localtime(inbound.received_at)
    suppressions.lift(
        suppression,
        reason=f"{local:%Y-%m-%d %H:%M:%S} {inbound.vendor_account.name}: {inbound.content}",
        reply=inbound,
    )
