"""The four roles and what each may do.

Administrators manage vendor accounts (and their credentials) and users, and see the task
cluster's history and login lockouts; they schedule no tasks (the portal's schedules are made
by code) and never see, change or create a superuser (``accounts.admin``).  Marketers manage
templates, recipient lists and campaigns and read reports and replies; they may *view* vendor
accounts (to choose one for a campaign and see its balance) but never a credential: the secret
is write-only for everyone, and the admin hides the other connection details from viewers.

The groups and their permissions are created by ``accounts/migrations/0002_roles.py`` from the
tables below, kept in step by ``manage.py sync_roles`` and after every migrate, and a migration
re-applies the table to existing databases whenever a row changes (0003, 0004).

Approvers approve or reject the campaigns that need a second pair of eyes
(``PortalSettings`` says which) and send, pause, resume or cancel campaigns; they compose
nothing.  Analysts read everything a marketer reads, in the portal and the admin, and change
nothing.  What a role may *do* beyond its model permissions is a capability
(``CAPABILITIES``, asked through ``can``): the portal's views, its templates (the ``can``
filter) and the admin ask the same question.
"""

from django.contrib.auth.models import Group, Permission

ADMINISTRATORS = "Administrators"
MARKETERS = "Marketers"
APPROVERS = "Approvers"
ANALYSTS = "Analysts"
ROLES = (MARKETERS, APPROVERS, ADMINISTRATORS, ANALYSTS)

ALL = ("add", "change", "delete", "view")

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    ADMINISTRATORS: {
        "accounts.user": ALL,
        # The audit trail: read and exported, never written by hand (``messaging.admin.audit``).
        "accounts.auditevent": ("view",),
        "auth.group": ("view",),
        "messaging.vendoraccount": ALL,
        "messaging.template": ALL,
        "messaging.templatefile": ALL,
        "messaging.templateregistration": ALL,
        "messaging.recipientlist": ALL,
        "messaging.recipient": ALL,
        "messaging.suppression": ALL,
        "messaging.campaign": (*ALL, "send_notification"),
        "messaging.message": ("view",),
        "messaging.deliveryreport": ("view",),
        "messaging.inboundmessage": ("view", "change"),
        "messaging.pushrecord": ("view", "delete"),
        "messaging.sensitiveword": ALL,
        "messaging.importjob": ALL,
        "messaging.portalsettings": ("view", "change"),
        # Tasks: what ran and when, read-only.  Schedules call any dotted function with any
        # arguments, so only code (and superusers) create them; queued tasks belong to the
        # pipeline.  What a task was given and returned is shown to superusers only.
        "django_q.schedule": ("view",),
        "django_q.success": ("view", "delete"),
        "django_q.failure": ("view", "delete"),
        "django_q.ormq": ("view",),
        # Login lockouts (django-axes): seen, and cleared by deleting the attempt.
        "axes.accessattempt": ("view", "delete"),
        "axes.accesslog": ("view",),
        "axes.accessfailurelog": ("view",),
    },
    MARKETERS: {
        "messaging.vendoraccount": ("view",),
        "messaging.template": ALL,
        "messaging.templatefile": ALL,
        "messaging.templateregistration": ("view",),
        "messaging.recipientlist": ALL,
        "messaging.recipient": ALL,
        "messaging.suppression": ("add", "view"),
        "messaging.campaign": ALL,
        "messaging.message": ("view",),
        "messaging.deliveryreport": ("view",),
        "messaging.inboundmessage": ("view", "change"),
        "messaging.sensitiveword": ("view",),
        "messaging.importjob": ("add", "view"),
    },
}
# What marketers see, read-only: approvers review and operate campaigns through capabilities
# (``send``, ``approve``), never by editing them; analysts only read.
READ_ONLY: dict[str, tuple[str, ...]] = {label: ("view",) for label in ROLE_PERMISSIONS[MARKETERS]}
ROLE_PERMISSIONS[APPROVERS] = dict(READ_ONLY)
ROLE_PERMISSIONS[ANALYSTS] = dict(READ_ONLY)

COMPOSE = "compose"
"""Write and change draft campaigns, their messages, recipient lists and imports."""
SUBMIT = "submit"
"""Submit a campaign for approval."""
SEND = "send"
"""Start or schedule a campaign (once it needs no approval or has it), test-send it, pause,
resume, cancel it, send its unresolved messages again."""
APPROVE = "approve"
"""Approve or reject a campaign submitted by someone else."""
MANAGE = "manage"
"""Vendor accounts, users and roles, the portal's settings."""
AUDIT = "audit"
"""Read and export the audit trail."""
VIEW = "view"
"""The portal's pages and reports."""

CAPABILITIES: dict[str, frozenset[str]] = {
    VIEW: frozenset(ROLES),
    COMPOSE: frozenset({MARKETERS, ADMINISTRATORS}),
    SUBMIT: frozenset({MARKETERS, ADMINISTRATORS}),
    # A marketer sends what needs no approval, or what an approver approved (the approval
    # rule itself is ``messaging.services.approval``, enforced by the campaign commands).
    SEND: frozenset({MARKETERS, APPROVERS, ADMINISTRATORS}),
    APPROVE: frozenset({APPROVERS}),
    MANAGE: frozenset({ADMINISTRATORS}),
    AUDIT: frozenset({ADMINISTRATORS}),
}
"""Which roles have each capability; a superuser has them all."""


def can(user, capability: str) -> bool:
    """The one answer to "may this user do that" beyond model permissions."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return any(has_role(user, role) for role in CAPABILITIES[capability])


def role_of(user) -> str | None:
    """The user's role (one per user), or None."""
    for role in ROLES:
        if has_role(user, role):
            return role
    return None


def has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_role_cache", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._role_cache = cache
    return role in cache


def sync_roles(group_model=Group, permission_model=Permission) -> None:
    """Create the groups and give each exactly its permissions.  Usable from a migration
    (pass the historical models), from ``manage.py sync_roles`` and after every migrate.

    A model added later has no permissions yet when an early migration runs this; those are
    skipped there and granted by the post-migrate run."""
    for role, table in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for model_label, actions in table.items():
            app_label, model = model_label.split(".")
            for action in actions:
                wanted.append((app_label, f"{action}_{model}"))
        wanted_codenames = {f"{app}.{codename}" for app, codename in wanted}
        permissions = [
            permission
            for permission in permission_model.objects.select_related("content_type")
            if f"{permission.content_type.app_label}.{permission.codename}" in wanted_codenames
        ]
        group.permissions.set(permissions)
