"""The portal's domain model.

Only ``messaging.services`` writes message and campaign state; views, tasks and push receivers
call services.  See ``Message`` for the lifecycle.
"""

from __future__ import annotations

import secrets
from datetime import time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedTextField
from .media_types import CONTENT_TYPE_CHOICES
from .statuses import Status
from .vendors.registry import VENDOR_CHOICES


def new_push_token() -> str:
    return secrets.token_urlsafe(32)


signature_validator = RegexValidator(
    r"^【[^【】]{2,16}】$",
    _("A signature is 2 to 16 characters inside 【 and 】, e.g. 【某某商城】."),
)


DEFAULT_PRICE_PER_PART = Decimal("0.05")
"""Yuan per billed part for a new account (a typical Chinese marketing SMS price)."""
DEFAULT_MAX_FILE_KB = 2048
"""Largest template file for a new account.  The vendors' documents name no limit of their
own; administrators lower it to what their contract says."""
DEFAULT_MAX_TEMPLATE_KB = 5120
"""Largest total of a template's files for a new account."""


class VendorAccount(models.Model):
    """An account at one of the vendors, registered by an administrator.

    ``secret`` is encrypted at rest and never shown back, to anyone; marketers see an account's
    name, vendor, signature and balance so they can choose it for a campaign, nothing more."""

    class AuthMode(models.TextChoices):
        PLAIN = "plain", _("Plain password")
        MD5 = "md5", _("MD5 digest")

    vendor = models.CharField(_("vendor"), max_length=20, choices=VENDOR_CHOICES)
    name = models.CharField(_("name"), max_length=100, unique=True)
    base_url = models.URLField(
        _("base URL"), help_text=_("The vendor's API address, e.g. http://ip:8001")
    )
    account_id = models.CharField(_("account id"), max_length=100)
    secret = EncryptedTextField(_("password / secret"), blank=True)
    auth_mode = models.CharField(
        _("authentication"),
        max_length=10,
        choices=AuthMode.choices,
        default=AuthMode.MD5,
        help_text=_("MD5 where the vendor offers it; the password then never travels."),
    )
    extension = models.CharField(
        _("extension / sender number"),
        max_length=30,
        blank=True,
        help_text=_("Extension code or sender number replies come back to."),
    )
    signature = models.CharField(
        _("signature"), max_length=20, blank=True, validators=[signature_validator]
    )
    opt_out_suffix = models.CharField(
        _("opt-out suffix"),
        max_length=20,
        default="回T退订",
        blank=True,
        help_text=_("Appended to marketing messages, e.g. 回T退订 or 拒收请回复R."),
    )
    push_enabled = models.BooleanField(_("receive pushes"), default=True)
    push_token = models.CharField(
        _("push token"), max_length=64, unique=True, default=new_push_token, editable=False
    )
    polling_enabled = models.BooleanField(_("poll reports and replies"), default=False)
    poll_interval_s = models.PositiveIntegerField(
        _("polling interval (s)"), default=10, validators=[MinValueValidator(1)]
    )
    rate_limit_per_s = models.PositiveIntegerField(
        _("send rate limit (messages/s)"), default=1000, validators=[MinValueValidator(1)]
    )
    options = models.JSONField(
        _("vendor options"),
        default=dict,
        blank=True,
        help_text=_('Vendor-specific settings, e.g. {"encode": "utf8"} for sms.cn.'),
    )
    price_per_part = models.DecimalField(
        _("price per part (yuan)"),
        max_digits=10,
        decimal_places=4,
        default=DEFAULT_PRICE_PER_PART,
        validators=[MinValueValidator(Decimal(0))],
        help_text=_(
            "What the vendor charges per billed part (an MMS, video or 5G message is one "
            "part). Vendors publish no price through their APIs: the cost shown before a "
            "send is an estimate from this price."
        ),
    )
    max_file_kb = models.PositiveIntegerField(
        _("largest template file (KB)"),
        default=DEFAULT_MAX_FILE_KB,
        validators=[MinValueValidator(1)],
        help_text=_("The largest file of an MMS, video or 5G template the vendor takes."),
    )
    max_template_kb = models.PositiveIntegerField(
        _("largest template (KB)"),
        default=DEFAULT_MAX_TEMPLATE_KB,
        validators=[MinValueValidator(1)],
        help_text=_("The largest total of one template's files the vendor takes."),
    )
    # The send window of this account's marketing messages, instead of the portal's (both
    # empty: the portal's, ``PortalSettings``); a campaign may narrow it further.
    send_window_start = models.TimeField(_("send window opens"), null=True, blank=True)
    send_window_end = models.TimeField(
        _("send window closes"),
        null=True,
        blank=True,
        help_text=_("Leave both empty to use the portal's send window."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    balance = models.DecimalField(
        _("balance"), max_digits=14, decimal_places=3, null=True, blank=True, editable=False
    )
    balance_unit = models.CharField(_("balance unit"), max_length=20, blank=True, editable=False)
    balance_checked_at = models.DateTimeField(_("balance checked"), null=True, editable=False)
    low_balance_threshold = models.DecimalField(
        _("low-balance warning below"),
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("The dashboard warns when the balance falls below this amount."),
    )
    report_window_hours = models.PositiveIntegerField(
        _("report window (hours)"),
        default=72,
        validators=[MinValueValidator(1)],
        help_text=_(
            "How long the vendor may take to report a message.  A message whose outcome is "
            "unknown when this has passed becomes 'no report'."
        ),
    )
    last_error = models.TextField(_("last vendor error"), blank=True, editable=False)
    reports_polled_at = models.DateTimeField(
        _("reports last polled"), null=True, blank=True, editable=False
    )
    replies_polled_at = models.DateTimeField(
        _("replies last polled"), null=True, blank=True, editable=False
    )
    poll_backoff_until = models.DateTimeField(
        _("no polls before"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The vendor answered that polls came too often."),
    )
    send_slot_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the next request may go out under the rate limit (shared by workers).",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("vendor account")
        verbose_name_plural = _("vendor accounts")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_vendor_display()})"

    def clean(self):
        super().clean()
        if (self.send_window_start is None) != (self.send_window_end is None):
            raise ValidationError(
                {"send_window_end": _("Give both ends of the send window, or neither.")}
            )
        if self.vendor:
            from .vendors.base import check_options
            from .vendors.registry import vendor

            # The options the vendor declares, each of a declared value: anything else is
            # refused here (on the admin form: an error on the field, what was typed kept).
            options, errors = check_options(vendor(self.vendor).options, self.options or {})
            if errors:
                raise ValidationError({"options": errors})
            self.options = options
        if self.vendor and self.polling_enabled:
            from .vendors.registry import vendor

            minimum = vendor(self.vendor).capabilities.min_poll_interval_s
            if self.poll_interval_s < minimum:
                raise ValidationError(
                    {
                        "poll_interval_s": _("This vendor allows polling every %(s)s s at most.")
                        % {"s": minimum}
                    }
                )

    @property
    def push_path(self) -> str:
        return reverse("push:receive", kwargs={"account_pk": self.pk, "token": self.push_token})

    @property
    def push_url(self) -> str:
        return settings.PORTAL_BASE_URL.rstrip("/") + self.push_path

    def client(self):
        """This account's vendor adapter."""
        from .vendors.base import AccountConfig
        from .vendors.registry import vendor

        config = AccountConfig(
            base_url=self.base_url.rstrip("/"),
            account_id=self.account_id,
            secret=self.secret,
            auth_mode=self.auth_mode,
            extension=self.extension,
            signature=self.signature,
            push_url=self.push_url if self.push_enabled else "",
            options={str(k): str(v) for k, v in (self.options or {}).items()},
        )
        return vendor(self.vendor).client(config)


class TemplateQuerySet(models.QuerySet):
    def library(self):
        """The saved templates a marketer starts from: not the campaigns' own messages."""
        return self.filter(is_draft=False)


class Template(models.Model):
    class Kind(models.TextChoices):
        SMS = "sms", _("SMS / long SMS")
        MMS = "mms", _("MMS / video")
        RCS = "5g", _("5G message")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SMS)
    body = models.TextField(
        _("body"),
        # Escaped: forms and the admin show help texts as HTML, where <name> would vanish.
        help_text=escape(
            _("Text with <var> placeholders, e.g. Dear <name>, you have <points> points.")
        ),
    )
    signature = models.CharField(
        _("signature"),
        max_length=20,
        blank=True,
        validators=[signature_validator],
        help_text=_("Leave empty to use the vendor account's signature."),
    )
    is_marketing = models.BooleanField(
        _("marketing"),
        default=True,
        help_text=_("Marketing messages must carry the opt-out suffix."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    is_draft = models.BooleanField(
        _("campaign's own message"),
        default=False,
        db_index=True,
        help_text=_(
            "Written in the composer for the one campaign that uses it: not in the template "
            "library, changed only with that campaign."
        ),
    )
    category = models.CharField(
        _("category"),
        max_length=50,
        blank=True,
        db_index=True,
        help_text=_(
            "Groups saved templates in the portal's template list, e.g. Members or Promotions."
        ),
    )
    source = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="copies",
        verbose_name=_("made from"),
        help_text=_("The saved template a campaign's own message was copied from."),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def needs_vendor_approval(self) -> bool:
        return self.kind != self.Kind.SMS


def template_file_path(instance: TemplateFile, filename: str) -> str:
    return f"templates/{instance.template_id}/{filename}"


class TemplateFile(models.Model):
    """One file of an MMS / video / 5G template frame."""

    CONTENT_TYPES = CONTENT_TYPE_CHOICES
    """Derived from the one table of media types (``media_types.MEDIA_TYPES``)."""

    template = models.ForeignKey(
        Template, on_delete=models.CASCADE, related_name="files", verbose_name=_("template")
    )
    frame = models.PositiveSmallIntegerField(_("frame"), default=1)
    order = models.PositiveSmallIntegerField(_("order in frame"), default=1)
    content_type = models.CharField(_("content type"), max_length=30, choices=CONTENT_TYPES)
    file = models.FileField(_("file"), upload_to=template_file_path)

    class Meta:
        verbose_name = _("template file")
        verbose_name_plural = _("template files")
        ordering = ["template", "frame", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "frame", "order"], name="template_file_position_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.template} #{self.frame}.{self.order} {self.content_type}"


class TemplateRegistration(models.Model):
    """A template as registered (and reviewed) at one vendor account."""

    class Review(models.TextChoices):
        DRAFT = "draft", _("Not submitted")
        PENDING = "pending", _("Under review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    template = models.ForeignKey(
        Template,
        on_delete=models.CASCADE,
        related_name="registrations",
        verbose_name=_("template"),
    )
    vendor_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.CASCADE,
        related_name="template_registrations",
        verbose_name=_("vendor account"),
    )
    vendor_template_id = models.CharField(_("vendor template id"), max_length=64, blank=True)
    review_status = models.CharField(
        _("review status"), max_length=10, choices=Review.choices, default=Review.DRAFT
    )
    review_reason = models.TextField(_("review note"), blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    raw = models.TextField(_("raw vendor answer"), blank=True)

    class Meta:
        verbose_name = _("template registration")
        verbose_name_plural = _("template registrations")
        constraints = [
            models.UniqueConstraint(
                fields=["template", "vendor_account"], name="one_registration_per_account"
            )
        ]
        indexes = [models.Index(fields=["vendor_account", "vendor_template_id"])]

    def __str__(self) -> str:
        return f"{self.template} @ {self.vendor_account}: {self.get_review_status_display()}"


class RecipientListQuerySet(models.QuerySet):
    def with_counts(self):
        """Each list with ``n`` (its recipients) and ``campaigns_n`` (the campaigns sent to
        it), each counted by a subquery through its own index: joining both in one query
        would pair every recipient with every campaign (seconds for a list of 1M)."""
        return self.annotate(n=_count_per_list(Recipient), campaigns_n=_count_per_list(Campaign))


def _count_per_list(model) -> Coalesce:
    """The rows of ``model`` that belong to the outer query's recipient list, counted."""
    rows = (
        model.objects.filter(recipient_list=models.OuterRef("pk"))
        .order_by()
        .values("recipient_list")
        .annotate(count=models.Count("*"))
        .values("count")
    )
    return Coalesce(models.Subquery(rows), 0)


class RecipientList(models.Model):
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    columns = models.JSONField(
        _("variable columns"),
        default=list,
        blank=True,
        help_text=escape(_("Column names usable as <var> placeholders.")),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RecipientListQuerySet.as_manager()

    class Meta:
        verbose_name = _("recipient list")
        verbose_name_plural = _("recipient lists")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    # Recipients arrive a million at a time from the importer (their only writer, with the
    # list locked).  The unique (list, phone) index serves every lookup by list, so no index
    # of its own; and no database constraint check per row at commit, which cost as much as
    # the rows' insert (Django keeps on_delete).
    recipient_list = models.ForeignKey(
        RecipientList,
        on_delete=models.CASCADE,
        related_name="recipients",
        verbose_name=_("recipient list"),
        db_index=False,
        db_constraint=False,
    )
    phone = models.CharField(
        _("phone"), max_length=20, help_text=_("Normalized: 11-digit mobile or E.164.")
    )
    variables = models.JSONField(_("variables"), default=dict, blank=True)
    source_row = models.PositiveIntegerField(_("spreadsheet row"), null=True, blank=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_list", "phone"], name="recipient_unique_per_list"
            )
        ]
        indexes = [
            models.Index(fields=["phone"]),
            # A start reads its list chunk by chunk in pk order (``sending.start_chunk``):
            # without it the first chunk's boundary took 0.3 s on a fresh list of a million,
            # and each chunk read the list's whole (list, phone) index.
            models.Index(fields=["recipient_list", "id"], name="recipient_list_order"),
        ]

    def __str__(self) -> str:
        return self.phone


class SuppressionQuerySet(models.QuerySet):
    def active(self):
        """The suppressions in force: a lifted one is kept as history and suppresses nothing.
        Every reader that decides whether a phone may receive marketing uses this."""
        return self.filter(lifted_at__isnull=True)


class Suppression(models.Model):
    """A phone that must not receive marketing messages any more.

    Lifting (a re-subscribe reply, or a person) keeps the row with who, when and why: the
    evidence of both the opt-out and its end stays.  One phone has at most one suppression in
    force; a phone that opts out again after a lift gets a new row."""

    class Reason(models.TextChoices):
        OPT_OUT = "opt_out", _("Opt-out reply")
        MANUAL = "manual", _("Added manually")
        COMPLAINT = "complaint", _("Complaint")

    phone = models.CharField(_("phone"), max_length=20)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    evidence = models.TextField(_("evidence"), blank=True)
    inbound_message = models.ForeignKey(
        "InboundMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reply"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True, editable=False)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("lifted by"),
    )
    lifted_reason = models.TextField(_("why lifted"), blank=True, editable=False)
    lifting_reply = models.ForeignKey(
        "InboundMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("re-subscribe reply"),
    )
    confirmation = models.ForeignKey(
        "Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("opt-out confirmation"),
    )

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        verbose_name = _("suppressed phone")
        verbose_name_plural = _("suppression list")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"],
                condition=Q(lifted_at__isnull=True),
                name="suppression_one_active_per_phone",
            )
        ]
        indexes = [models.Index(fields=["phone", "-created_at"], name="suppression_phone_time")]

    def __str__(self) -> str:
        return self.phone

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class ArchiveState(models.TextChoices):
    """A campaign's archive (``services.archive``)::

    (none) ──► queued ──► writing ──► removing ──► archived
                 ▲           │            │ (killed: a rerun continues the removal)
                 └─ failed ◄─┘            │
                 (killed while writing: rewritten from the start)
    """

    NONE = "", _("Not archived")
    QUEUED = "queued", _("Waiting to archive")
    WRITING = "writing", _("Writing the archive")
    REMOVING = "removing", _("Removing archived messages")
    ARCHIVED = "archived", _("Archived")
    FAILED = "failed", _("Archiving failed")


