"""Campaigns sent through the simulators (accounts and campaigns: ``sim_account`` and
``make_campaign`` of ``tests/conftest.py``)."""

import pytest

from messaging.models import Campaign
from messaging.services import sending


def send_campaign(campaign) -> Campaign:
    """Start the campaign and send every batch, as the task cluster would."""
    sending.start_campaign(campaign.pk)
    for batch_id in sending.pending_batches(campaign.pk):
        sending.send_batch(batch_id)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def submitted_campaign(make_campaign):
    """``make(account, count, prefix)``: a campaign of ``count`` submitted messages whose vendor
    ids are ``prefix0``, ``prefix1`` ... (1 to 3 parts each), counters up to date."""
    from messaging.models import Message
    from messaging.services.campaigns import refresh_counters
    from messaging.statuses import Status

    def make(account, count, prefix):
        campaign = make_campaign(account)
        Message.objects.bulk_create(
            Message(
                campaign=campaign,
                vendor_account=account,
                phone=f"139{i:08d}",
                content="x",
                segments=1 + i % 3,
                custom_id=f"our-{prefix}{i}",
                vendor_message_id=f"{prefix}{i}",
                status=Status.SUBMITTED,
            )
            for i in range(count)
        )
        refresh_counters([campaign.pk])
        return campaign

    return make
