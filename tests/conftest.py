import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import ADMINISTRATORS, MARKETERS, sync_roles
from messaging.models import VendorAccount
from messaging.vendors.simulator import SimulatorControl, SimulatorServer

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


SIMULATOR_FIXTURES = {"sim", "simulator_server"}


def pytest_collection_modifyitems(items):
    """Every test that talks to the vendor simulator over HTTP is ``e2e``, whatever its file
    says, so ``-m "not e2e and not browser"`` is the fast unit loop."""
    for item in items:
        if SIMULATOR_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
