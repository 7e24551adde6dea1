"""Saved templates in the portal: the list (search, category, last used, used by), a
template's page (its message and frames, the campaigns made from it untouched), "use this
template", copy and delete; the composer's "save as a template" choice; existing campaigns'
messages taken out of the library by the migration."""

import importlib

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from messaging.models import Campaign, Template, TemplateFile, TemplateRegistration

from .test_composer import form_data
from .test_drafts import compose, media  # noqa: F401 - a fixture
from .test_mms_composer import PNG

pytestmark = pytest.mark.django_db


def saved(name, marketer, **fields):
    fields.setdefault("body", "<name>您好")
    return Template.objects.create(name=name, created_by=marketer, **fields)


def listed(client, **query):
    response = client.get(reverse("portal:templates"), query)
    assert response.status_code == 200
    return response


def test_the_list_shows_saved_templates_with_category_last_used_and_uses(
    english_client, marketer, recipient_list, vendor_account
):
    vip = saved("会员关怀", marketer, category="会员")
    sale = saved("双十一促销", marketer, category="促销", body="全场五折")
    Template.objects.create(name="积分提醒", body="x", is_draft=True, created_by=marketer)
    # Used twice: as it is, and through a copy whose text was changed.
    compose(english_client, recipient_list, vendor_account, template=vip.pk, body=vip.body)
    compose(english_client, recipient_list, vendor_account, template=vip.pk, body="改<name>")
    response = listed(english_client)
    rows = list(response.context["templates"])
    assert rows == [vip, sale]  # the last used first; the campaigns' own messages not at all
    assert (rows[0].used_by, rows[0].direct_uses) == (2, 1)
    assert rows[0].last_used_at is not None and rows[1].last_used_at is None
    page = response.content.decode()
    assert "2 campaigns" in page and "never" in page
    assert response.context["categories"] == ["会员", "促销"]
    assert list(listed(english_client, category="促销").context["templates"]) == [sale]
    assert list(listed(english_client, q="五折").context["templates"]) == [sale]
    assert list(listed(english_client, q="没有").context["templates"]) == []
    # The nav leads here.
    dashboard = english_client.get(reverse("portal:dashboard")).content.decode()
    assert reverse("portal:templates") in dashboard


def test_use_this_template_starts_a_campaign_from_it(english_client, marketer):
    template = saved("会员关怀", marketer, signature="【会员】")
    page = listed(english_client).content.decode()
    use = reverse("portal:compose") + f"?template={template.pk}"
    assert use in page
    form = english_client.get(use).context["form"]
    assert form.initial["template"] == template.pk
    assert form.initial["body"] == template.body and form.initial["signature"] == "【会员】"


def test_editing_a_template_leaves_the_campaigns_made_from_it_as_they_were(
    english_client, marketer, recipient_list, vendor_account
):
    template = saved("会员关怀", marketer, category="会员")
    campaign = compose(
        english_client, recipient_list, vendor_account, template=template.pk, body=template.body
    )
    assert campaign.template == template
    url = reverse("portal:template", args=[template.pk])
    assert english_client.get(url).status_code == 200
    answer = english_client.post(
        url,
        {
            "name": "会员关怀2",
            "category": "老会员",
            "kind": "sms",
            "body": "<name|会员>您好，新文案",
            "signature": "",
            "is_marketing": "on",
        },
    )
    assert answer.status_code == 302, answer.context["form"].errors
    template.refresh_from_db()
    assert (template.name, template.category, template.body) == (
        "会员关怀2",
        "老会员",
        "<name|会员>您好，新文案",
    )
    campaign.refresh_from_db()
    assert campaign.template != template and campaign.template.is_draft
    assert campaign.template.body == "<name>您好" and campaign.template.source == template
    assert next(iter(listed(english_client).context["templates"])).used_by == 1


