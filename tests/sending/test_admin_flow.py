"""A marketer previews, sends, pauses and test-sends a campaign from the admin, with the task
queue running the real tasks (django-q2 in sync mode) against the simulator."""

import pytest
from django.urls import reverse
from django_q.conf import Conf

from messaging.models import Campaign, Message
from messaging.statuses import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_tasks(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


def test_preview_shows_counts_samples_and_segments(marketer_client, make_campaign, sim_account):
    campaign = make_campaign(sim_account("ashx5g"), n=3)
    page = marketer_client.get(reverse("admin:messaging_campaign_send", args=[campaign.pk]))
    assert page.status_code == 200
    preview = page.context["preview"]
    assert preview.sendable == 3 and preview.total_segments == 3
    assert "【测试商城】用户1您好，积分10回T退订" in page.content.decode()


def test_confirm_sends_through_the_task_queue(
    marketer_client, make_campaign, sim_account, sim, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = make_campaign(sim_account("actiongw"), n=4)
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("admin:messaging_campaign_send", args=[campaign.pk]), {"confirm": "1"}
        )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED, campaign.status_reason
    assert len(sim.accepted(vendor="actiongw")) == 4
    page = marketer_client.get(reverse("admin:messaging_campaign_change", args=[campaign.pk]))
    assert "<progress" in page.content.decode()


def test_refused_start_shows_the_reason(
    marketer_client, make_campaign, sim_account, sync_tasks, django_capture_on_commit_callbacks
):
    campaign = make_campaign(sim_account("ashx5g"), n=1)
    account = campaign.vendor_account
    account.opt_out_suffix = ""
    account.save()
    page = marketer_client.get(reverse("admin:messaging_campaign_send", args=[campaign.pk]))
    assert page.context["preview"].errors
    assert 'name="confirm"' not in page.content.decode()


def test_test_send_and_pause_buttons(marketer_client, make_campaign, sim_account, sim):
    campaign = make_campaign(sim_account("ashx5g"), n=2)
    url = reverse("admin:messaging_campaign_test_send", args=[campaign.pk])
    response = marketer_client.post(url, {"phone": "13912345678"}, follow=True)
    assert any("13912345678" in str(m) for m in response.context["messages"])
    assert Message.objects.get(campaign=None).status == Status.SUBMITTED
    response = marketer_client.post(
        reverse("admin:messaging_campaign_pause", args=[campaign.pk]), follow=True
    )
    assert any(m.level_tag == "error" for m in response.context["messages"])  # not sending
