"""Reasons a worker stores are read later in either language (``services.wording``): stored in
both, shown in the reader's only; the vendor's words and what a user typed read the same in
both."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from messaging import tasks
from messaging.models import Campaign, Message
from messaging.services import campaign_commands, reports, sending, suppressions, wording
from messaging.statuses import Status


def in_chinese(text) -> str:
    with translation.override("zh-hans"):
        return str(text)


# --------------------------------------------------------------------------- the rule


def test_both_languages_stored_one_shown():
    stored = wording.both(gettext_lazy("Frequency cap"))
    assert stored == f"{in_chinese(gettext_lazy('Frequency cap'))}\nFrequency cap"
    assert "Frequency cap" not in wording.shown(stored, "zh-hans")
    assert wording.shown(stored, "en") == "Frequency cap"
    with translation.override("en-us"):
        assert wording.shown(stored) == "Frequency cap"
    with translation.override(None):  # deactivated: gettext's English, and ours
        assert wording.shown(stored) == "Frequency cap"


def test_a_reports_meaning_is_chosen_by_the_same_rule():
    """The vendor's words with our English gloss: English where ``shown`` gives English
    (translation deactivated included), the status's name in Chinese."""
    stored = wording.join("用户不存在", "The number does not exist")
    assert reports.status_meaning(stored, Status.FAILED, "en") == "The number does not exist"
    with translation.override(None):
        assert wording.reads_english()
        assert reports.status_meaning(stored, Status.FAILED) == "The number does not exist"
    with translation.override("zh-hans"):
        assert not wording.reads_english()
        assert reports.status_meaning(stored, Status.FAILED) == str(Status.FAILED.label)


def test_a_text_of_one_language_reads_the_same_in_both():
    assert wording.shown("余额不足 [102]", "en") == wording.shown("余额不足 [102]", "zh-hans")
    assert wording.both(lambda: "HTTP 503") == "HTTP 503"  # nothing of ours to translate
    assert wording.join("a", "a") == "a" and wording.split("a") == ("a", "a")
    assert wording.shown("", "en") == ""


def test_a_stored_text_inside_another_is_taken_in_each_language():
    inner = wording.both(gettext_lazy("Outside the send window"))
    outer = wording.both(
        lambda: translation.gettext("Paused: %(reason)s") % {"reason": wording.shown(inner)}
    )
    assert wording.shown(outer, "en") == "Paused: Outside the send window"
    assert wording.shown(outer, "zh-hans") == in_chinese(
        translation.gettext_lazy("Paused: %(reason)s")
    ) % {"reason": wording.shown(inner, "zh-hans")}


def test_a_line_break_inside_a_text_does_not_split_it():
    stored = wording.join("第一行\n第二行", "first line\nsecond line")
    assert wording.shown(stored, "en") == "first line second line"
    assert wording.shown(stored, "zh-hans") == "第一行 第二行"
    assert wording.join("\xa0", "\xa0") == "\xa0"  # the character itself may be the reason


def test_a_hole_is_filled_in_both_languages():
    stored = wording.both(
        lambda: translation.gettext("Missing values: %(names)s") % {"names": wording.HOLE}
    ).replace(wording.HOLE, "points")
    assert wording.shown(stored, "en") == "Missing values: points"
    assert "points" in wording.shown(stored, "zh-hans")
    assert wording.HOLE not in stored


# --------------------------------------------------------------------------- where it is used


@pytest.mark.django_db
def test_skip_reasons_are_stored_in_both_languages(make_campaign, vendor_account):
    campaign = make_campaign(vendor_account, n=3)
    first = campaign.recipient_list.recipients.order_by("pk")
    suppressions.add(first[0].phone, note="asked")
    third = first[2]
    third.variables = {"name": "王五"}  # no points
    third.save()
    with translation.override("zh-hans"):  # a worker's language
        sending.start_campaign(campaign.pk, exclude_missing=True)
    skipped = dict(
        Message.objects.filter(campaign=campaign, status=Status.SKIPPED).values_list(
            "phone", "error"
        )
    )
    assert wording.shown(skipped[first[0].phone], "en") == "Suppressed (opted out)"
    assert wording.shown(skipped[third.phone], "en") == "Missing values: points"
    assert wording.shown(skipped[first[0].phone], "zh-hans") == in_chinese(
        gettext_lazy("Suppressed (opted out)")
    )
    assert "points" in wording.shown(skipped[third.phone], "zh-hans")
    assert "Missing" not in wording.shown(skipped[third.phone], "zh-hans")


@pytest.mark.django_db
def test_a_start_a_task_refuses_keeps_its_reason_in_both_languages(make_campaign, vendor_account):
    campaign = make_campaign(vendor_account, phones=["13800000001"])
    suppressions.add("13800000001", note="asked")
    campaign_commands.request_start(campaign.pk)
    with translation.override("zh-hans"):
        assert tasks.start_campaign(campaign.pk).startswith("not started")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.FAILED
    assert wording.shown(campaign.status_reason, "en") == "No recipient is left to send to."
    assert wording.shown(campaign.status_reason, "zh-hans") == in_chinese(sending.NOBODY_LEFT)


@pytest.mark.django_db
def test_a_pause_reads_in_the_readers_language(
    make_campaign, vendor_account, marketer, marketer_client
):
    campaign = make_campaign(vendor_account, n=1, created_by=marketer)
    sending.start_campaign(campaign.pk)
    with translation.override("zh-hans"):
        campaign_commands.pause_for_account(campaign.pk, "余额不足 [102]")
    stats = reverse("portal:campaign_stats", args=[campaign.pk])
    english = marketer_client.get(stats, headers={"accept-language": "en"}).json()
    assert english["status_reason"] == "Paused: 余额不足 [102]"
    assert english["paused_by_vendor"]
    marketer_client.cookies["django_language"] = "zh-hans"
    chinese = marketer_client.get(stats).json()
    assert chinese["status_reason"].endswith("余额不足 [102]")
    assert "Paused" not in chinese["status_reason"] and chinese["paused_by_vendor"]
    page = marketer_client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert chinese["status_reason"] in page and "Paused:" not in page


@pytest.mark.django_db
def test_a_hand_pause_and_cancel_name_the_user_in_each_language(
    make_campaign, vendor_account, marketer
):
    campaign = make_campaign(vendor_account, n=2, created_by=marketer)
    sending.start_campaign(campaign.pk)
    assert campaign_commands.pause_by_hand(campaign.pk, marketer)
    campaign.refresh_from_db()
    assert wording.shown(campaign.status_reason, "en") == f"Paused by {marketer}"
    campaign_commands.cancel_by_hand(campaign.pk, marketer)
    campaign.refresh_from_db()
    assert wording.shown(campaign.status_reason, "en") == f"Cancelled by {marketer}"
    withdrawn = Message.objects.filter(campaign=campaign, status=Status.SKIPPED).first()
    assert wording.shown(withdrawn.error, "en") == "Campaign cancelled"
    assert wording.shown(withdrawn.error, "zh-hans") == in_chinese(campaign_commands.CANCELLED)
