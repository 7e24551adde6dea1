import pytest

from messaging.models import Campaign, Recipient, RecipientList, Template, VendorAccount

SECRET = "sim-secret-1"


@pytest.fixture
def make_campaign(db, sim, administrator):
    """A campaign on a simulator account of the given vendor, with ``n`` recipients."""

    def make(vendor="ashx5g", n=5, body="<name>您好，积分<points>", **account_fields):
        account_id = {"montnets": "E10ABC", "smscn": "demo"}.get(vendor, "960001")
        account = VendorAccount.objects.create(
            vendor=vendor,
            name=f"{vendor} sim",
            base_url=sim.url(vendor),
            account_id=account_id,
            secret=SECRET,
            extension="12",
            signature="【测试商城】",
            **account_fields,
        )
        sim.add_account(vendor=vendor, account_id=account_id, secret=SECRET, extension="12")
        template = Template.objects.create(name="t", body=body, created_by=administrator)
        recipients = RecipientList.objects.create(name="list")
        Recipient.objects.bulk_create(
            Recipient(
                recipient_list=recipients,
                phone=f"138{i:08d}",
                variables={"name": f"用户{i}", "points": str(i * 10)},
            )
            for i in range(1, n + 1)
        )
        return Campaign.objects.create(
            name=f"{vendor} campaign",
            template=template,
            vendor_account=account,
            recipient_list=recipients,
            created_by=administrator,
        )

    def again(campaign, name="again", phones=None):
        """Another campaign of the same template on the same account, to the same phones
        (or to ``phones``)."""
        recipients = RecipientList.objects.create(name=f"list {name}")
        if phones is None:
            rows = [
                Recipient(recipient_list=recipients, phone=r.phone, variables=r.variables)
                for r in campaign.recipient_list.recipients.order_by("pk")
            ]
        else:
            rows = [
                Recipient(
                    recipient_list=recipients, phone=p, variables={"name": "新", "points": "1"}
                )
                for p in phones
            ]
        Recipient.objects.bulk_create(rows)
        return Campaign.objects.create(
            name=name,
            template=campaign.template,
            vendor_account=campaign.vendor_account,
            recipient_list=recipients,
            created_by=campaign.created_by,
        )

    make.again = again
    return make
