"""Campaign commands are services the admin, the portal and the tasks share."""

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from messaging import tasks
from messaging.models import Campaign, DeliveryReport, Message
from messaging.services import campaign_commands, lifecycle, sending
from messaging.services.reports import apply_status_events
from messaging.statuses import Status
from messaging.vendors.base import StatusEvent

pytestmark = pytest.mark.django_db


def schedule_of(campaign) -> Schedule:
    return Schedule.objects.get(name=f"{campaign_commands.SCHEDULE_PREFIX}{campaign.pk}")


def test_confirming_a_future_campaign_schedules_it_and_keeps_the_choice(make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    campaign.scheduled_at = timezone.now() + timedelta(hours=2)
    campaign.save()
    assert campaign_commands.confirm(campaign, exclude_missing=False) == "scheduled"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.SCHEDULED and campaign.exclude_missing is False
    assert schedule_of(campaign).next_run == campaign.scheduled_at


def test_rescheduling_in_the_admin_moves_the_task_schedule(
    make_campaign, sim_account, admin_client
):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    campaign.scheduled_at = timezone.now() + timedelta(hours=2)
    campaign.save()
    campaign_commands.confirm(campaign, exclude_missing=True)
    later = timezone.localtime(timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    url = reverse("admin:messaging_campaign_change", args=[campaign.pk])
    form = {
        "name": campaign.name,
        "template": campaign.template_id,
        "vendor_account": campaign.vendor_account_id,
        "recipient_list": campaign.recipient_list_id,
        "scheduled_at_0": later.strftime("%Y-%m-%d"),
        "scheduled_at_1": later.strftime("%H:%M:%S"),
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert campaign.scheduled_at == later
    assert campaign.status == Campaign.State.SCHEDULED
    assert schedule_of(campaign).next_run == later


def test_a_scheduled_start_keeps_the_marketers_choice_about_missing_values(
    make_campaign, sim_account
):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    campaign.recipient_list.recipients.filter(phone="13800000002").update(variables={"name": "x"})
    campaign_commands.schedule(campaign, timezone.now() + timedelta(hours=1), exclude_missing=False)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    with mock.patch.object(tasks, "enqueue_batches"):
        result = tasks.start_scheduled_campaign(campaign.pk)
    assert result.startswith("not started")
    campaign.refresh_from_db()
    # "stop" was chosen: the start refuses, naming the recipient, and nothing was created.
    assert campaign.status == Campaign.State.FAILED and "13800000002" in campaign.status_reason
    assert not Message.objects.filter(campaign=campaign).exists()


def test_cancelling_a_scheduled_campaign_drops_its_schedule(make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    campaign_commands.schedule(campaign, timezone.now() + timedelta(hours=1), exclude_missing=True)
    campaign_commands.cancel(campaign.pk, "changed my mind")
    assert not Schedule.objects.filter(name__startswith=campaign_commands.SCHEDULE_PREFIX).exists()


def test_an_early_report_left_unmatched_is_matched_by_the_sweep(sim, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    (batch_id,) = sending.start_campaign(campaign.pk).batches
    message = Message.objects.get(campaign=campaign)
    account = campaign.vendor_account
    # The report comes while the message's request is still out and another message to the
    # same phone is open: it cannot be matched yet.
    other = make_campaign.again(campaign, name="other")
    sending.start_campaign(other.pk)
    Message.objects.filter(pk__in=[message.pk]).update(
        status=Status.SUBMITTING, submitted_at=timezone.now()
    )
    Message.objects.filter(campaign=other).update(
        status=Status.UNKNOWN, submitted_at=timezone.now()
    )
    event = StatusEvent("v-early", Status.DELIVERED, "DELIVRD", phone=message.phone, raw="r")
    assert apply_status_events(account, [event], "push").matched == 0
    # Its answer is recorded by a worker that dies before matching waiting reports.
    lifecycle.record_submitted([(message.pk, "v-early", "")])
    assert DeliveryReport.objects.get().message_id is None
    assert sending.recover().matched_reports == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert batch_id
