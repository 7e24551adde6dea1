"""Create the first users and, for the demo, vendor accounts pointing at the simulator.

Idempotent: run it as often as you like.  Passwords come from PORTAL_ADMIN_PASSWORD and
PORTAL_MARKETER_PASSWORD when set; otherwise new ones are generated for new users and printed.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import ADMINISTRATORS, MARKETERS
from messaging.models import Campaign, Recipient, RecipientList, Template, VendorAccount
from messaging.vendors.registry import VENDOR_CHOICES, vendor

DEMO_SECRET = "demo-secret"
# Account ids as each vendor issues them: a montnets userid is at most 6 upper-case
# characters (document 002, 2.1.3), sent upper-cased; the others take any id.
DEMO_ACCOUNT_IDS = {"montnets": "DEMO01"}
DEMO_RECIPIENTS = [
    ("13800000001", {"name": "张三", "points": "1200"}),
    ("13800000002", {"name": "李四", "points": "880"}),
    ("13800000003", {"name": "王五", "points": "15"}),
    ("13900000004", {"name": "赵六", "points": "3021"}),
    ("13900000005", {"name": "Alice", "points": "77"}),
]


class Command(BaseCommand):
    help = "Create an administrator, a marketer and (with --demo) demo data for the simulator."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="also create demo data")
        parser.add_argument(
            "--simulator-url", default=os.environ.get("SIMULATOR_URL", "http://127.0.0.1:8025")
        )

    @transaction.atomic
    def handle(self, *args, demo=False, simulator_url="", **options):
        self.logins: list[dict] = []
        """For ``runportal --demo``'s box: username, password (None when unchanged), the
        variable that sets it."""
        self._user("admin", ADMINISTRATORS, "PORTAL_ADMIN_PASSWORD", superuser=True)
        marketer = self._user("marketer", MARKETERS, "PORTAL_MARKETER_PASSWORD")
        if demo:
            self._demo(simulator_url.rstrip("/"), marketer)

    def _user(self, username, role, password_env, superuser=False):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": superuser}
        )
        password = os.environ.get(password_env)
        self.logins.append({"username": username, "password": None, "env": password_env})
        if created or password:
            password = password or secrets.token_urlsafe(9)
            user.set_password(password)
            user.save()
            self.logins[-1]["password"] = password
            self.stdout.write(
                self.style.SUCCESS(
                    f"  login: {username} / {password}   ({role}; set {password_env} to choose)"
                )
            )
        else:
            self.stdout.write(
                f"  login: {username} (password unchanged; set {password_env} to reset it)"
            )
        user.groups.add(Group.objects.get(name=role))
        return user

    @staticmethod
    def _repair(account: VendorAccount, key: str) -> None:
        """A demo account an earlier version made broken: montnets' ``demo-montnets`` (no
        userid the vendor issues, so the simulator does not know it) and sms.cn without
        polling (so no report ever came).  Anything else an administrator set stays."""
        fixes = {}
        if key in DEMO_ACCOUNT_IDS and account.account_id == f"demo-{key}":
            fixes["account_id"] = DEMO_ACCOUNT_IDS[key]
        if "report" not in vendor(key).capabilities.pushes and not account.polling_enabled:
            fixes["polling_enabled"] = True
        if fixes:
            VendorAccount.objects.filter(pk=account.pk).update(**fixes)

    def _demo(self, simulator_url, marketer):
        for key, label in VENDOR_CHOICES:
            account, created = VendorAccount.objects.get_or_create(
                name=f"Demo {label}",
                defaults={
                    "vendor": key,
                    "base_url": f"{simulator_url}/{key}",
                    "account_id": DEMO_ACCOUNT_IDS.get(key, f"demo-{key}"),
                    "secret": DEMO_SECRET,
                    "extension": "1234",
                    "signature": "【演示商城】",
                    "push_enabled": True,
                    # A vendor that cannot push reports (sms.cn) is polled, or its reports
                    # would never come.
                    "polling_enabled": "report" not in vendor(key).capabilities.pushes,
                },
            )
            if not created:
                self._repair(account, key)
        template, _ = Template.objects.get_or_create(
            name="会员积分提醒",
            defaults={
                "body": "<name>您好，您的会员积分为<points>，本周末可兑换好礼。",
                "created_by": marketer,
            },
        )
        demo_list, created = RecipientList.objects.get_or_create(
            name="演示名单", defaults={"columns": ["name", "points"], "created_by": marketer}
        )
        if created:
            Recipient.objects.bulk_create(
                Recipient(
                    recipient_list=demo_list, phone=phone, variables=variables, source_row=row
                )
                for row, (phone, variables) in enumerate(DEMO_RECIPIENTS, start=2)
            )
        # A draft ready to send: Campaigns → 演示活动 → Preview and send.
        Campaign.objects.get_or_create(
            name="演示活动",
            defaults={
                "template": template,
                "vendor_account": VendorAccount.objects.get(name=f"Demo {VENDOR_CHOICES[0][1]}"),
                "recipient_list": demo_list,
                "created_by": marketer,
            },
        )
        self.stdout.write(
            f"  demo data ready: vendor accounts at {simulator_url}, "
            "a draft campaign 演示活动 to preview and send"
        )
