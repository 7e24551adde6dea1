"""Every action that changes what is sent or who can do what leaves one event: who, from
which address, on what — through the pages people use.  And the trail is for administrators
only, read-only for everyone, filterable, searchable and exportable."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import APPROVERS, MARKETERS
from messaging.models import Campaign, ImportJob, Suppression, VendorAccount
from messaging.services import campaign_commands
from tests.conftest import SECRET
from tests.foundation.test_vendor_account_admin import form_data

pytestmark = pytest.mark.django_db

Action = AuditEvent.Action


def only(action, **filters) -> AuditEvent:
    found = list(AuditEvent.objects.filter(action=action, **filters))
    assert len(found) == 1, (action, found)
    return found[0]


def of(campaign):
    return {"object_type": "messaging.campaign", "object_id": str(campaign.pk)}


@pytest.fixture
def campaign(make_campaign, vendor_account, marketer):
    return make_campaign(vendor_account, n=2, created_by=marketer)


def test_campaign_commands_record_who_and_from_where(
    campaign, make_campaign, vendor_account, marketer, marketer_client, admin_client, administrator
):
    # Portal: pause, resume, cancel by the marketer (the client's address is 127.0.0.1).
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.SENDING)
    marketer_client.post(reverse("portal:pause", args=[campaign.pk]))
    marketer_client.post(reverse("portal:resume", args=[campaign.pk]))
    # Nothing was waiting: resumed, it completed.  Another, cancelled in the admin:
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.status == Campaign.State.COMPLETED
    other = make_campaign(vendor_account, n=1, created_by=marketer, name="other")
    admin_client.post(reverse("admin:messaging_campaign_cancel", args=[other.pk]))
    paused = only(Action.PAUSED, **of(campaign))
    assert (paused.actor, paused.actor_name, paused.ip) == (
        marketer,
        marketer.username,
        "127.0.0.1",
    )
    assert only(Action.RESUMED, **of(campaign)).actor == marketer
    cancelled = only(Action.CANCELLED, **of(other))
    assert cancelled.actor == administrator and cancelled.object_repr == "other"


def test_send_and_schedule(make_campaign, vendor_account, marketer, marketer_client):
    now_one = make_campaign(vendor_account, n=1, created_by=marketer, name="now")
    later = make_campaign(vendor_account, n=1, created_by=marketer, name="later")
    later.scheduled_at = timezone.now() + timedelta(days=1)
    later.save()
    for c in (now_one, later):
        marketer_client.post(reverse("portal:confirm", args=[c.pk]), {"confirm": "1"})
    assert only(Action.SENT, **of(now_one)).actor == marketer
    scheduled = only(Action.SCHEDULED, **of(later))
    assert scheduled.actor == marketer and scheduled.details["at"]
    # The schedule taking effect is the system's doing.
    Campaign.objects.filter(pk=later.pk).update(scheduled_at=timezone.now())
    assert campaign_commands.start_if_due(later.pk)
    started = only(Action.SENT, **of(later))
    assert started.actor is None and started.actor_name == "system"


def test_compose_submit_approve_reject(campaign, marketer, approver, approver_client):
    client = Client()
    client.force_login(marketer)
    response = client.post(
        reverse("portal:compose"),
        {
            "name": "新活动",
            "kind": "sms",
            "body": "周末大促",
            "recipient_list": campaign.recipient_list_id,
            "vendor_account": campaign.vendor_account_id,
        },
    )
    assert response.status_code == 302
    new = Campaign.objects.get(name="新活动")
    assert only(Action.COMPOSED, **of(new)).details == {"created": True}
    client.post(reverse("portal:submit", args=[new.pk]))
    client.post(reverse("portal:submit", args=[campaign.pk]))
    approver_client.post(reverse("portal:approval_decide", args=[new.pk]), {"decision": "approve"})
    approver_client.post(
        reverse("portal:approval_decide", args=[campaign.pk]),
        {"decision": "reject", "comment": "名单不对"},
    )
    assert only(Action.SUBMITTED, **of(new)).actor == marketer
    assert only(Action.APPROVED, **of(new)).actor == approver
    assert only(Action.REJECTED, **of(campaign)).details["comment"] == "名单不对"


def test_test_send(sim_account, make_campaign, marketer, marketer_client):
    campaign = make_campaign(sim_account("ashx5g"), n=1, created_by=marketer)
    marketer_client.post(reverse("portal:test_send", args=[campaign.pk]), {"phone": "13912345678"})
    event = only(Action.TEST_SENT, **of(campaign))
    assert event.actor == marketer and event.details["phone"] == "13912345678"


def test_import_and_exports(marketer, marketer_client, admin_client, campaign, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    recipient_list = campaign.recipient_list
    upload = SimpleUploadedFile("list.csv", "手机号,name\n13800001111,张三\n".encode())
    marketer_client.post(
        reverse("portal:import_upload", args=[recipient_list.pk]), {"file": upload}
    )
    job = ImportJob.objects.get()
    marketer_client.post(
        reverse("portal:import_mapping", args=[job.pk]), {"phone_column": "手机号", "confirm": "1"}
    )
    imported = only(Action.IMPORTED)
    assert imported.actor == marketer and imported.object_id == str(recipient_list.pk)

    response = marketer_client.get(
        reverse("portal:export_recipients", args=[recipient_list.pk, "csv"])
    )
    b"".join(response.streaming_content)
    exported = only(Action.EXPORTED)
    assert exported.actor == marketer and exported.details["what"] == "recipients"

    admin_client.post(
        reverse("admin:messaging_message_changelist"),
        {"action": "export_messages_csv", "_selected_action": [], "select_across": "1"},
    )
    assert AuditEvent.objects.filter(action=Action.EXPORTED).count() in (1, 2)


def test_suppressions_added_and_removed_in_the_admin(marketer_client, admin_client, marketer):
    marketer_client.post(
        reverse("admin:messaging_suppression_add"),
        {"phone": "13900000009", "reason": "complaint", "evidence": "电话投诉"},
    )
    suppression = Suppression.objects.get()
    added = only(Action.SUPPRESSION_ADDED)
    assert added.actor == marketer and added.object_repr == str(suppression)
    admin_client.post(
        reverse("admin:messaging_suppression_delete", args=[suppression.pk]), {"post": "yes"}
    )
    assert not Suppression.objects.exists()
    removed = only(Action.SUPPRESSION_REMOVED)
    assert removed.actor_name == "alice-admin" and removed.object_id == str(suppression.pk)


def test_vendor_accounts_name_the_fields_never_a_secret(admin_client):
    admin_client.cookies["django_language"] = "en"
    add = reverse("admin:messaging_vendoraccount_add")
    assert admin_client.post(add, form_data("ashx5g", secret="Fresh-Secret-1")).status_code == 302
    account = VendorAccount.objects.get()
    only(Action.VENDOR_ACCOUNT_ADDED, object_id=str(account.pk))

    change = reverse("admin:messaging_vendoraccount_change", args=[account.pk])
    # The secret left empty (kept as it was) is no change; the name is.
    admin_client.post(change, form_data("ashx5g", secret="", name="renamed"))
    first = only(Action.VENDOR_ACCOUNT_CHANGED)
    assert "Name" in first.details["fields"]
    assert "password / secret" not in first.details["fields"]
    admin_client.post(change, form_data("ashx5g", secret="Newer-Secret-2", name="renamed"))
    second = AuditEvent.objects.filter(action=Action.VENDOR_ACCOUNT_CHANGED).exclude(pk=first.pk)
    (event,) = second
    assert "password / secret" in event.details["fields"] and "Name" not in event.details["fields"]
    trail = str(list(AuditEvent.objects.values_list("details", "object_repr")))
    assert "Newer-Secret-2" not in trail and "Fresh-Secret-1" not in trail and SECRET not in trail

    admin_client.post(
        reverse("admin:messaging_vendoraccount_delete", args=[account.pk]), {"post": "yes"}
    )
    assert not VendorAccount.objects.exists()
    only(Action.VENDOR_ACCOUNT_DELETED, object_id=str(account.pk))


def test_users_and_roles(admin_client, django_user_model):
    admin_client.cookies["django_language"] = "en"
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newbie",
            "role": MARKETERS,
            "password1": "Correct-Horse-9",
            "password2": "Correct-Horse-9",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    user = django_user_model.objects.get(username="newbie")
    assert only(Action.USER_ADDED).object_id == str(user.pk)
    assert only(Action.ROLE_CHANGED).details == {"from": "", "to": MARKETERS}

    change = reverse("admin:accounts_user_change", args=[user.pk])
    form = admin_client.get(change).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(role=APPROVERS, is_active="on", email="n@example.com")
    data.pop("groups", None)
    data.pop("user_permissions", None)
    data["last_login_0"] = data["last_login_1"] = ""
    data.pop("last_login", None)
    data.pop("date_joined", None)
    response = admin_client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    roles = AuditEvent.objects.filter(action=Action.ROLE_CHANGED).order_by("id")
    assert roles.last().details == {"from": MARKETERS, "to": APPROVERS}
    changed = only(Action.USER_CHANGED)
    assert "role" in changed.details["fields"] and "Email address" in changed.details["fields"]

    admin_client.post(reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"})
    assert only(Action.USER_DELETED).object_repr == "newbie"


def test_failed_login_recorded_with_the_address(client):
    client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    event = only(Action.LOGIN_FAILED)
    assert event.ip == "127.0.0.1" and event.details == {"username": "nobody"}


# --------------------------------------------------------------------------- the admin pages


def test_the_trail_is_read_only_for_everyone(django_user_model, admin_client, campaign):
    campaign_commands.cancel(campaign.pk, "x")
    event = AuditEvent.objects.get(action=Action.CANCELLED)
    root = django_user_model.objects.create_superuser("root", password="pw-root")
    superuser = Client()
    superuser.force_login(root)
    for client in (admin_client, superuser):
        assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
        change = reverse("admin:accounts_auditevent_change", args=[event.pk])
        page = client.get(change)
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        assert client.post(change, {"action": "login"}).status_code == 403
        delete = reverse("admin:accounts_auditevent_delete", args=[event.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.action == Action.CANCELLED


def test_filter_search_and_export(admin_client, marketer_client, marketer, campaign, administrator):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.State.SENDING)
    marketer_client.post(reverse("portal:pause", args=[campaign.pk]))
    admin_client.post(reverse("portal:cancel", args=[campaign.pk]))
    url = reverse("admin:accounts_auditevent_changelist")

    def listed(query):
        response = admin_client.get(url, query)
        assert response.status_code == 200
        return {e.action for e in response.context["cl"].result_list}

    assert listed({"action__exact": "paused"}) == {"paused"}
    assert listed({"actor": str(marketer.pk)}) == {"paused", "login"}
    assert listed({"q": "alice-admin"}) == {"cancelled", "login"}
    assert {"paused", "cancelled"} <= listed({"q": "127.0.0.1"})
    assert listed({"q": campaign.name}) == {"paused", "cancelled"}
    assert listed({"at__gte": timezone.localdate().isoformat()}) >= {"paused"}

    export = admin_client.get(reverse("admin:accounts_auditevent_export"), {"actor": marketer.pk})
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    # The marketer's login and pause, nobody else's.
    assert len(lines) == 3 and all("mike-marketer" in line for line in lines[1:])
    assert "127.0.0.1" in lines[1] and "alice-admin" not in text
    recorded = AuditEvent.objects.filter(action=Action.EXPORTED, actor=administrator).get()
    assert recorded.details["what"] == "audit trail"

    assert marketer_client.get(url).status_code == 403
    assert marketer_client.get(reverse("admin:accounts_auditevent_export")).status_code == 403


def test_a_password_set_by_an_administrator(admin_client, django_user_model):
    admin_client.cookies["django_language"] = "en"
    user = django_user_model.objects.create_user("pat", password="Old-Horse-9")
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": "New-Horse-Battery-9", "password2": "New-Horse-Battery-9"},
    )
    assert response.status_code == 302
    event = only(Action.USER_CHANGED)
    assert event.object_id == str(user.pk) and event.details == {"fields": ["password"]}
    assert "New-Horse" not in str(event.details)


def test_a_scheduled_campaign_taken_back_to_draft(campaign, marketer):
    campaign_commands.schedule(campaign, timezone.now() + timedelta(hours=2), exclude_missing=True)
    campaign_commands.back_to_draft(campaign.pk)
    assert only(Action.COMPOSED, **of(campaign)).details == {"draft": True}