def test_a_template_given_two_defaults_for_one_name_is_refused(english_client, marketer):
    template = saved("会员关怀", marketer)
    answer = english_client.post(
        reverse("portal:template", args=[template.pk]),
        {"name": "x", "kind": "sms", "body": "<name|顾客>和<name|朋友>", "is_marketing": "on"},
    )
    assert answer.status_code == 200
    assert "one default" in str(answer.context["form"].errors["body"])


def test_a_new_template_and_its_frames(english_client, sim_account, media):  # noqa: F811
    account = sim_account("ashx5g")
    answer = english_client.post(
        reverse("portal:template_new"),
        {"name": "彩信", "category": "会员", "kind": "mms", "body": "<name>", "is_marketing": "on"},
    )
    template = Template.objects.get(name="彩信")
    assert answer["Location"] == reverse("portal:template", args=[template.pk])
    assert not template.is_draft and template.category == "会员"
    upload = reverse("portal:template_frame_upload", args=[template.pk])
    english_client.post(upload, {"account": account.pk, "frame": 1, "text": "<name|顾客>您好"})
    english_client.post(
        upload,
        {
            "account": account.pk,
            "frame": 2,
            "file": SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
        },
    )
    template.refresh_from_db()
    assert [(f.frame, f.content_type) for f in template.files.all()] == [
        (1, "text/plain"),
        (2, "image/png"),
    ]
    assert template.body == "<name|顾客>您好"  # follows the text frames
    page = english_client.get(reverse("portal:template", args=[template.pk])).content.decode()
    png = template.files.get(frame=2)
    assert reverse("portal:template_frame_file", args=[template.pk, png.pk]) in page
    served = english_client.get(reverse("portal:template_frame_file", args=[template.pk, png.pk]))
    assert b"".join(served.streaming_content) == PNG
    # A file the vendor does not take is refused in our words.
    refused = english_client.post(
        upload,
        {"account": account.pk, "frame": 3, "file": SimpleUploadedFile("x.exe", b"MZ")},
        follow=True,
    )
    assert [m.level_tag for m in refused.context["messages"]] == ["error"]
    english_client.post(reverse("portal:template_frame_delete", args=[template.pk, png.pk]))
    assert template.files.count() == 1


def test_a_template_submitted_to_a_vendor_only_takes_a_new_name_and_category(
    english_client, marketer, vendor_account
):
    template = saved("彩信", marketer, kind="mms")
    TemplateFile.objects.create(
        template=template,
        content_type="image/png",
        file=SimpleUploadedFile("logo.png", PNG),
    )
    TemplateRegistration.objects.create(
        template=template,
        vendor_account=vendor_account,
        vendor_template_id="T1",
        review_status="approved",
    )
    url = reverse("portal:template", args=[template.pk])
    page = english_client.get(url)
    assert page.context["fixed"] and page.context["form"].fields["body"].disabled
    english_client.post(url, {"name": "新名字", "category": "会员", "body": "changed"})
    template.refresh_from_db()
    assert (template.name, template.category, template.body) == ("新名字", "会员", "<name>您好")
    assert template.registrations.get().review_status == "approved"
    # Its frames cannot change either.
    png = template.files.get()
    english_client.post(reverse("portal:template_frame_delete", args=[template.pk, png.pk]))
    assert template.files.count() == 1
    # A copy can change; it is reviewed anew.
    english_client.post(reverse("portal:template_copy", args=[template.pk]))
    copy = Template.objects.exclude(pk=template.pk).get()
    assert copy.name == "新名字 (copy)" and not copy.is_draft and copy.files.count() == 1
    assert not copy.registrations.exists()


def test_a_template_is_deleted_only_when_no_campaign_uses_it(
    english_client, marketer, recipient_list, vendor_account
):
    used = saved("在用", marketer)
    unused = saved("没用", marketer)
    compose(english_client, recipient_list, vendor_account, template=used.pk, body=used.body)
    page = listed(english_client).content.decode()
    assert reverse("portal:template_delete", args=[unused.pk]) in page
    assert reverse("portal:template_delete", args=[used.pk]) not in page
    refused = english_client.post(reverse("portal:template_delete", args=[used.pk]), follow=True)
    assert [m.level_tag for m in refused.context["messages"]] == ["error"]
    english_client.post(reverse("portal:template_delete", args=[unused.pk]))
    assert list(Template.objects.library()) == [used]


