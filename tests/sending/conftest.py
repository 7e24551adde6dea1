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

    return make
