import os
import signal
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import ADMINISTRATORS, ANALYSTS, APPROVERS, MARKETERS, sync_roles
from messaging.models import Campaign, Recipient, RecipientList, Template, VendorAccount
from messaging.vendors.simulator import SimulatorControl, SimulatorServer
from tests.harness.processes import ROOT, database_url

SECRET = "s3cret-Plaintext-Pa55"


def make_user(django_user_model, username, role):
    if not Group.objects.filter(name=role).exists():
        sync_roles()  # a transactional test flushed what the migration created
    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def administrator(django_user_model):
    return make_user(django_user_model, "alice-admin", ADMINISTRATORS)


@pytest.fixture
def marketer(django_user_model):
    return make_user(django_user_model, "mike-marketer", MARKETERS)


@pytest.fixture
def approver(django_user_model):
    return make_user(django_user_model, "anna-approver", APPROVERS)


@pytest.fixture
def analyst(django_user_model):
    return make_user(django_user_model, "ivy-analyst", ANALYSTS)


@pytest.fixture
def approver_client(approver):
    client = Client()
    client.force_login(approver)
    return client


@pytest.fixture
def analyst_client(analyst):
    client = Client()
    client.force_login(analyst)
    return client


@pytest.fixture
def admin_client(administrator):
    client = Client()
    client.force_login(administrator)
    return client


@pytest.fixture
def marketer_client(marketer):
    client = Client()
    client.force_login(marketer)
    return client


@pytest.fixture
def vendor_account(db):
    return VendorAccount.objects.create(
        vendor="ashx5g",
        name="Main ashx5g",
        base_url="http://127.0.0.1:9/ashx5g",
        account_id="960001",
        secret=SECRET,
        extension="1234",
        signature="【测试商城】",
    )


@pytest.fixture(scope="session")
def simulator_server():
    """All vendor simulators on one real HTTP port for the whole test session."""
    server = SimulatorServer(port=0, push_interval_s=0.05).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator_server):
    """The running simulator, reset for each test.  ``sim.url(key)`` is a vendor's base URL."""
    simulator_server.state.reset()
    simulator_server.state.report_delay_s = 0.0
    control = SimulatorControl(simulator_server.base_url)
    control.server = simulator_server
    control.state = simulator_server.state
    control.url = simulator_server.vendor_url
    return control


SIM_SECRET = "sim-secret-1"
SIM_ACCOUNT_IDS = {"montnets": "E10ABC", "smscn": "demo", "smsadmin": "demo"}
"""The account id of each vendor's simulator accounts (960001 for the others)."""


@pytest.fixture
def sim_account(db, sim):
    """``sim_account(vendor, push_url="", **fields)``: a ``VendorAccount`` of ``vendor`` on the
    running simulator, and the simulator's own record of it (pushing to ``push_url`` when
    given).  ``fields`` override the account's defaults (polling off, as for a new account:
    ``polling_enabled=True, poll_interval_s=10`` where a test polls through the schedule)."""

    def make(vendor: str = "ashx5g", *, push_url: str = "", **fields) -> VendorAccount:
        account_id = SIM_ACCOUNT_IDS.get(vendor, "960001")
        defaults = {
            "name": f"{vendor} sim",
            "base_url": sim.url(vendor),
            "account_id": account_id,
            "secret": SIM_SECRET,
            "extension": "12",
            "signature": "【测试商城】",
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


PERSONALISED = "<name>您好，积分<points>"
PLAIN = "周末大促，全场五折"


@pytest.fixture
def make_campaign(db, administrator):
    """``make_campaign(account, n=..., phones=..., body=..., name=..., created_by=...,
    **template_fields)``: a draft campaign through ``account``, made by ``created_by`` (the
    administrator unless given).

    Its recipients are either ``n`` personalised ones (phones ``13800000001`` ..., variables
    ``name`` and ``points``; the body defaults to a personalised text) or the bare ``phones``
    (the body defaults to a plain text).  ``make_campaign.again(campaign, name=..., phones=...)``
    is another campaign of the same template through the same account, to the same recipients
    (or to ``phones``)."""

    def make(
        account: VendorAccount,
        *,
        n: int | None = None,
        phones=(),
        body: str | None = None,
        name: str = "campaign",
        created_by=None,
        **template_fields,
    ) -> Campaign:
        assert not (n and phones), "either n personalised recipients or bare phones"
        created_by = created_by or administrator
        if n:
            rows = [
                (f"138{i:08d}", {"name": f"用户{i}", "points": str(i * 10)})
                for i in range(1, n + 1)
            ]
        else:
            rows = [(phone, {}) for phone in phones]
        if body is None:
            body = PERSONALISED if n else PLAIN
        template = Template.objects.create(
            name=f"{name} template", body=body, created_by=created_by, **template_fields
        )
        recipients = RecipientList.objects.create(name=f"{name} list")
        Recipient.objects.bulk_create(
            Recipient(recipient_list=recipients, phone=phone, variables=variables)
            for phone, variables in rows
        )
        return Campaign.objects.create(
            name=name,
            template=template,
            vendor_account=account,
            recipient_list=recipients,
            created_by=created_by,
        )

    def again(campaign: Campaign, *, name: str = "again", phones=None) -> Campaign:
        recipients = RecipientList.objects.create(name=f"{name} list")
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


SIMULATOR_FIXTURES = {"sim", "simulator_server", "hostile"}
"""Fixtures that put a vendor on a real HTTP port: the simulator, and the hostile stand-in
vendor of the security tests."""


def pytest_collection_modifyitems(items):
    """Every test that talks to the vendor simulator (or another stand-in vendor) over HTTP is
    ``e2e``, whatever its file says, so ``-m "not e2e and not browser"`` is the fast unit
    loop."""
    for item in items:
        if SIMULATOR_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def start_cluster(tmp_path):
    """Start ``manage.py qcluster`` in a process group of its own, with extra environment."""
    clusters = []

    def start(**extra_env):
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "Q_POLL": "0.1",
            "Q_WORKERS": "2",
            **extra_env,
        }
        log = tmp_path / f"qcluster-{len(clusters)}.log"
        with log.open("w") as output:
            cluster = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cluster.log = log
        clusters.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        if cluster.poll() is not None:
            continue
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=3)  # a graceful stop takes ~10 s; nothing here needs one
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
