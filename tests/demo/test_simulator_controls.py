"""The simulator's demo controls (what its page asks for, over its control API)."""

import pytest
import requests

from messaging.demo.forms import FAULT_LABELS
from messaging.vendors.base import RateLimited
from messaging.vendors.simulator import FAULT_MODES, SimulatorRefused

pytestmark = pytest.mark.django_db


def test_montnets_registers_only_userids_the_document_allows(sim):
    # 2.1.3: "up to 6 characters in length, in uppercase"; the client upper-cases the id.
    for refused in ("demo-montnets", "demo01", "ABCDEFG", "测试"):
        with pytest.raises(requests.HTTPError):
            sim.add_account(vendor="montnets", account_id=refused, secret="s")
    sim.add_account(vendor="montnets", account_id="DEMO01", secret="s")
    assert sim.state.account("montnets", "DEMO01")


def test_the_last_requests_are_kept_without_their_credentials(sim, sim_account):
    account = sim_account("smscn")
    account.client().balance()
    sim.set_fault("smscn", "rate_limit")
    with pytest.raises(RateLimited):
        account.client().balance()
    overview = sim.overview()
    last, before = overview["requests"][:2]
    assert (last["vendor"], last["fault"]) == ("smscn", "rate_limit")
    assert (before["vendor"], before["fault"], before["status"]) == ("smscn", "", 200)
    assert "?" not in last["path"] and account.secret not in str(overview)
    assert overview["faults"]["smscn"] == "rate_limit"
    sim.set_fault("smscn", "normal")
    assert sim.overview()["faults"]["smscn"] == "normal"
    account.client().balance()


def test_a_reply_goes_to_the_accounts_sender_number(sim, sim_account):
    sim_account("actiongw", extension="66")
    sim.reply(vendor="actiongw", account_id="960001", phone="13800000001", content="好")
    (reply,) = sim.state.take_replies("actiongw", "960001", 10)
    assert (reply.phone, reply.content, reply.extension) == ("13800000001", "好", "66")


@pytest.mark.parametrize(
    ("vendor", "account_id", "phone", "reason"),
    [
        ("montnets", "E10ABC", "13800000001", "no reply"),
        ("actiongw", "nobody", "13800000001", "no actiongw account"),
        ("actiongw", "960001", "1380000000x", "digits"),
    ],
)
def test_a_reply_the_simulator_cannot_make_is_refused_with_its_reason(
    sim, sim_account, vendor, account_id, phone, reason
):
    sim_account("montnets")
    sim_account("actiongw")
    with pytest.raises(SimulatorRefused, match=reason):
        sim.reply(vendor=vendor, account_id=account_id, phone=phone, content="hi")


def test_unknown_faults_and_templates_are_refused(sim):
    with pytest.raises(SimulatorRefused, match="unknown fault mode"):
        sim.set_fault("smscn", "explode")
    with pytest.raises(SimulatorRefused, match="awaits review"):
        sim.review("ashx5g", "404", approved=True)


def test_the_page_names_every_fault_mode_the_simulator_has(sim):
    assert sim.overview()["fault_modes"] == list(FAULT_MODES)
    assert set(FAULT_LABELS) == set(FAULT_MODES)
