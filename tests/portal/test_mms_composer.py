"""MMS / video / 5G in the composer: text frames with placeholders, the vendor's {var1}…, the
values of a send in that order, the frames previewed as the handset shows them, and one billed
message per recipient."""

import struct

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.roles import MARKETERS
from messaging.models import Message, Template, TemplateFile, TemplateRegistration
from messaging.services import sending
from messaging.services.content_checks import estimate_cost
from messaging.services.templates import TemplateSubmitError, submit_for_review
from messaging.statuses import Status
from messaging.vendors.ashx5g.simulator import Ashx5gSimulator

from .test_composer import form_data

pytestmark = pytest.mark.django_db

# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
LONG = "，本周会员日全场商品八折，积分可当现金使用，门店与网上商城同时参加，详情请到店咨询店员"


def mp4(seconds: int, timescale: int = 600) -> bytes:
    """A minimal MP4: ftyp, a media box before the movie box, and the movie header."""
    ftyp = struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 0)
    mdat = struct.pack(">I4s", 8 + 64, b"mdat") + b"\0" * 64
    mvhd_body = struct.pack(">B3xIIII", 0, 0, 0, timescale, seconds * timescale) + b"\0" * 80
    mvhd = struct.pack(">I4s", 8 + len(mvhd_body), b"mvhd") + mvhd_body
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    return ftyp + mdat + moov


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def mms_draft(draft, vendor="ashx5g"):
    """A draft MMS campaign with its own message (``Template.is_draft``)."""
    campaign = draft(vendor)
    Template.objects.filter(pk=campaign.template_id).update(kind=Template.Kind.MMS, is_draft=True)
    campaign.refresh_from_db()
    return campaign


def add_frame(client, campaign, frame, *, text=None, upload=None):
    data = {"frame": frame}
    if text is not None:
        data["text"] = text
    if upload is not None:
        data["file"] = upload
    answer = client.post(
        reverse("portal:frame_upload", args=[campaign.pk]), data, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 201, answer.content
    return TemplateFile.objects.filter(template=campaign.template).order_by("-pk").first()


def preview(client, campaign, **overrides):
    template = Template.objects.get(pk=campaign.template_id)
    fields = {
        "kind": template.kind,
        "body": template.body,
        "template": template.pk,
        "campaign": campaign.pk,
        **overrides,
    }
    data = form_data(campaign, campaign.vendor_account, **fields)
    response = client.post(reverse("portal:compose_preview"), data)
    assert response.status_code == 200
    return response


# --------------------------------------------------------------------------- text frames


def test_a_text_frame_typed_in_the_page_is_a_text_file_and_the_message(english_client, draft):
    campaign = mms_draft(draft)
    first = add_frame(english_client, campaign, 1, text="<points>积分已到账，<name>")
    assert first.content_type == "text/plain"
    assert first.file.read().decode() == "<points>积分已到账，<name>"
    add_frame(
        english_client,
        campaign,
        2,
        upload=SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
    )
    add_frame(english_client, campaign, 3, text="再见<name>，下次见<city>")
    template = Template.objects.get(pk=campaign.template_id)
    # The body is the text frames' texts: its placeholders are theirs, in the vendor's order.
    assert template.body == "<points>积分已到账，<name>\n再见<name>，下次见<city>"

    page = english_client.get(reverse("portal:compose_edit", args=[campaign.pk]))
    html = page.content.decode()
    assert "data-from-frames" in html and "readonly" in html
    assert 'id="frame-var-toolbar"' in html
    assert page.context["config"]["media"][".wmv"] == ["audio", "video"]

    # Saving the draft with another text does not unsettle the order.
    english_client.post(
        reverse("portal:compose_edit", args=[campaign.pk]),
        form_data(campaign, campaign.vendor_account, kind="mms", body="<name><points>"),
    )
    campaign.refresh_from_db()
    assert campaign.template.body == "<points>积分已到账，<name>\n再见<name>，下次见<city>"

    # Removing a text frame takes its text out of the message.
    last = TemplateFile.objects.get(template=campaign.template, frame=3)
    english_client.post(reverse("portal:frame_delete", args=[campaign.pk, last.pk]))
    campaign.template.refresh_from_db()
    assert campaign.template.body == "<points>积分已到账，<name>"


def test_a_text_frame_is_checked_like_a_file(english_client, draft):
    campaign = mms_draft(draft)
    account = campaign.vendor_account
    account.max_file_kb = 1
    account.save()
    answer = english_client.post(
        reverse("portal:frame_upload", args=[campaign.pk]),
        {"frame": 1, "text": "长" * 400},  # 1,200 bytes of UTF-8
        HTTP_ACCEPT="application/json",
    )
    assert answer.status_code == 400 and "limit is 1 KB" in answer.json()["error"]
    assert not TemplateFile.objects.exists()


# --------------------------------------------------------------------------- the vendor


def test_the_vendor_gets_var_placeholders_and_a_send_the_values_in_their_order(
    english_client, draft, sim, client, monkeypatch
):
    campaign = mms_draft(draft)
    add_frame(english_client, campaign, 1, text="<points>积分已到账，<name>您好" + LONG)
    add_frame(
        english_client,
        campaign,
        2,
        upload=SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
    )
    add_frame(english_client, campaign, 3, text="<name>，回T退订")
    received = []
    original = Ashx5gSimulator._mms_create

    def record(self, account, fields):
        received.append(fields["files"])
        return original(self, account, fields)

    monkeypatch.setattr(Ashx5gSimulator, "_mms_create", record)

    campaign.refresh_from_db()
    registration = submit_for_review(campaign.template, campaign.vendor_account)
    assert registration.review_status == TemplateRegistration.Review.PENDING

    # Over HTTP, the vendor received the text frames with its own placeholders.
    (files,) = received
    frames = [(f["index"], f["id"], f["content_type"], bytes.fromhex(f["content"])) for f in files]
    assert [f[:3] for f in frames] == [
        ("1", "1", "text/plain"),
        ("2", "1", "image/png"),
        ("3", "1", "text/plain"),
    ]
    assert frames[0][3].decode() == "{var1}积分已到账，{var2}您好" + LONG
    assert frames[1][3] == PNG
    assert frames[2][3].decode() == "{var2}，回T退订"
    simulator = sim.server.simulators["ashx5g"]
    uploaded = simulator._templates()[registration.vendor_template_id]
    assert uploaded["variables"] == 2  # the vendor counts {var1}, {var2}

    # Approved by the vendor (its review push), then sent.
    call = simulator.template_review_push(registration.vendor_template_id, approved=True)
    uploaded["status"] = "approved"
    account = campaign.vendor_account
    pushed = client.post(
        account.push_path, data=call.body, content_type=call.headers["Content-Type"]
    )
    assert pushed.status_code == 200
    result = sending.start_campaign(campaign.pk)
    for batch_id in result.batches:
        sending.send_batch(batch_id)
    messages = Message.objects.filter(campaign=campaign).order_by("phone")
    assert {m.status for m in messages} == {Status.SUBMITTED}
    # One billed message each, however long the text.
    assert {m.segments for m in messages} == {1}
    # The values travel "|"-joined in {var1}, {var2} order: points first, then name.
    sent = {row["phone"]: row["content"] for row in sim.accepted(vendor="ashx5g")}
    assert sent == {f"138{i:08d}": f"{i * 10}|用户{i}" for i in range(1, 5)}
    assert {row["extra"]["mms_id"] for row in sim.accepted(vendor="ashx5g")} == {
        registration.vendor_template_id
    }


def test_a_body_whose_placeholders_disagree_with_the_frames_is_not_submitted(draft, sim):
    campaign = mms_draft(draft)  # body: <name>您好，积分<points>
    TemplateFile.objects.create(
        template=campaign.template,
        frame=1,
        order=1,
        content_type="text/plain",
        file=SimpleUploadedFile("a.txt", "积分<points>，<name>".encode(), "text/plain"),
    )
    with translation.override("en"), pytest.raises(TemplateSubmitError) as refused:
        submit_for_review(campaign.template, campaign.vendor_account)
    assert "(<points>, <name>) differ from the message's (<name>, <points>)" in str(refused.value)
    assert sim.server.simulators["ashx5g"]._templates() == {}  # the vendor was never called


# --------------------------------------------------------------------------- preview and cost


def test_the_preview_shows_the_frames_as_the_handset_will(english_client, draft):
    campaign = mms_draft(draft)
    add_frame(english_client, campaign, 1, text="<name>您好，积分<points>")
    image = add_frame(
        english_client,
        campaign,
        1,
        upload=SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
    )
    add_frame(
        english_client,
        campaign,
        4,
        upload=SimpleUploadedFile("clip.mp4", mp4(75), content_type="video/mp4"),
    )
    add_frame(
        english_client,
        campaign,
        5,
        upload=SimpleUploadedFile("jingle.mp3", b"ID3" + b"\0" * 300, content_type="audio/mpeg"),
    )
    response = preview(english_client, campaign)
    live = response.context["preview"]
    assert live.rich
    frames = live.frames
    assert [f["number"] for f in frames] == [1, 2, 3]  # as the vendor numbers them
    text, picture = frames[0]["items"]
    assert (text["kind"], text["text"], text["missing"]) == ("text", "用户1您好，积分10", [])
    thumbnail = reverse("portal:frame_file", args=[campaign.pk, image.pk])
    assert picture["kind"] == "image" and picture["url"] == thumbnail
    (video,) = frames[1]["items"]
    assert (video["kind"], video["name"], video["duration"]) == ("video", "clip.mp4", "1:15")
    assert video["size"] == len(mp4(75))
    (sound,) = frames[2]["items"]
    assert (sound["kind"], sound["name"], sound["duration"]) == ("audio", "jingle.mp3", "")
    html = response.content.decode()
    assert "data-mms-preview" in html and "data-sample" not in html
    assert '<div class="bubble" data-frame-text>用户1您好，积分10</div>' in html
    assert f'src="{thumbnail}"' in html and "clip.mp4" in html and "1:15" in html
    assert "Part length" not in html and "Billed messages" in html
    # The handset shows no SMS signature or suffix glued to the text; the vendor's template
    # has its own signature and subject, shown above the frames.
    assert "【测试商城】用户1" not in html
    assert live.title == "积分" and "data-mms-title" in html
    # A marketing MMS is told where its opt-out words must go.
    assert any("回T退订" in w and "text frame" in w for w in live.warnings)
    assert english_client.get(thumbnail)["Content-Type"] == "image/png"


def test_preview_without_view_permissions_names_images_without_thumbnails(
    english_client, draft, marketer
):
    campaign = mms_draft(draft)
    add_frame(
        english_client,
        campaign,
        1,
        upload=SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
    )
    role = Group.objects.get(name=MARKETERS)
    role.permissions.remove(Permission.objects.get(codename="view_templatefile"))
    marketer = type(marketer).objects.get(pk=marketer.pk)  # no cached permissions
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(marketer)
    live = preview(client, campaign).context["preview"]
    (picture,) = live.frames[0]["items"]
    assert picture["url"] == "" and picture["name"] == "logo.png" and picture["size"] == len(PNG)


def test_preview_warns_when_no_text_frame_holds_the_placeholders(english_client, draft):
    campaign = mms_draft(draft)
    add_frame(
        english_client,
        campaign,
        1,
        upload=SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
    )
    live = preview(english_client, campaign).context["preview"]
    assert any("No text frame holds <name>, <points>" in w for w in live.warnings)


def test_mms_cost_is_one_billed_message_per_recipient(english_client, draft):
    long_text = "<name>您好" + LONG * 3  # several SMS parts
    campaign = mms_draft(draft)
    as_sms = preview(english_client, campaign, kind="sms", body=long_text).context["preview"]
    assert as_sms.est_segments == 4 * 3  # 3 parts each as an SMS
    add_frame(english_client, campaign, 1, text=long_text)
    live = preview(english_client, campaign).context["preview"]
    assert (live.est_sendable, live.est_segments) == (4, 4)
    assert live.cost == estimate_cost(4, campaign.vendor_account)
    assert all(sample["parts"] == 1 for sample in live.samples)
    html = english_client.post(
        reverse("portal:compose_preview"),
        form_data(campaign, campaign.vendor_account, kind="mms", body=long_text),
    ).content.decode()
    assert "per message" in html

    # The confirmation counts the same way, and has the frames for the handset's view.
    page = english_client.get(reverse("portal:confirm", args=[campaign.pk]))
    assert page.context["preview"].total_segments == 4
    assert page.context["cost"] == estimate_cost(4, campaign.vendor_account)
    assert page.context["rich"]
    (frame,) = page.context["frames"]
    assert frame["items"][0]["text"] == long_text.replace("<name>", "用户1")
    html = page.content.decode()
    assert "data-confirm-frames" in html and "Billed messages" in html
    assert "per message, an estimate" in html and "First messages" not in html
