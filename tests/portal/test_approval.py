"""Approval by a second person: a campaign over the threshold is submitted by its author,
approved or rejected by an approver who is not the author on the review page, and only then
starts or takes its schedule; a change of its message, list or account voids the approval."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import AuditEvent
from messaging.models import Campaign, PortalSettings
from messaging.services import approval, campaign_commands

pytestmark = pytest.mark.django_db

Action = AuditEvent.Action
Approval = Campaign.Approval


def require_approval(*, min_recipients=0, min_cost=None):
    settings = PortalSettings.load()
    settings.approval_required = True
    settings.approval_min_recipients = min_recipients
    settings.approval_min_cost = min_cost
    settings.save()


def english(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(user)
    return client


def confirm(client, campaign):
    return client.post(
        reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1", "missing": "exclude"}
    )


def submit(client, campaign):
    return client.post(reverse("portal:submit", args=[campaign.pk]))


def decide(client, campaign, decision, comment="", fingerprint=None):
    data = {"decision": decision, "comment": comment}
    if fingerprint is not None:
        data["fingerprint"] = fingerprint
    return client.post(reverse("portal:approval_decide", args=[campaign.pk]), data)


def events(action, campaign=None):
    rows = AuditEvent.objects.filter(action=action)
    if campaign is not None:
        rows = rows.filter(object_type="messaging.campaign", object_id=str(campaign.pk))
    return list(rows)


def test_a_second_person_approves_before_the_send(draft, marketer, approver):
    require_approval()
    campaign = draft()
    author, reviewer = english(marketer), english(approver)

    # Not approved: the confirmation page says so and offers to submit, not to send.
    page = author.get(reverse("portal:confirm", args=[campaign.pk]))
    html = page.content.decode()
    assert "needs approval" in html and 'id="submit-button"' in html
    assert 'id="confirm-button"' not in html
    response = confirm(author, campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    assert not events(Action.SENT)

    assert submit(author, campaign).status_code == 302
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.PENDING
    assert [e.actor for e in events(Action.SUBMITTED, campaign)] == [marketer]
    assert list(approval.awaiting()) == [campaign]

    # The author has no approver's role: refused.
    assert decide(author, campaign, "approve").status_code == 403
    # Still pending, still no send.
    response = confirm(author, campaign)
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.PENDING and campaign.status == "draft"

    # The approver sees the queue and the review: the message, counts, cost, the list.
    queue = reviewer.get(reverse("portal:approvals"))
    assert campaign.name in queue.content.decode()
    review = reviewer.get(reverse("portal:approval_review", args=[campaign.pk]))
    html = review.content.decode()
    assert review.status_code == 200
    assert "用户1您好，积分10" in html  # the rendered first message
    assert campaign.recipient_list.name in html and "4 recipients" in html
    assert 'data-figure="cost"' in html and 'data-check="ok"' in html
    assert 'id="approve-button"' in html
    fingerprint = review.context["fingerprint"]

    response = decide(reviewer, campaign, "approve", "看过了，可以发", fingerprint)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.APPROVED
    assert campaign.approved_by == approver and campaign.approval_comment == "看过了，可以发"
    assert [e.actor for e in events(Action.APPROVED, campaign)] == [approver]
    assert list(approval.awaiting()) == []

    # Now the author sends it.
    response = confirm(author, campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING
    assert [e.actor for e in events(Action.SENT, campaign)] == [marketer]


def test_the_author_cannot_approve_their_own(draft, approver, marketer):
    require_approval()
    campaign = draft()
    # An approver who wrote it (say, before their role changed) is its author all the same.
    Campaign.objects.filter(pk=campaign.pk).update(created_by=approver)
    campaign.refresh_from_db()
    campaign_commands.submit(campaign, user=marketer)
    client = english(approver)
    page = client.get(reverse("portal:approval_review", args=[campaign.pk]))
    assert "You cannot approve or reject your own campaign." in page.content.decode()
    assert 'id="approve-button"' not in page.content.decode()
    decide(client, campaign, "approve")
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.PENDING
    assert not events(Action.APPROVED)


def test_rejected_with_a_comment_then_resubmitted(draft, marketer, approver):
    require_approval()
    campaign = draft()
    author, reviewer = english(marketer), english(approver)
    submit(author, campaign)
    # A rejection says why.
    decide(reviewer, campaign, "reject", "")
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.PENDING
    decide(reviewer, campaign, "reject", "退订说明缺失")
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.REJECTED
    assert [e.details["comment"] for e in events(Action.REJECTED, campaign)] == ["退订说明缺失"]

    page = author.get(reverse("portal:confirm", args=[campaign.pk]))
    assert "退订说明缺失" in page.content.decode()
    confirm(author, campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT

    submit(author, campaign)
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.PENDING and campaign.approved_by is None


def test_a_change_while_reviewing_is_not_approved_unseen(draft, marketer, approver):
    require_approval()
    campaign = draft()
    campaign_commands.submit(campaign, user=marketer)
    seen = approval.fingerprint(campaign)
    campaign.template.body = "<name>您好，积分翻倍"
    campaign.template.save()
    response = decide(english(approver), campaign, "approve", "", seen)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.PENDING


def test_below_the_threshold_a_marketer_sends_without_approval(draft, marketer):
    require_approval(min_recipients=100)  # the list has 4
    campaign = draft()
    assert approval.blocking_reason(campaign) is None
    confirm(english(marketer), campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING


def test_the_cost_threshold_alone_requires_approval(draft, marketer):
    require_approval(min_recipients=100, min_cost=Decimal("0.01"))
    campaign = draft(price_per_part="0.05")
    assert approval.required(campaign)
    confirm(english(marketer), campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT


def test_no_approval_needed_when_the_setting_is_off(draft, marketer):
    campaign = draft()
    assert not approval.required(campaign)
    confirm(english(marketer), campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING


def approved(campaign, marketer, approver):
    campaign_commands.submit(campaign, user=marketer)
    campaign_commands.approve(campaign, user=approver, comment="ok")
    campaign.refresh_from_db()
    assert approval.holds(campaign)
    return campaign


def test_editing_the_message_in_the_composer_voids_the_approval(draft, marketer, approver):
    require_approval()
    campaign = approved(draft(), marketer, approver)
    client = english(marketer)
    form = client.get(reverse("portal:compose_edit", args=[campaign.pk])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        name=campaign.name,
        recipient_list=campaign.recipient_list_id,
        vendor_account=campaign.vendor_account_id,
        body="<name>您好，今天全场一折",
        kind="sms",
        signature=campaign.template.signature,
    )
    data.pop("template", None)
    response = client.post(reverse("portal:compose_edit", args=[campaign.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.NONE
    assert len(events(Action.APPROVAL_VOIDED, campaign)) == 1
    assert events(Action.COMPOSED, campaign)
    confirm(client, campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT


def test_changing_the_list_in_the_admin_voids_the_approval(
    draft, marketer, approver, admin_client, make_campaign, vendor_account
):
    require_approval()
    campaign = approved(draft(), marketer, approver)
    other_list = make_campaign(vendor_account, n=2, name="other").recipient_list
    campaign_commands.void_if_changed(campaign)  # nothing changed: it holds
    assert campaign.approval_status == Approval.APPROVED
    url = reverse("admin:messaging_campaign_change", args=[campaign.pk])
    data = {
        "name": campaign.name,
        "template": campaign.template_id,
        "vendor_account": campaign.vendor_account_id,
        "recipient_list": other_list.pk,
        "scheduled_at_0": "",
        "scheduled_at_1": "",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert campaign.recipient_list_id == other_list.pk
    assert campaign.approval_status == Approval.NONE
    assert events(Action.APPROVAL_VOIDED, campaign)


def test_a_scheduled_campaign_does_not_start_unapproved(draft, marketer, approver):
    require_approval()
    campaign = approved(draft(), marketer, approver)
    campaign.scheduled_at = timezone.now() + timedelta(hours=1)
    campaign.save(update_fields=["scheduled_at"])
    assert campaign_commands.confirm(campaign, exclude_missing=True) == "scheduled"
    assert events(Action.SCHEDULED, campaign)

    # Its library template is edited afterwards (in the admin, say): the approval no longer
    # holds, and when the time comes the campaign goes back to draft instead of starting.
    campaign.template.body = "<name>您好，积分清零"
    campaign.template.save()
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    with translation.override("en"):  # the reason is written in the active language
        assert campaign_commands.start_if_due(campaign.pk) is False
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    assert "approv" in campaign.status_reason
    assert not events(Action.SENT)


def test_the_dispatcher_starts_no_unapproved_scheduled_campaign(draft):
    campaign = draft()
    campaign.scheduled_at = timezone.now() + timedelta(hours=1)
    campaign.save(update_fields=["scheduled_at"])
    campaign_commands.confirm(campaign, exclude_missing=True)  # no approval needed yet
    require_approval()  # then the administrators require it
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    assert campaign_commands.due_scheduled() == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT


def test_approving_an_edited_scheduled_campaign_in_the_admin_unschedules_it(
    draft, marketer, approver, admin_client
):
    require_approval()
    campaign = approved(draft(), marketer, approver)
    campaign.scheduled_at = timezone.now() + timedelta(hours=1)
    campaign.save(update_fields=["scheduled_at"])
    campaign_commands.confirm(campaign, exclude_missing=True)
    url = reverse("admin:messaging_template_change", args=[campaign.template_id])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "created_by"}
    data.update(body="<name>改了", name=campaign.template.name)
    for prefix in ("files", "registrations"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert campaign.approval_status == Approval.NONE
    assert campaign.status == Campaign.State.DRAFT
    assert events(Action.TEMPLATE_CHANGED) and events(Action.APPROVAL_VOIDED, campaign)


def test_the_admin_send_page_holds_it_too(draft, marketer, approver):
    require_approval()
    campaign = draft()
    client = english(marketer)
    url = reverse("admin:messaging_campaign_send", args=[campaign.pk])
    page = client.get(url).content.decode()
    assert 'id="approval-needed"' in page and 'name="confirm"' not in page
    client.post(url, {"confirm": "1", "missing": "exclude"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    approved(campaign, marketer, approver)
    english(approver).post(url, {"confirm": "1", "missing": "exclude"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING
