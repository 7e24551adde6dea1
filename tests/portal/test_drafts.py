"""A campaign's own message (``Template.is_draft``): private to its campaign, the only template
the composer changes; a library template is used as it is or copied, never changed."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from messaging.forms.composer import ComposeForm, composer_config
from messaging.models import Campaign, Template, TemplateFile, TemplateRegistration
from messaging.services import drafts

from .test_composer import form_data
from .test_mms_composer import PNG

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def library(marketer):
    return Template.objects.create(
        name="积分模板", body="<name>您好，积分<points>", created_by=marketer
    )


@pytest.fixture
def mms_library(marketer, media):
    template = Template.objects.create(
        name="彩信模板", kind=Template.Kind.MMS, body="<name>您好", created_by=marketer
    )
    TemplateFile.objects.create(
        template=template,
        frame=1,
        content_type="text/plain",
        file=SimpleUploadedFile("frame1.txt", "<name>您好".encode()),
    )
    TemplateFile.objects.create(
        template=template,
        frame=2,
        content_type="image/png",
        file=SimpleUploadedFile("logo.png", PNG),
    )
    return template


def compose(client, recipient_list, account, campaign=None, **fields):
    url = (
        reverse("portal:compose_edit", args=[campaign.pk])
        if campaign
        else reverse("portal:compose")
    )
    response = client.post(url, form_data(recipient_list, account, then="draft", **fields))
    assert response.status_code == 302, response.context and response.context["form"].errors
    if campaign is not None:
        campaign.refresh_from_db()
        return campaign
    return Campaign.objects.order_by("-pk").first()


def library_state(template):
    template.refresh_from_db()
    files = [(f.frame, f.order, f.content_type, f.file.name) for f in template.files.all()]
    return (template.kind, template.body, template.signature, template.is_marketing, files)


def test_a_new_message_is_the_campaigns_own_and_edited_in_place(
    marketer_client, recipient_list, vendor_account
):
    campaign = compose(marketer_client, recipient_list, vendor_account, template_name="双十一短信")
    own = campaign.template
    assert own.is_draft and own.name == "双十一短信"
    compose(marketer_client, recipient_list, vendor_account, campaign, body="<name>：积分<points>")
    assert campaign.template == own and Template.objects.count() == 1
    assert campaign.template.body == "<name>：积分<points>"


def test_editing_a_campaign_started_from_a_library_template_never_changes_it(
    marketer_client, recipient_list, vendor_account, library
):
    before = library_state(library)
    campaign = compose(
        marketer_client, recipient_list, vendor_account, template=library.pk, body=library.body
    )
    assert campaign.template == library  # used as it is
    page = marketer_client.get(reverse("portal:compose_edit", args=[campaign.pk]))
    assert page.context["form"].initial["template"] == library.pk

    campaign = compose(
        marketer_client,
        recipient_list,
        vendor_account,
        campaign,
        template=library.pk,
        body="改过的<name>",
        signature="【新签名】",
    )
    own = campaign.template
    assert own != library and own.is_draft and own.body == "改过的<name>"
    # Edited again: the campaign's own message changes, still not the library's.
    campaign = compose(marketer_client, recipient_list, vendor_account, campaign, body="再改<name>")
    assert campaign.template == own and campaign.template.body == "再改<name>"
    assert library_state(library) == before
    assert Template.objects.library().get() == library


def test_a_template_made_with_the_campaign_is_not_taken_for_its_own(
    marketer_client, recipient_list, vendor_account, marketer
):
    """No time window: a library template created a moment before its campaign stays as it
    is when the campaign is edited."""
    template = Template.objects.create(name="积分", body="<name>您好", created_by=marketer)
    campaign = Campaign.objects.create(
        name="积分提醒",
        template=template,
        vendor_account=vendor_account,
        recipient_list=recipient_list,
        created_by=marketer,
    )
    compose(marketer_client, recipient_list, vendor_account, campaign, body="新的<name>")
    template.refresh_from_db()
    assert template.body == "<name>您好" and campaign.template.is_draft


def test_own_messages_are_not_in_the_template_library(
    marketer_client, recipient_list, vendor_account, library
):
    campaign = compose(marketer_client, recipient_list, vendor_account)
    own = campaign.template
    assert list(ComposeForm().fields["template"].queryset) == [library]
    assert set(composer_config()["templates"]) == {library.pk}
    assert list(drafts.library_templates()) == [library]
    # Not offered as a start, nor accepted as a choice.
    page = marketer_client.get(reverse("portal:compose") + f"?template={own.pk}")
    assert "template" not in page.context["form"].initial
    assert f'value="{own.pk}"' not in page.content.decode().split('name="template"')[1][:2000]
    form = ComposeForm(form_data(recipient_list, vendor_account, template=own.pk))
    assert not form.is_valid() and "template" in form.errors
    # The draft's own page offers no saved template as its message.
    page = marketer_client.get(reverse("portal:compose_edit", args=[campaign.pk]))
    assert page.context["form"].initial["template"] is None


def test_the_admin_lists_the_library_unless_asked(admin_client, marketer, library):
    own = Template.objects.create(name="草稿", body="x", is_draft=True, created_by=marketer)
    url = reverse("admin:messaging_template_changelist")
    listed = admin_client.get(url).context["cl"].queryset
    assert list(listed) == [library]
    assert list(admin_client.get(url + "?own=yes").context["cl"].queryset) == [own]
    assert set(admin_client.get(url + "?own=all").context["cl"].queryset) == {own, library}


def test_frames_added_to_a_library_template_go_to_a_copy(
    english_client, recipient_list, vendor_account, mms_library
):
    before = library_state(mms_library)
    campaign = compose(
        english_client,
        recipient_list,
        vendor_account,
        template=mms_library.pk,
        kind="mms",
        body=mms_library.body,
    )
    assert campaign.template == mms_library
    answer = english_client.post(
        reverse("portal:frame_upload", args=[campaign.pk]),
        {"frame": 3, "text": "回T退订"},
        HTTP_ACCEPT="application/json",
    )
    assert answer.status_code == 201, answer.content
    campaign.refresh_from_db()
    own = campaign.template
    assert own.is_draft and own.name == mms_library.name
    files = list(own.files.order_by("frame", "order"))
    assert [(f.frame, f.content_type) for f in files] == [
        (1, "text/plain"),
        (2, "image/png"),
        (3, "text/plain"),
    ]
    assert own.body == "<name>您好\n回T退订"
    # The copies are files of their own: removing one leaves the library's.
    copied_png = files[1]
    assert copied_png.file.name != mms_library.files.get(frame=2).file.name
    english_client.post(reverse("portal:frame_delete", args=[campaign.pk, copied_png.pk]))
    assert own.files.count() == 2
    assert library_state(mms_library) == before
    assert mms_library.files.get(frame=2).file.read() == PNG


def test_removing_a_library_templates_frame_removes_it_from_a_copy(
    english_client, recipient_list, vendor_account, mms_library
):
    before = library_state(mms_library)
    campaign = compose(
        english_client,
        recipient_list,
        vendor_account,
        template=mms_library.pk,
        kind="mms",
        body=mms_library.body,
    )
    picture = mms_library.files.get(frame=2)
    english_client.post(reverse("portal:frame_delete", args=[campaign.pk, picture.pk]))
    campaign.refresh_from_db()
    assert campaign.template.is_draft
    assert [f.frame for f in campaign.template.files.all()] == [1]
    assert library_state(mms_library) == before


def test_a_refused_frame_makes_no_copy(english_client, recipient_list, vendor_account, mms_library):
    campaign = compose(
        english_client,
        recipient_list,
        vendor_account,
        template=mms_library.pk,
        kind="mms",
        body=mms_library.body,
    )
    exe = SimpleUploadedFile("a.exe", b"MZ", content_type="application/octet-stream")
    answer = english_client.post(
        reverse("portal:frame_upload", args=[campaign.pk]),
        {"frame": 1, "file": exe},
        HTTP_ACCEPT="application/json",
    )
    assert answer.status_code == 400
    campaign.refresh_from_db()
    assert campaign.template == mms_library and Template.objects.count() == 1


def test_starting_from_a_library_mms_template_and_changing_it_copies_its_frames(
    english_client, recipient_list, vendor_account, mms_library
):
    campaign = compose(
        english_client,
        recipient_list,
        vendor_account,
        template=mms_library.pk,
        kind="mms",
        body=mms_library.body,
        signature="【新签名】",
    )
    own = campaign.template
    assert own.is_draft and own.signature == "【新签名】"
    assert [f.frame for f in own.files.all()] == [1, 2]
    assert mms_library.files.count() == 2 and mms_library.signature == ""


def test_leaving_the_own_message_for_a_library_template_discards_it(
    marketer_client, recipient_list, vendor_account, library
):
    campaign = compose(marketer_client, recipient_list, vendor_account, body="自己写的<name>")
    own = campaign.template
    campaign = compose(
        marketer_client,
        recipient_list,
        vendor_account,
        campaign,
        template=library.pk,
        body=library.body,
    )
    assert campaign.template == library
    assert not Template.objects.filter(pk=own.pk).exists()


def test_a_submitted_own_message_is_kept_and_replaced_by_a_new_one(
    marketer_client, recipient_list, vendor_account
):
    campaign = compose(marketer_client, recipient_list, vendor_account, kind="mms")
    submitted = campaign.template
    TemplateRegistration.objects.create(
        template=submitted, vendor_account=vendor_account, review_status="pending"
    )
    campaign = compose(
        marketer_client, recipient_list, vendor_account, campaign, kind="mms", body="新<name>"
    )
    assert campaign.template != submitted and campaign.template.is_draft
    submitted.refresh_from_db()
    assert submitted.body == "<name>您好，积分<points>"
    assert Template.objects.library().count() == 0


def test_a_deleted_campaign_takes_its_own_message_along(
    marketer_client, recipient_list, vendor_account, library, django_capture_on_commit_callbacks
):
    own_campaign = compose(marketer_client, recipient_list, vendor_account)
    own = own_campaign.template
    library_campaign = compose(
        marketer_client, recipient_list, vendor_account, template=library.pk, body=library.body
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        own_campaign.delete()
        library_campaign.delete()
    assert not Template.objects.filter(pk=own.pk).exists()
    assert Template.objects.get() == library


def test_a_sent_campaign_keeps_its_own_message(marketer_client, recipient_list, vendor_account):
    campaign = compose(marketer_client, recipient_list, vendor_account)
    own = campaign.template
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.COMPLETED)
    page = marketer_client.get(reverse("portal:compose_edit", args=[campaign.pk]))
    assert page.status_code == 302  # no longer a draft: not edited
    campaign.refresh_from_db()
    assert campaign.template == own and own.is_draft
    assert not Template.objects.library().exists()


def test_a_campaign_sent_from_its_own_message_keeps_it(
    marketer_client,
    recipient_list,
    sim_account,
    sim,
    sync_tasks,
    django_capture_on_commit_callbacks,
):
    account = sim_account("actiongw")
    campaign = compose(marketer_client, recipient_list, account)
    own = campaign.template
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(reverse("portal:confirm", args=[campaign.pk]), {"confirm": "1"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.State.COMPLETED, campaign.status_reason
    assert len(sim.accepted(vendor="actiongw")) == 4
    assert campaign.template == own and Template.objects.get(pk=own.pk).is_draft
    assert not Template.objects.library().exists()
