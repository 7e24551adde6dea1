"""When a campaign needs a second pair of eyes, and whether it has them.

Administrators set the threshold in ``PortalSettings``: with approval required, a campaign
whose list has at least ``approval_min_recipients`` recipients (0: every campaign) or whose
estimated cost reaches ``approval_min_cost`` must be approved, by an approver who is not its
author, before it starts or its schedule takes effect.  An approval holds for what the
approver saw: the message (its text, signature, kind, files), the recipient list and the
vendor account, kept as a fingerprint; when any of them changes, the approval is void.

This module answers questions; the transitions (submit, approve, reject, void) are
``campaign_commands``.  ``blocking_reason`` is the check every send path asks (the campaign
commands, and the compliance service's list of checks).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.roles import APPROVE, can

from ..models import Campaign, PortalSettings, Recipient
from .compose import full_text, message_parts, render
from .content_checks import estimate_cost

Approval = Campaign.Approval
OPEN_STATES = (Campaign.State.DRAFT, Campaign.State.SCHEDULED)
"""States in which an approval still matters (nothing has been sent)."""


@dataclass(frozen=True)
class Size:
    recipients: int
    parts_each: int
    cost: Decimal


def size(campaign: Campaign) -> Size:
    """The list's size and an estimate of the cost: the first recipient's message's parts
    for everyone (a count and one rendering, whatever the list's size; the review page shows
    the exact figures of the full preview)."""
    recipients = Recipient.objects.filter(recipient_list_id=campaign.recipient_list_id)
    count = recipients.count()
    first = recipients.order_by("pk").values_list("variables", flat=True).first() or {}
    template, account = campaign.template, campaign.vendor_account
    text = full_text(template, account, render(template.body, first)[0])
    parts = message_parts(template, text, account)
    return Size(count, parts, estimate_cost(parts * count, account))


def required(campaign: Campaign, settings: PortalSettings | None = None) -> bool:
    """Whether this campaign needs approval under the portal's settings."""
    settings = settings or PortalSettings.load()
    if not settings.approval_required:
        return False
    if not settings.approval_min_recipients:
        return True  # 0: every campaign
    measured = size(campaign)
    if measured.recipients >= settings.approval_min_recipients:
        return True
    return settings.approval_min_cost is not None and measured.cost >= settings.approval_min_cost


def fingerprint(campaign: Campaign) -> str:
    """What an approval is for: the message as it will be sent (text, signature, kind,
    marketing flag, its frames' files), the recipient list and the vendor account."""
    template = campaign.template
    # The content, not the row: a campaign given its own copy of a library template that is
    # about to change (``template_library.detach_campaigns``) still sends what was approved.
    files = [
        (item.frame, item.order, item.content_type, _file_size(item))
        for item in template.files.order_by("frame", "order", "pk")
    ]
    content = {
        "kind": template.kind,
        "body": template.body,
        "signature": template.signature,
        "marketing": template.is_marketing,
        "files": files,
        "list": campaign.recipient_list_id,
        "account": campaign.vendor_account_id,
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _file_size(item) -> int | None:
    try:
        return item.file.size
    except (OSError, ValueError):
        return None


def holds(campaign: Campaign) -> bool:
    """Approved, for the content, list and account the campaign has now."""
    return (
        campaign.approval_status == Approval.APPROVED
        and campaign.approval_fingerprint == fingerprint(campaign)
    )


def blocking_reason(campaign: Campaign) -> str | None:
    """Why this campaign may not start (or its schedule take effect) for want of approval,
    or None when it may."""
    if not required(campaign):
        return None
    if holds(campaign):
        return None
    status = campaign.approval_status
    if status == Approval.APPROVED:
        return _("The campaign changed after it was approved: submit it for approval again.")
    if status == Approval.PENDING:
        return _("This campaign is awaiting approval.")
    if status == Approval.REJECTED:
        return _("This campaign was rejected: %(comment)s") % {
            "comment": campaign.approval_comment or "—"
        }
    return _("This campaign needs approval before it is sent: submit it for approval.")


def awaiting() -> QuerySet[Campaign]:
    """Campaigns submitted and not yet approved or rejected, oldest first."""
    return (
        Campaign.objects.filter(approval_status=Approval.PENDING, status__in=OPEN_STATES)
        .select_related("template", "vendor_account", "recipient_list", "created_by")
        .order_by("created_at", "pk")
    )


def review_refusal(user, campaign: Campaign) -> str | None:
    """Why ``user`` may not approve or reject ``campaign`` now, or None."""
    if not can(user, APPROVE):
        return _("Only an approver can approve or reject a campaign.")
    if campaign.created_by_id is not None and campaign.created_by_id == user.pk:
        return _("You cannot approve or reject your own campaign.")
    if campaign.status not in OPEN_STATES or campaign.approval_status != Approval.PENDING:
        return _("This campaign is not awaiting approval.")
    return None
