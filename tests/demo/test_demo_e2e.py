"""The demo ``bin/run`` sets up, end to end: ``setup_demo --demo`` on a fresh database, the
simulators with the accounts registered as ``run_simulators`` registers them, a task cluster,
and the live portal receiving the vendors' pushes.  Every demo account sends, gets its
delivery reports and (where its vendor has replies at all) a reply injected on the simulator
page; the page's other controls (an opt-out, a fault, a template review) do what they say."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.roles import MARKETERS, sync_roles
from messaging.management.commands.run_simulators import register_accounts
from messaging.models import (
    Campaign,
    InboundMessage,
    Message,
    RecipientList,
    Suppression,
    Template,
    TemplateFile,
    TemplateRegistration,
    VendorAccount,
)
from messaging.services import campaign_commands, sending
from messaging.services.templates import submit_for_review
from messaging.statuses import Status
from messaging.vendors.registry import VENDOR_KEYS
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def poll_due() -> None:
    """What the cluster's minutely poll schedule runs (here at once, not a minute later)."""
    call_command("poll_vendors", stdout=io.StringIO())


@pytest.fixture
def demo(live_server, sim, settings, tmp_path):
    """The demo as bin/run makes it, its vendors pushing to the live portal; a client logged
    in as the demo's marketer."""
    settings.PORTAL_BASE_URL = live_server.url
    settings.SIMULATOR_URL = sim.server.base_url
    settings.DEMO_MODE = True
    settings.MEDIA_ROOT = tmp_path
    sim.state.outcome_weights = {"delivered": 1.0}
    if not Group.objects.filter(name=MARKETERS).exists():
        sync_roles()  # what the migration made, flushed by an earlier transactional test
    call_command(
        "setup_demo", "--demo", "--simulator-url", sim.server.base_url, stdout=io.StringIO()
    )
    assert register_accounts(sim.server) == len(VENDOR_KEYS)
    client = Client()
    client.force_login(get_user_model().objects.get(username="marketer"))
    return client


def reply_through_the_page(client, account, phone, content):
    response = client.post(
        reverse("demo:reply"),
        {"account": account.pk, "phone": phone, "content": content},
        follow=True,
    )
    assert response.status_code == 200
    assert b'class="notice success"' in response.content, response.content.decode()


def test_every_demo_account_sends_reports_and_replies(demo, live_server, start_cluster):
    cluster = start_cluster(PORTAL_BASE_URL=live_server.url)
    template = Template.objects.get(name="会员积分提醒")
    recipients = RecipientList.objects.get(name="演示名单")
    size = recipients.recipients.count()
    campaigns = {}
    for account in VendorAccount.objects.order_by("pk"):
        campaigns[account.vendor] = Campaign.objects.create(
            name=f"demo {account.vendor}",
            template=template,
            vendor_account=account,
            recipient_list=recipients,
            created_by=template.created_by,
        )
        campaign_commands.request_start(campaigns[account.vendor].pk, exclude_missing=True)

    def all_delivered():
        assert cluster.poll() is None, cluster.log.read_text()
        poll_due()
        delivered = {
            vendor: Message.objects.filter(campaign=c, status=Status.DELIVERED).count()
            for vendor, c in campaigns.items()
        }
        return delivered if set(delivered.values()) == {size} else None

    assert eventually(all_delivered, timeout=120, interval=1), {
        vendor: sorted(Message.objects.filter(campaign=c).values_list("status", flat=True))
        for vendor, c in campaigns.items()
    }

    page = demo.get(reverse("demo:simulator")).content.decode()
    phone = recipients.recipients.order_by("pk").first().phone
    replying = {}
    for vendor, campaign in campaigns.items():
        account = campaign.vendor_account
        if account.client().capabilities.poll_mo or "mo" in account.client().capabilities.pushes:
            reply_through_the_page(demo, account, phone, f"收到 {vendor}")
            replying[vendor] = campaign
        else:
            # Montnets' document has no reply interface: the page says so, offers no reply.
            assert f'<option value="{account.pk}"' not in page
            assert account.name in page
    assert set(replying) == set(VENDOR_KEYS) - {"montnets"}

    def all_replied():
        poll_due()
        return all(
            InboundMessage.objects.filter(
                vendor_account=c.vendor_account, content=f"收到 {vendor}", campaign=c
            ).exists()
            for vendor, c in replying.items()
        )

    assert eventually(all_replied, timeout=60, interval=1), list(
        InboundMessage.objects.values_list("vendor_account__vendor", "content", "campaign_id")
    )


def test_an_opt_out_a_fault_and_a_template_review_from_the_page(demo, sim):
    five_g = VendorAccount.objects.get(vendor="ashx5g")

    # An opt-out: the phone replies T, the portal suppresses it.
    reply_through_the_page(demo, five_g, "13800000002", "T")
    assert eventually(lambda: Suppression.objects.filter(phone="13800000002").exists(), 10)
    assert InboundMessage.objects.get(phone="13800000002").is_opt_out

    # A fault: the vendor refuses the credentials until set back to normal; the page shows
    # the request and the fault it met.
    response = demo.post(reverse("demo:fault"), {"vendor": "smscn", "mode": "auth_error"})
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="演示活动")
    Campaign.objects.filter(pk=campaign.pk).update(
        vendor_account=VendorAccount.objects.get(vendor="smscn")
    )
    campaign.refresh_from_db()
    refused = sending.send_test_message(campaign, "13911112222")
    assert refused.status != Status.SUBMITTED
    page = demo.get(reverse("demo:simulator")).content.decode()
    assert "auth_error" in page and "/mt/" in page
    assert "sim-secret" not in page and "demo-secret" not in page  # no credential shown
    demo.post(reverse("demo:fault"), {"vendor": "smscn", "mode": "normal"})
    assert sending.send_test_message(campaign, "13911112222").status == Status.SUBMITTED

    # A template review: an MMS template submitted for review shows on the page; approving
    # it there makes the vendor push its verdict to the portal.
    template = Template.objects.create(
        name="新品视频", body="新品上市", kind=Template.Kind.MMS, created_by=campaign.created_by
    )
    TemplateFile.objects.create(
        template=template,
        frame=1,
        order=1,
        content_type="image/png",
        file=SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
    )
    registration = submit_for_review(template, five_g)
    page = demo.get(reverse("demo:simulator")).content.decode()
    assert f'data-template="{registration.vendor_template_id}"' in page
    response = demo.post(
        reverse("demo:review"),
        {"vendor": "ashx5g", "template": registration.vendor_template_id, "decision": "approve"},
        follow=True,
    )
    assert b'class="notice success"' in response.content, response.content.decode()
    registration.refresh_from_db()
    assert registration.review_status == TemplateRegistration.Review.APPROVED
    page = demo.get(reverse("demo:simulator")).content.decode()
    assert f'data-template="{registration.vendor_template_id}"' not in page


def test_bad_input_on_the_page_is_an_error_there_and_asks_nothing(demo, sim):
    five_g = VendorAccount.objects.get(vendor="ashx5g")
    response = demo.post(
        reverse("demo:reply"),
        {"account": five_g.pk, "phone": "12ab", "content": "hi"},
        follow=True,
    )
    assert response.status_code == 200
    assert b'class="notice error"' in response.content
    response = demo.post(reverse("demo:fault"), {"vendor": "smscn", "mode": "explode"}, follow=True)
    assert b'class="notice error"' in response.content
    assert not any(sim.state.replies.values())
    assert not sim.state.behaviour
