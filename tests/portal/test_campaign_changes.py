"""A scheduled campaign edited (back to draft, checked and confirmed again) or re-timed (its
django-q schedule moves), and any campaign duplicated into a new draft."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from messaging.models import ArchiveState, Campaign, Template
from messaging.services import campaign_commands

from .test_composer import form_data

pytestmark = pytest.mark.django_db


def schedule_of(campaign):
    return Schedule.objects.filter(name=f"{campaign_commands.SCHEDULE_PREFIX}{campaign.pk}").first()


@pytest.fixture
def scheduled(draft):
    campaign = draft()
    when = timezone.now() + timedelta(days=1)
    campaign.scheduled_at = when
    campaign.save()
    assert campaign_commands.confirm(campaign, exclude_missing=True) == "scheduled"
    campaign.refresh_from_db()
    assert schedule_of(campaign).next_run == when
    return campaign


def local_input(when):
    return timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")


def test_the_page_of_a_scheduled_campaign_offers_edit_retime_and_duplicate(
    english_client, scheduled
):
    page = english_client.get(reverse("portal:campaign", args=[scheduled.pk])).content.decode()
    assert reverse("portal:edit_scheduled", args=[scheduled.pk]) in page
    assert reverse("portal:retime", args=[scheduled.pk]) in page
    assert reverse("portal:duplicate", args=[scheduled.pk]) in page
    assert f'value="{local_input(scheduled.scheduled_at)}"' in page


def test_editing_a_scheduled_campaign_takes_it_back_to_draft_until_confirmed_again(
    english_client, scheduled, recipient_list
):
    answer = english_client.post(reverse("portal:edit_scheduled", args=[scheduled.pk]))
    assert answer.status_code == 302
    assert answer["Location"] == reverse("portal:compose_edit", args=[scheduled.pk])
    scheduled.refresh_from_db()
    assert scheduled.status == Campaign.State.DRAFT
    assert schedule_of(scheduled) is None  # nothing starts it behind the marketer's back
    # The composer edits it, its time kept.
    page = english_client.get(answer["Location"])
    assert page.status_code == 200
    later = timezone.now() + timedelta(days=2)
    saved = english_client.post(
        answer["Location"],
        form_data(
            scheduled,
            scheduled.vendor_account,
            name="积分提醒",
            body="<name>您好，新积分<points>",
            scheduled_at=local_input(later),
            then="confirm",
        ),
    )
    assert saved["Location"] == reverse("portal:confirm", args=[scheduled.pk])
    scheduled.refresh_from_db()
    assert scheduled.template.body == "<name>您好，新积分<points>"
    # Confirmed again: scheduled again, at the new time.
    english_client.post(saved["Location"], {"confirm": "1", "missing": "exclude"})
    scheduled.refresh_from_db()
    assert scheduled.status == Campaign.State.SCHEDULED
    assert schedule_of(scheduled).next_run == scheduled.scheduled_at
    assert local_input(scheduled.scheduled_at) == local_input(later)


def test_only_a_scheduled_campaign_goes_back_to_draft(english_client, draft):
    campaign = draft()
    campaign_commands.request_start(campaign.pk)
    answer = english_client.post(reverse("portal:edit_scheduled", args=[campaign.pk]))
    assert answer["Location"] == reverse("portal:campaign", args=[campaign.pk])
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING


def test_retiming_moves_the_schedule(english_client, scheduled):
    later = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    answer = english_client.post(
        reverse("portal:retime", args=[scheduled.pk]), {"scheduled_at": local_input(later)}
    )
    assert answer.status_code == 302
    scheduled.refresh_from_db()
    assert scheduled.status == Campaign.State.SCHEDULED
    assert scheduled.scheduled_at == later
    assert schedule_of(scheduled).next_run == later
    assert Schedule.objects.filter(name__startswith=campaign_commands.SCHEDULE_PREFIX).count() == 1


@pytest.mark.parametrize("value", ["", "yesterday", "2001-01-01T10:00"])
def test_a_bad_time_is_refused_and_the_schedule_stays(english_client, scheduled, value):
    before = scheduled.scheduled_at
    answer = english_client.post(
        reverse("portal:retime", args=[scheduled.pk]), {"scheduled_at": value}, follow=True
    )
    assert answer.status_code == 200
    assert [m.level_tag for m in answer.context["messages"]] == ["error"]
    scheduled.refresh_from_db()
    assert scheduled.scheduled_at == before and schedule_of(scheduled).next_run == before


@pytest.mark.parametrize("state", ["draft", "scheduled", "completed", "cancelled", "archived"])
def test_any_campaign_duplicates_into_a_new_draft(english_client, draft, marketer, state):
    campaign = draft()
    own = Template.objects.create(
        name="own", body="<name|顾客>您好", is_draft=True, created_by=marketer
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        template=own,
        status="completed" if state == "archived" else state,
        archive_state=ArchiveState.ARCHIVED if state == "archived" else "",
    )
    answer = english_client.post(reverse("portal:duplicate", args=[campaign.pk]))
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert answer["Location"] == reverse("portal:compose_edit", args=[copy.pk])
    assert copy.status == Campaign.State.DRAFT and copy.scheduled_at is None
    assert copy.name == "积分提醒 (copy)"
    assert (copy.recipient_list, copy.vendor_account) == (
        campaign.recipient_list,
        campaign.vendor_account,
    )
    # Its own message is a copy: editing one never changes the other.
    assert copy.template != own and copy.template.is_draft
    assert copy.template.body == own.body
    campaign.refresh_from_db()
    assert campaign.template == own
    assert english_client.get(answer["Location"]).status_code == 200


def test_a_campaign_of_a_saved_template_duplicates_with_it(english_client, draft):
    campaign = draft()  # its template is a saved one
    english_client.post(reverse("portal:duplicate", args=[campaign.pk]))
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert copy.template == campaign.template
    campaign.template.refresh_from_db()
    assert campaign.template.last_used_at is not None


def test_editing_a_sent_campaign_points_to_duplicate(english_client, draft):
    campaign = draft()
    Campaign.objects.filter(pk=campaign.pk).update(status="completed")
    page = english_client.get(reverse("portal:compose_edit", args=[campaign.pk]), follow=True)
    assert "Duplicate" in next(str(m) for m in page.context["messages"])
