"""Shared fixtures: vendor accounts on the simulators, campaigns sent through them."""

import pytest

from messaging.models import Campaign, Recipient, RecipientList, Template, VendorAccount
from messaging.services import sending

SIM_SECRET = "sim-secret-1"
SIM_ACCOUNT_IDS = {"montnets": "E10ABC", "smscn": "demo", "smsadmin": "demo"}


@pytest.fixture
def sim_account(db, sim):
    """``make(vendor, **fields)``: a vendor account on the simulator (polling on, no pushes)."""

    def make(vendor="ashx5g", *, push_url="", **fields):
        account_id = SIM_ACCOUNT_IDS.get(vendor, "960001")
        defaults = {
            "name": f"{vendor} sim",
            "base_url": sim.url(vendor),
            "account_id": account_id,
            "secret": SIM_SECRET,
            "extension": "12",
            "signature": "【测试商城】",
            "polling_enabled": True,
            "poll_interval_s": 10,
        }
        defaults.update(fields)
        account = VendorAccount.objects.create(vendor=vendor, **defaults)
        sim.add_account(
            vendor=vendor,
            account_id=account_id,
            secret=SIM_SECRET,
            extension=defaults["extension"],
            push_url=push_url,
        )
        return account

    return make


@pytest.fixture
def make_campaign(db, administrator):
    """``make(account, phones, body=...)``: a draft campaign to ``phones`` through ``account``."""

    def make(account, phones, body="周末大促，全场五折", name="campaign", **template_fields):
        template = Template.objects.create(
            name=f"{name} template", body=body, created_by=administrator, **template_fields
        )
        recipients = RecipientList.objects.create(name=f"{name} list")
        Recipient.objects.bulk_create(
            Recipient(recipient_list=recipients, phone=phone) for phone in phones
        )
        return Campaign.objects.create(
            name=name,
            template=template,
            vendor_account=account,
            recipient_list=recipients,
            created_by=administrator,
        )

    return make


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
        campaign = make_campaign(account, [])
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
