"""The whole list's figures for a send, when the list is longer than a page counts itself
(``services.send_count``): the confirmation and the approval review show the first
recipients' figures and how far the count is, then the whole list's; the send is confirmed
only on the whole list's figures; a change to what the figures depend on counts again."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import Campaign, Recipient, SendCount, Suppression
from messaging.services import compliance, compose, send_count

pytestmark = pytest.mark.django_db

INLINE = 2


@pytest.fixture(autouse=True)
def short_inline(monkeypatch):
    """A page counts 2 recipients itself: the lists here (4 and more) are "long"."""
    monkeypatch.setattr(send_count, "INLINE_ROWS", INLINE)


def english(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(user)
    return client


def count_of(campaign) -> SendCount:
    return send_count.latest(campaign)


def run_count(campaign) -> SendCount:
    send_count.run(count_of(campaign).pk)
    return count_of(campaign)


def test_the_confirmation_counts_a_long_list_in_the_background_then_shows_its_figures(
    draft, marketer, django_capture_on_commit_callbacks
):
    campaign = draft()
    client = english(marketer)
    url = reverse("portal:confirm", args=[campaign.pk])
    with django_capture_on_commit_callbacks() as enqueued:
        page = client.get(url)
    html = page.content.decode()
    assert len(enqueued) == 1  # the count's task
    assert 'data-send-count="counting"' in html and "0 of 4 recipients counted" in html
    assert "the figures below are those of the first 2 recipients" in html
    assert 'id="confirm-form"' not in html and "data-awaiting-count" in html
    assert page.context["preview"].sendable == INLINE
    # Confirming before the count is done is refused, and nothing starts.
    refused = client.post(url, {"confirm": "1"})
    assert "still being counted" in refused.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.DRAFT
    # Another view while it runs does not start a second count.
    with django_capture_on_commit_callbacks() as enqueued:
        client.get(url)
    assert enqueued == [] and SendCount.objects.filter(campaign=campaign).count() == 1

    count = run_count(campaign)
    assert count.state == SendCount.State.DONE and count.counted == 4
    page = client.get(url)
    html = page.content.decode()
    assert page.context["preview"].sendable == 4 and page.context["preview"].recipients == 4
    assert 'data-send-count="done"' in html and "The figures of all 4 recipients" in html
    assert 'id="confirm-form"' in html and "Send 4 messages now" in html
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post(url, {"confirm": "1"})
    assert started.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.STARTING


def test_the_count_agrees_with_a_preview_of_the_whole_list_for_both_choices(draft, recipient_list):
    """Suppressed, missing a value, text the encoding cannot carry: the count (made leaving
    the latter out) gives the whole list's preview for either choice."""
    Recipient.objects.filter(phone="13800000002").update(variables={"points": "5"})
    Recipient.objects.create(
        recipient_list=recipient_list, phone="13800000009", variables={"name": "𠀀", "points": "1"}
    )
    Recipient.objects.create(
        recipient_list=recipient_list,
        phone="13800000010",
        variables={"name": "长" * 80, "points": "1"},
    )
    Suppression.objects.create(phone="13800000003", reason=Suppression.Reason.MANUAL)
    campaign = draft("smsadmin")  # GB2312 requests: 𠀀 cannot be carried
    now = compliance.clock()
    first = compliance.counted_preview(campaign, True, now, limit=INLINE)
    send_count.whole(campaign, first, exclude_missing=True)
    run_count(campaign)
    for exclude_missing in (True, False):
        page = compliance.counted_preview(campaign, exclude_missing, now, limit=INLINE)
        shown = send_count.whole(campaign, page, exclude_missing=exclude_missing).preview
        full = compliance.counted_preview(campaign, exclude_missing, now)
        for name in ("recipients", "suppressed", "capped", "missing_count", "unencodable_count"):
            assert getattr(shown, name) == getattr(full, name), name
        assert (shown.sendable, shown.total_segments) == (full.sendable, full.total_segments)
        assert shown.missing == full.missing and shown.unencodable == full.unencodable
    assert full.missing_count == 1 and full.unencodable_count == 1 and full.suppressed == 1
    assert full.total_segments > full.sendable  # the long text is two parts


@pytest.mark.parametrize(
    "change",
    ["body", "suppression", "recipient", "account"],
)
def test_a_change_to_what_the_figures_depend_on_counts_again(
    draft, marketer, recipient_list, change, django_capture_on_commit_callbacks
):
    campaign = draft()
    client = english(marketer)
    url = reverse("portal:confirm", args=[campaign.pk])
    client.get(url)
    old = run_count(campaign)
    if change == "body":
        campaign.template.body = "<name>，您的积分<points>"
        campaign.template.save()
    elif change == "suppression":
        Suppression.objects.create(phone="13800000001", reason=Suppression.Reason.MANUAL)
    elif change == "recipient":
        Recipient.objects.create(recipient_list=recipient_list, phone="13800000005")
    else:
        campaign.vendor_account.opt_out_suffix = "拒收请回复R"
        campaign.vendor_account.save()
    with django_capture_on_commit_callbacks() as enqueued:
        html = client.get(url).content.decode()
    assert len(enqueued) == 1 and 'data-send-count="counting"' in html
    assert not SendCount.objects.filter(pk=old.pk, key=old.key).exists()
    assert SendCount.objects.filter(campaign=campaign).count() == 1


