"""Every demo account ``bin/run`` creates sends out of the box, through the simulators it
runs (registered from the database as ``manage.py run_simulators`` registers them)."""

import pytest
from django.core.management import call_command

from messaging.management.commands.run_simulators import register_accounts
from messaging.models import Campaign, VendorAccount
from messaging.services import sending
from messaging.statuses import Status
from messaging.vendors.registry import VENDOR_KEYS

pytestmark = [pytest.mark.django_db, pytest.mark.e2e]


def test_every_demo_account_sends_and_polls_what_cannot_be_pushed(sim, simulator_server):
    call_command("setup_demo", "--demo", "--simulator-url", simulator_server.base_url)
    assert register_accounts(simulator_server) == len(VENDOR_KEYS)
    campaign = Campaign.objects.get(name="演示活动")
    for account in VendorAccount.objects.all():
        Campaign.objects.filter(pk=campaign.pk).update(vendor_account=account)
        campaign.refresh_from_db()
        message = sending.send_test_message(campaign, "13911112222")
        assert message.status == Status.SUBMITTED, (account.vendor, message.error)
        can_push = "report" in account.client().capabilities.pushes
        assert account.polling_enabled or can_push, account.vendor