def test_a_campaigns_own_message_has_no_template_page(english_client, marketer):
    own = Template.objects.create(name="own", body="x", is_draft=True, created_by=marketer)
    assert english_client.get(reverse("portal:template", args=[own.pk])).status_code == 404
    assert english_client.post(reverse("portal:template_delete", args=[own.pk])).status_code == 404


# --------------------------------------------------------------------------- save as a template


def test_a_campaigns_message_is_saved_as_a_template_only_when_asked(
    english_client, recipient_list, vendor_account
):
    first = compose(english_client, recipient_list, vendor_account, template_name="私有")
    assert first.template.is_draft
    assert not Template.objects.library().exists()
    second = compose(
        english_client,
        recipient_list,
        vendor_account,
        name="会员日",
        template_name="会员日模板",
        save_as_template="on",
        category="会员",
    )
    template = second.template
    assert not template.is_draft
    assert (template.name, template.category) == ("会员日模板", "会员")
    assert template.last_used_at is not None  # by this campaign
    assert list(Template.objects.library()) == [template]
    # Saved from the campaign's page later: its own message moves to the library.
    compose(english_client, recipient_list, vendor_account, first, save_as_template="on")
    first.template.refresh_from_db()
    assert not first.template.is_draft and first.template.name == "双十一"
    assert Template.objects.count() == 2
    # The composer offers the categories already used.
    page = english_client.get(reverse("portal:compose")).content.decode()
    assert 'id="template-categories"' in page and '<option value="会员">' in page


def test_a_campaign_saved_from_a_template_marks_it_used(
    english_client, marketer, recipient_list, vendor_account
):
    template = saved("会员关怀", marketer)
    assert template.last_used_at is None
    data = form_data(recipient_list, vendor_account, template=template.pk, body=template.body)
    english_client.post(reverse("portal:compose"), {**data, "then": "draft"})
    template.refresh_from_db()
    assert template.last_used_at is not None


# --------------------------------------------------------------------------- the migration


def test_the_migration_takes_auto_saved_messages_out_of_the_library(
    marketer, recipient_list, vendor_account
):
    migration = importlib.import_module("messaging.migrations.0008_templates_library")

    def campaign(name, template):
        return Campaign.objects.create(
            name=name,
            template=template,
            recipient_list=recipient_list,
            vendor_account=vendor_account,
            created_by=marketer,
        )

    auto = saved("双十一", marketer)
    campaign("双十一", auto)
    shared = saved("共用", marketer)
    campaign("共用", shared)
    campaign("共用", shared)
    registered = saved("彩信", marketer, kind="mms")
    campaign("彩信", registered)
    TemplateRegistration.objects.create(template=registered, vendor_account=vendor_account)
    named = saved("会员模板", marketer)
    campaign("会员日", named)
    unused = saved("备用", marketer)

    migration.mark_campaigns_own_messages(apps, None)

    drafts = set(Template.objects.filter(is_draft=True))
    assert drafts == {auto}
    assert set(Template.objects.library()) == {shared, registered, named, unused}
    named.refresh_from_db()
    unused.refresh_from_db()
    assert named.last_used_at is not None and unused.last_used_at is None
    assert Campaign.objects.filter(template=auto).count() == 1  # still its campaign's


def test_the_admin_list_shows_saved_templates(admin_client, marketer):
    library = saved("会员关怀", marketer, category="会员")
    Template.objects.create(name="草稿", body="x", is_draft=True, created_by=marketer)
    url = reverse("admin:messaging_template_changelist")
    assert list(admin_client.get(url).context["cl"].queryset) == [library]
    assert list(admin_client.get(url, {"category": "会员"}).context["cl"].queryset) == [library]
