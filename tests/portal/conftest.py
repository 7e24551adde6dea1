import pytest
from django.test import Client
from django_q.conf import Conf

from messaging.models import (
    Campaign,
    Recipient,
    RecipientList,
    Template,
)


@pytest.fixture
def recipient_list(db):
    recipients = RecipientList.objects.create(name="会员名单", columns=["name", "points"])
    Recipient.objects.bulk_create(
        Recipient(
            recipient_list=recipients,
            phone=f"138{i:08d}",
            variables={"name": f"用户{i}", "points": str(i * 10)},
            source_row=i + 1,
        )
        for i in range(1, 5)
    )
    return recipients


@pytest.fixture
def draft(db, sim_account, recipient_list, marketer):
    """A draft campaign of 4 personalised messages on an ashx5g simulator account."""

    def make(vendor="ashx5g", body="<name>您好，积分<points>", **account_fields):
        account = sim_account(vendor, **account_fields)
        template = Template.objects.create(name="积分", body=body, created_by=marketer)
        return Campaign.objects.create(
            name="积分提醒",
            template=template,
            vendor_account=account,
            recipient_list=recipient_list,
            created_by=marketer,
        )

    return make


@pytest.fixture
def sync_tasks(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def english_client(marketer):
    client = Client(headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(marketer)
    return client