def campaign_archive_path(instance: Campaign, filename: str) -> str:
    return f"archives/campaigns/{instance.pk}/{secrets.token_hex(8)}-{filename[-80:]}"


class Campaign(models.Model):
    """A send of one template to one recipient list through one vendor account.

    ::

        draft ──► scheduled ──► starting ──► sending ──► completed
          │  └─────────┬──────────▲    │          │  ▲          │
          │            └─(start)──┘    │          ▼  │          │ resend unresolved
          │                            │         paused         ▼ (explicit choice)
          │                            │           │ (by the marketer, or by the vendor:
          │                            │           │  credentials, balance, sender number,
          │                            │           │  signature, vendor down for long)
          └────────────────────────────┴───────────┴──► cancelled
                                       └──► failed      (nothing can be sent; reason kept)

    ``starting`` is written when the marketer confirms and committed before anything else, so
    a start whose worker dies is found and run again (``services.sending.recover``).  Every
    change of state goes through ``services.campaigns_commands`` (see there).
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        STARTING = "starting", _("Starting")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class PauseCause(models.TextChoices):
        PERSON = "person", _("a person")
        VENDOR = "vendor", _("the vendor, refusing the account")
        WINDOW = "window", _("the send window")

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(
        Template, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("template")
    )
    vendor_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("vendor account"),
    )
    recipient_list = models.ForeignKey(
        RecipientList,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("recipient list"),
    )
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=State.choices, default=State.DRAFT
    )
    status_reason = models.TextField(_("status reason"), blank=True)
    exclude_missing = models.BooleanField(
        _("skip recipients missing a value"),
        default=True,
        help_text=_("Otherwise a recipient missing a placeholder's value stops the start."),
    )
    start_requested_at = models.DateTimeField(_("start requested"), null=True, blank=True)
    # A narrower send window for this campaign's marketing messages (within the account's or
    # the portal's, ``services.compliance``); empty: the whole window.
    send_window_start = models.TimeField(_("send from"), null=True, blank=True)
    send_window_end = models.TimeField(_("send until"), null=True, blank=True)
    # Paused outside the send window: when the window opens again and the dispatcher
    # resumes it (None: not waiting for the window).
    resume_at = models.DateTimeField(_("resumes at"), null=True, blank=True, editable=False)
    pause_cause = models.CharField(
        _("paused by"), max_length=10, choices=PauseCause.choices, blank=True, editable=False
    )
    """Who or what paused the campaign (empty unless paused): a paused campaign's page tells
    an administrator to act on the account only when the vendor paused it."""
    # A start writes the messages chunk by chunk (``services.sending.start_campaign``): the
    # last recipient written, set while chunks are left (the campaign may already be
    # sending), None before the first chunk and once the last one is written; and when the
    # start last committed a chunk (a start silent for long is taken over by ``recover``).
    start_cursor = models.BigIntegerField(_("start written up to recipient"), null=True, blank=True)
    start_progress_at = models.DateTimeField(_("start last progressed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Counters are refreshed by services from Message rows (campaign + status index).
    total_count = models.PositiveIntegerField(_("messages"), default=0)
    pending_count = models.PositiveIntegerField(_("waiting to send"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    submitted_count = models.PositiveIntegerField(_("submitted"), default=0)
    delivered_count = models.PositiveIntegerField(_("delivered"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    unknown_count = models.PositiveIntegerField(_("unknown"), default=0)
    no_report_count = models.PositiveIntegerField(_("no report"), default=0)
    segment_count = models.PositiveIntegerField(_("billed parts"), default=0)
    # Archiving (``services.archive``): the messages written to ``archive_file``, then removed
    # from the message and report tables; the counters above stay as they were.
    archive_state = models.CharField(
        _("archive"),
        max_length=10,
        choices=ArchiveState.choices,
        default=ArchiveState.NONE,
        blank=True,
        editable=False,
    )
    archive_file = models.FileField(
        _("archive file"),
        upload_to=campaign_archive_path,
        max_length=255,
        blank=True,
        editable=False,
    )
    archived_message_count = models.PositiveIntegerField(
        _("archived messages"), default=0, editable=False
    )
    archive_removed_count = models.PositiveIntegerField(
        _("messages removed"), default=0, editable=False
    )
    archive_progress_at = models.DateTimeField(
        _("archive last progressed"), null=True, blank=True, editable=False
    )
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True, editable=False)
    archive_error = models.TextField(_("archive error"), blank=True, editable=False)
    # Moves with the counters (and with a rebuild of the kept stats): the campaign page's
    # stats answer "not modified" while it stands still.
    stats_version = models.PositiveBigIntegerField(_("stats version"), default=0, editable=False)

    # Approval (``services.approval`` says when one is needed; ``campaign_commands`` alone
    # writes these): submitted, then approved or rejected by an approver who is not the
    # author.  The fingerprint is the content, list and account the approver saw: when they
    # change, the approval no longer holds.
    class Approval(models.TextChoices):
        NONE = "", _("Not submitted")
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    approval_status = models.CharField(
        _("approval"),
        max_length=10,
        choices=Approval.choices,
        default=Approval.NONE,
        blank=True,
        editable=False,
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    approved_at = models.DateTimeField(_("reviewed"), null=True, blank=True, editable=False)
    approval_comment = models.TextField(_("review comment"), blank=True, editable=False)
    approval_fingerprint = models.CharField(
        _("content approved"), max_length=64, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "scheduled_at"]),
            models.Index(fields=["approval_status", "created_at"], name="campaign_approval"),
        ]
        permissions = [
            # Sending a notification (not marketing) skips the suppression list and the
            # opt-out suffix: a separate permission, used with a reason that is audited.
            ("send_notification_campaign", _("Can send notification (non-marketing) campaigns")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def delivery_rate(self) -> float | None:
        settled = self.delivered_count + self.failed_count
        return self.delivered_count / settled if settled else None

    @property
    def progress(self) -> float:
        """Share of messages that have left the queue (0..1)."""
        if not self.total_count:
            return 0.0
        return 1.0 - self.pending_count / self.total_count


class SendBatch(models.Model):
    """One vendor request's worth of a campaign's messages: the unit that is claimed, sent and
    recorded exactly once.

    ::

        pending ──► claimed ──► sending ──► answered ──► done
           ▲  ▲        │           │                       (applied; more waves: claimed)
           │  └────────┘           └──► done   (worker lost with the request out: unknown)
           │  (paused, cancelled or worker lost before anything left: untouched)
           └─────────────────────────────── (requeue: nothing was taken; back off, try again)

    ``claimed``: one worker holds it (rate-limit wait, building the request); its messages are
    still ``queued``.  ``sending``: the request is about to leave or out; its messages are
    ``submitting`` — committed *before* the vendor is called, after a last look at the
    campaign, so a pause or cancel acknowledged on the page stops it.  ``answered``: the
    vendor's answer, decided per recipient (``services.outcomes``), is stored durably before
    it is applied; a worker that dies then leaves it for ``recover`` to apply.  A worker keeps
    ``lease_until`` in the future while it holds the batch; ``recover`` takes over batches
    whose lease ran out.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        CLAIMED = "claimed", _("Claimed")
        SENDING = "sending", _("Sending")
        ANSWERED = "answered", _("Answered")
        DONE = "done", _("Done")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="batches", verbose_name=_("campaign")
    )
    number = models.PositiveIntegerField(_("number"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PENDING)
    size = models.PositiveIntegerField(_("messages"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("held until"), null=True, blank=True)
    enqueued_at = models.DateTimeField(_("enqueued at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    request_shape = models.CharField(_("request"), max_length=16, blank=True)
    answer = models.JSONField(_("answer to apply"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("send batch")
        verbose_name_plural = _("send batches")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="batch_number_unique")
        ]
        indexes = [models.Index(fields=["campaign", "state"], name="batch_campaign_state")]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.number} {self.get_state_display()}"


class Message(models.Model):
    """One SMS to one phone.  Lifecycle (only ``messaging.services`` moves it, forward only)::

        queued ──► submitting ──► submitted ──► delivered
         ▲ │ ▲          │   │          └──────► undelivered | expired | rejected
         │ │ └─requeue──┘   ├──► failed     (the vendor refused it; reason kept)
         │ │ (nothing taken:└──► unknown    (the request left, its answer was lost or
         │ │  retry later,       │           unreadable: the vendor may have it; reconciled
         │ │  or paused for      │           by delivery reports, never re-sent blindly)
         │ │  the account)       └──► no report  (the account's report window passed)
         │ └──► skipped   (suppressed, a missing variable, cancelled)
         └──── resend     (unknown / no report → queued: the marketer's explicit choice)

    A status only moves to a higher rank (``messaging.statuses.RANK``): a duplicate or late
    report, or a late submit answer, never overwrites a final status.  The two backward
    edges (requeue, resend) are named moves of ``services.lifecycle``, the only module that
    changes a message's status.  ``submitted_at`` is when the request left.
    """

    # Messages are written a million at a time.  Their foreign keys are kept by Django
    # (on_delete) and by the services, the only writers; database constraints would check
    # each row again at commit, which doubled the time of a campaign start on PostgreSQL.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        help_text=_("Empty for test sends."),
        db_constraint=False,
        db_index=False,  # the (campaign, id) index below serves its lookups
    )
    send_batch = models.ForeignKey(
        SendBatch,
        on_delete=models.SET_NULL,
        related_name="messages",
        null=True,
        blank=True,
        verbose_name=_("batch"),
        db_constraint=False,
    )
    variables = models.JSONField(
        _("variables"),
        default=list,
        blank=True,
        help_text=_("Values for vendor template (MMS / 5G) sends, in placeholder order."),
    )
    vendor_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.PROTECT,
        related_name="messages",
        verbose_name=_("vendor account"),
        db_index=False,  # the (vendor_account, …) indexes below serve its lookups
        db_constraint=False,
    )
    phone = models.CharField(_("phone"), max_length=20)
    content = models.TextField(_("content"))
    segments = models.PositiveSmallIntegerField(_("parts"), default=1)
    custom_id = models.CharField(
        _("our id"),
        max_length=32,
        help_text=_("The id we send to the vendor where it accepts one."),
    )
    vendor_message_id = models.CharField(_("vendor message id"), max_length=64, blank=True)
    vendor_batch_id = models.CharField(_("vendor batch id"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    vendor_status_code = models.CharField(_("vendor code"), max_length=32, blank=True)
    vendor_status_description = models.CharField(
        _("vendor description"), max_length=255, blank=True
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    final_at = models.DateTimeField(_("final status at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        # Every message is written three times after its insert (taken off, answered,
        # reported), millions per campaign.  Neither ``status`` nor the report fields are
        # indexed, so on PostgreSQL the take-off and the report moves are HOT (heap-only: no
        # index entry is written) where the page has room, which the table's fillfactor keeps
        # (50: migration 0010).  The answer sets the vendor's id, which report matching needs
        # indexed, so it writes an entry into every index: each index costs every start and
        # every answer (~0.1 s per 25,000 answered messages), so there are no more of them
        # than the lookups need.  Campaign counters are kept incrementally, so no
        # (campaign, status) index is needed either.
        indexes = [
            # Report matching: the vendor's id within one account.
            models.Index(
                fields=["vendor_account", "vendor_message_id"],
                name="message_vendor_id",
                condition=~Q(vendor_message_id=""),
            ),
            # A phone's messages: searches, frequency caps, and matching a reply or a report
            # by phone on an account (a phone has few messages: the account is a filter).
            models.Index(fields=["phone"], name="message_phone"),
            # A campaign's messages, newest first a page at a time (the admin's list filtered
            # by campaign; the id never changes, so status moves stay heap-only updates).
            models.Index(fields=["campaign", "id"], name="message_campaign_newest"),
        ]
        constraints = [
            # A constraint rather than unique=True: on PostgreSQL that adds a second,
            # pattern-matching index nobody queries.
            models.UniqueConstraint(fields=["custom_id"], name="message_custom_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} [{self.get_status_display()}]"


class DeliveryReport(models.Model):
    """A delivery report as the vendor sent it (raw kept), parsed, and matched if possible."""

    class Source(models.TextChoices):
        PUSH = "push", _("Pushed by vendor")
        POLL = "poll", _("Polled")

    # Reports are an append-only log written tens of thousands a second: their foreign keys
    # are kept by Django (on_delete) and the one writer (messaging.services.reports), not by
    # database constraints, whose per-row checks at commit cost a push of 500 reports about
    # as much as storing them.  For the same reason every index here earns its writes: the
    # account is the first column of the two below, not an index of its own.
    vendor_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.CASCADE,
        related_name="delivery_reports",
        verbose_name=_("vendor account"),
        db_constraint=False,
        db_index=False,
    )
    source = models.CharField(_("source"), max_length=4, choices=Source.choices)
    vendor_message_id = models.CharField(_("vendor message id"), max_length=64, blank=True)
    custom_id = models.CharField(_("our id"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    vendor_code = models.CharField(_("vendor code"), max_length=32, blank=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    part_index = models.PositiveSmallIntegerField(_("part"), default=1)
    part_count = models.PositiveSmallIntegerField(_("parts"), default=1)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    raw = models.TextField(_("raw report"))
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("message"),
        db_constraint=False,
    )
    matched_at = models.DateTimeField(_("matched at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery report")
        verbose_name_plural = _("delivery reports")
        # Newest first by the primary key (the order of arrival), which needs no index of its own.
        ordering = ["-pk"]
        # Both partial: a report matched on arrival (nearly all of them) enters neither.  Only
        # unmatched reports are looked up by the vendor's id (``match_waiting_reports``); a
        # matched one is reached through its message.
        indexes = [
            models.Index(
                fields=["vendor_account", "vendor_message_id"],
                name="report_unmatched_vendor_id",
                condition=Q(message__isnull=True),
            ),
            models.Index(
                fields=["vendor_account", "received_at"],
                name="report_unmatched",
                condition=Q(message__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_message_id} {self.vendor_code}"


class InboundMessage(models.Model):
    """A reply (MO) from a handset."""

    vendor_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.CASCADE,
        related_name="inbound_messages",
        verbose_name=_("vendor account"),
    )
    phone = models.CharField(_("phone"), max_length=20)
    extension = models.CharField(_("extension / access code"), max_length=30, blank=True)
    content = models.TextField(_("content"))
    received_at = models.DateTimeField(_("received"))
    vendor_message_id = models.CharField(_("vendor id"), max_length=64, blank=True)
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name=_("campaign"),
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name=_("message replied to"),
    )
    is_opt_out = models.BooleanField(_("opt-out"), default=False)
    is_read = models.BooleanField(_("read"), default=False)
    raw = models.TextField(_("raw"))
    created_at = models.DateTimeField(_("stored"), auto_now_add=True)

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["vendor_account", "received_at"], name="reply_account_time"),
            models.Index(fields=["phone"], name="reply_phone"),
            # The admin's list, newest first, a page at a time.
            models.Index(fields=["received_at"], name="reply_time"),
        ]

    def __str__(self) -> str:
        return f"{self.phone}: {self.content[:20]}"


class PushRecord(models.Model):
    """Every push a vendor made to us, kept as received before anything is parsed, so that a
    malformed or unauthenticated one can be inspected and a parsing bug can be replayed."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        PARTIAL = "partial", _("Accepted, some items unreadable")
        REJECTED = "rejected", _("Rejected")
        UNAUTHENTICATED = "unauthenticated", _("Unauthenticated")

    vendor_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="push_records",
        verbose_name=_("vendor account"),
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=255)
    query = models.TextField(_("query string"), blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    body = models.BinaryField(_("body"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error = models.TextField(_("error"), blank=True)
    item_count = models.PositiveIntegerField(_("items"), default=0)

    class Meta:
        verbose_name = _("received push")
        verbose_name_plural = _("received pushes")
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["outcome", "received_at"], name="push_outcome_time"),
            # The admin's list, newest first, a page at a time.
            models.Index(fields=["received_at"], name="push_time"),
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.method} {self.get_outcome_display()}"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class PollRecord(models.Model):
    """Every poll answer with items, and every answer the adapter could not read, kept as
    received and committed *before* anything is applied: a vendor hands a fetched report or
    reply out once, so an answer lost with a crashed worker would be lost for good, and one
    we misread must be there to read again.  ``items`` holds what the adapter read from
    ``raw``; ``applied_at`` is set in the transaction that applies them, and
    ``services.polling`` applies any record left without it (an unreadable answer has no
    items and ``error`` says why)."""

    class Kind(models.TextChoices):
        REPORTS = "reports", _("Delivery reports")
        REPLIES = "replies", _("Replies")

    vendor_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.CASCADE,
        related_name="poll_records",
        verbose_name=_("vendor account"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    raw = models.TextField(_("raw answer"), blank=True)
    items = models.JSONField(_("items read"), default=list)
    item_count = models.PositiveIntegerField(_("items"), default=0)
    error = models.TextField(_("error"), blank=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)

    class Meta:
        verbose_name = _("poll answer")
        verbose_name_plural = _("poll answers")
        ordering = ["-received_at"]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="poll_unapplied",
                condition=Q(applied_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.kind} ({self.item_count})"


class SensitiveWord(models.Model):
    """A word the portal refuses in outgoing content before it reaches a vendor.

    Vendors reject messages with words on their own lists (and smsadmin offers a check); this
    local list catches the common ones while the marketer is still composing."""

    word = models.CharField(_("word"), max_length=50, unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sensitive word")
        verbose_name_plural = _("sensitive words")
        ordering = ["word"]

    def __str__(self) -> str:
        return self.word


def import_upload_path(instance: ImportJob, filename: str) -> str:
    from django.utils import timezone

    return f"imports/{timezone.now():%Y/%m}/{secrets.token_hex(8)}-{filename[-80:]}"


class ImportJob(models.Model):
    """One spreadsheet imported into a recipient list (see ``messaging.importing.service``).

    ::

        inspected ──► queued ──► running ──► saving ──► done
                                    │           └──────► failed
                                    └──────────────────► failed   (the list is left as it was)
    """

    class State(models.TextChoices):
        INSPECTED = "inspected", _("Waiting for confirmation")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        SAVING = "saving", _("Saving")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    recipient_list = models.ForeignKey(
        RecipientList,
        on_delete=models.CASCADE,
        related_name="import_jobs",
        verbose_name=_("recipient list"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    file = models.FileField(_("file"), upload_to=import_upload_path, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=8, blank=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    sheets = models.JSONField(_("sheets"), default=list, blank=True)
    headers = models.JSONField(_("columns"), default=list, blank=True)
    phone_column = models.CharField(_("phone column"), max_length=100, blank=True)
    allow_international = models.BooleanField(
        _("accept international numbers"),
        default=False,
        help_text=_("Keep numbers outside China (as +country…); only some vendors send them."),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.INSPECTED
    )
    estimated_rows = models.PositiveIntegerField(_("estimated rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows read"), default=0)
    imported_count = models.PositiveIntegerField(_("imported"), default=0)
    duplicate_in_file_count = models.PositiveIntegerField(_("duplicates in file"), default=0)
    duplicate_in_list_count = models.PositiveIntegerField(_("already in list"), default=0)
    suppressed_count = models.PositiveIntegerField(_("suppressed"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    rejected_report = models.FileField(_("rejected rows"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    task_id = models.CharField(_("task"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("recipient import")
        verbose_name_plural = _("recipient imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.recipient_list}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


# --------------------------------------------------------------------------- kept campaign stats


class CampaignCodeCount(models.Model):
    """How many of a campaign's messages ended in a final status with a vendor code: the
    campaign page's status-code breakdown, kept by ``services.campaign_stats`` as messages
    reach their final status (a final status never changes), never recounted from messages on
    a page view.  ``description`` is one of the vendor's words for the code (the legend)."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="code_counts",
        verbose_name=_("campaign"),
        db_index=False,  # the unique constraint's index leads with the campaign
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    code = models.CharField(_("vendor code"), max_length=32)
    description = models.CharField(_("vendor description"), max_length=255, blank=True)
    messages = models.PositiveIntegerField(_("messages"), default=0)

    class Meta:
        verbose_name = _("campaign status code count")
        verbose_name_plural = _("campaign status code counts")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "status", "code"], name="campaign_code_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.status} {self.code}: {self.messages}"


class CampaignTimeline(models.Model):
    """Delivered and failed messages of a campaign by the minute (``minutes`` = 1) and by the
    hour (60) their final status came (UTC starts): the delivery-over-time chart, kept by
    ``services.campaign_stats`` as messages reach a final status.  A chart of minutes reads
    at most the minutes of six hours, one of hours or days the hours."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="timeline",
        verbose_name=_("campaign"),
        db_index=False,  # the unique constraint's index leads with the campaign
    )
    minutes = models.PositiveSmallIntegerField(_("minutes"))
    start = models.DateTimeField(_("start"))
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)

    class Meta:
        verbose_name = _("campaign timeline bucket")
        verbose_name_plural = _("campaign timeline buckets")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "minutes", "start"], name="campaign_timeline_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.start:%Y-%m-%d %H:%M}/{self.minutes}"


class CampaignUnresolved(models.Model):
    """A campaign's messages whose outcome is unresolved (``unknown``, ``no_report``) by
    status and reason (the message's error, cut to what the page shows): how many, their
    parts, and when the last of them left.  Kept by ``services.campaign_stats`` as messages
    move in and out of those statuses, so the campaign page never looks for them among the
    campaign's messages.  ``last_submitted_at`` only grows: once the latest of a group is
    resolved it may stand later than the latest left (the page's "wait until" errs late)."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="unresolved",
        verbose_name=_("campaign"),
        db_index=False,  # the unique constraint's index leads with the campaign
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    # Signed: a move out is written as a negative delta (an upsert checks the row it would
    # insert before it finds the row it updates).
    messages = models.IntegerField(_("messages"), default=0)
    parts = models.IntegerField(_("parts"), default=0)
    last_submitted_at = models.DateTimeField(_("last submitted"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign unresolved reason")
        verbose_name_plural = _("campaign unresolved reasons")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "status", "reason"], name="campaign_unresolved_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.status} {self.reason[:40]}: {self.messages}"


class PortalSettings(models.Model):
    """The rules administrators set for the whole portal: one row (``load``), edited in the
    admin.  Each group of fields is read by the one service that enforces it: the send
    window and frequency caps by ``services.compliance``, the approval threshold by the
    approval service, the re-subscribe keywords and the opt-out confirmation by
    ``services.replies``, the alert recipients by the alerts service."""

    # Send window (quiet hours) for marketing messages, Asia/Shanghai wall-clock time.
    # Chinese carriers and the cloud vendors allow 推广 SMS from 08:00 to 21:00 only.
    send_window_start = models.TimeField(_("send window opens"), default=time(8, 0))
    send_window_end = models.TimeField(_("send window closes"), default=time(21, 0))

    # Frequency caps: marketing messages really sent to one phone (0: no cap).
    cap_per_day = models.PositiveIntegerField(
        _("marketing messages per phone per day"),
        default=1,
        help_text=_("0 means no daily cap."),
    )
    cap_per_week = models.PositiveIntegerField(
        _("marketing messages per phone per 7 days"),
        default=3,
        help_text=_("0 means no weekly cap."),
    )
    caps_per_signature = models.BooleanField(
        _("count caps per signature"),
        default=False,
        help_text=_("Count each signature's messages separately instead of all together."),
    )

    # Approval: a campaign at or above either threshold needs an approver who is not its author.
    approval_required = models.BooleanField(_("campaigns need approval"), default=False)
    approval_min_recipients = models.PositiveIntegerField(
        _("approval from recipients"),
        default=0,
        help_text=_("Campaigns with at least this many recipients need approval; 0 means all."),
    )
    approval_min_cost = models.DecimalField(
        _("approval from estimated cost (yuan)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Campaigns estimated to cost at least this much need approval too."),
    )

    # Replies.
    resubscribe_keywords = models.CharField(
        _("re-subscribe keywords"),
        max_length=200,
        default="订阅,恢复,START",
        help_text=_("Comma-separated; a reply that is exactly one of them lifts an opt-out."),
    )
    opt_out_confirmation = models.BooleanField(_("confirm opt-outs by SMS"), default=False)
    opt_out_confirmation_text = models.CharField(
        _("opt-out confirmation text"),
        max_length=300,
        default="您已成功退订，将不再收到营销短信。回复“订阅”可恢复。",
    )

    # Alerts.
    alert_emails = models.TextField(
        _("alert e-mail recipients"),
        blank=True,
        help_text=_("One address per line."),
    )
    alert_webhook_url = models.URLField(
        _("alert webhook URL"),
        blank=True,
        help_text=_("A WeCom or DingTalk group robot's URL; alerts are POSTed to it as JSON."),
    )
    low_balance_threshold = models.DecimalField(
        _("low balance below"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("1000"),
        help_text=_("In the account's own balance unit (messages or yuan)."),
    )
    balance_refresh_minutes = models.PositiveIntegerField(
        _("refresh balances every (minutes)"),
        default=30,
    )

    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("portal settings")
        verbose_name_plural = _("portal settings")

    def __str__(self) -> str:
        return str(_("Portal settings"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> PortalSettings:
        """The one row, created with the defaults on first use."""
        found, _created = cls.objects.get_or_create(pk=1)
        return found


class Alert(models.Model):
    """Something an operator must act on (``services.alerts``): shown on the dashboard while
    open and sent once to the alert recipients.  One open alert per kind and subject; it is
    resolved when its condition clears, and a new one opens if it comes back."""

    class Kind(models.TextChoices):
        LOW_BALANCE = "low_balance", _("Low balance")
        VENDOR_UNREACHABLE = "unreachable", _("Vendor unreachable")
        PAUSED_BY_VENDOR = "paused_vendor", _("Campaign paused by the vendor")
        PAUSED_BY_WINDOW = "paused_window", _("Campaign paused by the send window")
        AWAITING_APPROVAL = "approval", _("Campaign awaiting approval")
        TEST = "test", _("Test alert")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    subject_type = models.CharField(_("subject type"), max_length=100, blank=True)
    subject_id = models.CharField(_("subject id"), max_length=40, blank=True)
    subject_repr = models.CharField(_("subject"), max_length=200, blank=True)
    message = models.TextField(_("message"))
    first_seen = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen = models.DateTimeField(_("last seen"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    notified_at = models.DateTimeField(_("notified"), null=True, blank=True)
    notify_result = models.TextField(_("notification result"), blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id"],
                condition=Q(resolved_at__isnull=True),
                name="alert_one_open_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject_repr}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class SendCount(models.Model):
    """The whole recipient list's figures for a campaign's send (who is left out and why,
    the messages, the billed parts), counted by a task when the list is too long to count
    while a page waits (``services.send_count``; the pages count the first recipients
    themselves)::

        counting ──► done      (read for ``send_count.FRESH_FOR``, then counted again)
            │
            └──────► failed    (counted again on the next page view)

    A count is for one ``key``: what its figures depend on (the message, the account, the
    list, the suppressions, the caps).  A change makes another key, and so another count."""

    class State(models.TextChoices):
        COUNTING = "counting", _("Counting")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", verbose_name=_("campaign")
    )
    key = models.CharField(_("key"), max_length=64)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.COUNTING
    )
    total = models.PositiveIntegerField(_("recipients in the list"), default=0)
    counted = models.PositiveIntegerField(_("recipients counted"), default=0)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    """The task's heartbeat: it moves with every ``compose.PROGRESS_EVERY`` recipients."""
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("send count")
        verbose_name_plural = _("send counts")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "key"], name="send_count_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.counted}/{self.total} {self.state}"
