"""The campaign page's buttons follow its status: the refresh (stats.json) says which apply,
and every button the page draws is marked with the action it belongs to, so that a draft's
"Edit" and "Check and send" disappear once it is sent, without a reload."""

import pytest
from django.urls import reverse

from messaging.models import Campaign

pytestmark = pytest.mark.django_db


def stats(client, campaign):
    return client.get(reverse("portal:campaign_stats", args=[campaign.pk])).json()


def test_a_drafts_buttons_are_marked_and_stop_applying_once_it_is_sent(english_client, draft):
    campaign = draft()
    html = english_client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert 'data-action="edit"' in html
    assert 'data-action="confirm"' in html
    actions = stats(english_client, campaign)["actions"]
    assert actions["edit"] and actions["confirm"] and not actions["review"]

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.COMPLETED)
    actions = stats(english_client, campaign)["actions"]
    assert not any(actions[name] for name in ("edit", "confirm", "review", "pause", "cancel"))


def test_a_schedules_review_button_stops_applying_once_it_starts(english_client, draft):
    campaign = draft()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.SCHEDULED)
    html = english_client.get(reverse("portal:campaign", args=[campaign.pk])).content.decode()
    assert 'data-action="review"' in html
    assert stats(english_client, campaign)["actions"]["review"]
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.SENDING)
    actions = stats(english_client, campaign)["actions"]
    assert not actions["review"] and actions["pause"]
