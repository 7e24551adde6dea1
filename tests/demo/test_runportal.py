"""``bin/run``'s demo data and last words: the logins and the addresses, in a box."""

import io

import pytest
from django.core.management import call_command

from messaging.management.commands.runportal import demo_box, display_width
from messaging.management.commands.setup_demo import Command as SetupDemo
from messaging.models import VendorAccount

pytestmark = pytest.mark.django_db


def run_setup_demo() -> list[dict]:
    setup = SetupDemo(stdout=io.StringIO())
    call_command(setup, demo=True, simulator_url="http://127.0.0.1:8025")
    return setup.logins


def test_the_box_shows_the_logins_and_every_address(monkeypatch):
    monkeypatch.setenv("PORTAL_MARKETER_PASSWORD", "Marketer-pw-1")
    monkeypatch.delenv("PORTAL_ADMIN_PASSWORD", raising=False)
    text = demo_box("http://127.0.0.1:8000", "http://127.0.0.1:8025", run_setup_demo())
    lines = text.splitlines()
    assert lines[0].startswith("┌") and lines[-1].startswith("└")
    assert len({display_width(line) for line in lines}) == 1  # a closed box
    portal, admin, page = (
        next(line for line in lines if url in line)
        for url in ("/portal/", "/admin/", "/demo/simulator/")
    )
    assert "marketer / Marketer-pw-1" in portal
    assert "admin / " in admin and "(unchanged" not in admin  # a new admin: its new password
    assert "http://127.0.0.1:8000/demo/simulator/" in page
    assert "http://127.0.0.1:8025/" in text

    # Run again (bin/run a second time): the admin's password is not changed, nor shown.
    monkeypatch.delenv("PORTAL_MARKETER_PASSWORD")
    text = demo_box("http://127.0.0.1:8000", "http://127.0.0.1:8025", run_setup_demo())
    assert "admin / (unchanged; PORTAL_ADMIN_PASSWORD sets it)" in text


def test_setup_demo_repairs_the_demo_accounts_an_earlier_version_broke():
    run_setup_demo()
    VendorAccount.objects.filter(vendor="montnets").update(account_id="demo-montnets")
    VendorAccount.objects.filter(vendor="smscn").update(polling_enabled=False)
    VendorAccount.objects.filter(vendor="ashx5g").update(account_id="960777")
    run_setup_demo()
    assert VendorAccount.objects.get(vendor="montnets").account_id == "DEMO01"
    assert VendorAccount.objects.get(vendor="smscn").polling_enabled
    assert VendorAccount.objects.get(vendor="ashx5g").account_id == "960777"  # not ours to undo