def test_an_old_a_stalled_or_a_failed_count_is_made_again(
    draft, marketer, monkeypatch, django_capture_on_commit_callbacks
):
    campaign = draft()
    client = english(marketer)
    url = reverse("portal:confirm", args=[campaign.pk])
    client.get(url)
    run_count(campaign)
    long_ago = timezone.now() - send_count.FRESH_FOR - timedelta(seconds=1)
    SendCount.objects.filter(campaign=campaign).update(finished_at=long_ago)
    with django_capture_on_commit_callbacks() as enqueued:
        assert 'data-send-count="counting"' in client.get(url).content.decode()
    assert len(enqueued) == 1
    # Its worker lost: no word for longer than STALLED_AFTER.
    stalled = timezone.now() - send_count.STALLED_AFTER - timedelta(seconds=1)
    SendCount.objects.filter(campaign=campaign).update(updated_at=stalled)
    with django_capture_on_commit_callbacks() as enqueued:
        client.get(url)
    assert len(enqueued) == 1
    # A count that fails says so where the page polls, and is made again on the next view.

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    with monkeypatch.context() as patched:
        patched.setattr(compliance, "counted_preview", broken)
        assert "failed" in send_count.run(count_of(campaign).pk)
    count = count_of(campaign)
    assert count.state == SendCount.State.FAILED and count.error == "RuntimeError"
    progress = client.get(reverse("portal:send_count", args=[campaign.pk]))
    html = progress.content.decode()
    assert "The whole list could not be counted" in html and "database gone" not in html
    with django_capture_on_commit_callbacks() as enqueued:
        client.get(url)
    assert len(enqueued) == 1 and count_of(campaign).state == SendCount.State.COUNTING


@pytest.mark.parametrize("meanwhile", ["started again", "campaign confirmed"])
def test_a_count_stops_when_its_figures_would_be_of_nothing(
    draft, marketer, monkeypatch, meanwhile
):
    """Started again by another view, or its campaign confirmed (a count beside the start
    would compete with it for nothing): the count stops at its next word of progress."""
    campaign = draft()
    english(marketer).get(reverse("portal:confirm", args=[campaign.pk]))
    count = count_of(campaign)
    monkeypatch.setattr(compose, "PROGRESS_EVERY", 1)
    real = compliance.capped_phones

    def change_meanwhile(*args):  # called as the count begins
        if meanwhile == "started again":
            SendCount.objects.filter(pk=count.pk).update(started_at=timezone.now())
        else:
            Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.STARTING)
        return real(*args)

    monkeypatch.setattr(compliance, "capped_phones", change_meanwhile)
    assert send_count.run(count.pk).endswith("superseded")
    count.refresh_from_db()
    assert count.state == SendCount.State.COUNTING
    assert count.counted == 0 and count.figures == {}


def test_the_progress_fragment_polls_until_done_then_loads_the_page_again(draft, marketer):
    campaign = draft()
    client = english(marketer)
    client.get(reverse("portal:confirm", args=[campaign.pk]))
    progress = reverse("portal:send_count", args=[campaign.pk])
    html = client.get(progress).content.decode()
    assert 'hx-trigger="every 2s"' in html and "0 of 4 recipients counted" in html
    run_count(campaign)
    done = client.get(progress)
    assert done["HX-Redirect"] == reverse("portal:confirm", args=[campaign.pk])
    done = client.get(progress, {"page": "review"})
    assert done["HX-Redirect"] == reverse("portal:approval_review", args=[campaign.pk])
    # Not for the anonymous.
    assert Client().get(progress).status_code == 302


def test_the_approval_review_shows_the_count_then_the_whole_figures(draft, approver):
    campaign = draft()
    client = english(approver)
    url = reverse("portal:approval_review", args=[campaign.pk])
    html = client.get(url).content.decode()
    assert 'data-send-count="counting"' in html and "4 recipients" in html
    assert "can be confirmed" not in html  # the review has no send button to wait for
    run_count(campaign)
    page = client.get(url)
    assert page.context["preview"].sendable == 4
    assert 'data-send-count="done"' in page.content.decode()


def test_a_short_list_is_counted_by_the_page_itself(draft, marketer, monkeypatch):
    monkeypatch.setattr(send_count, "INLINE_ROWS", 5)
    campaign = draft()
    page = english(marketer).get(reverse("portal:confirm", args=[campaign.pk]))
    assert page.context["preview"].sendable == 4 and "data-send-count" not in (
        page.content.decode()
    )
    assert not SendCount.objects.exists()
