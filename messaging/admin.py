from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from accounts.admin_lookups import DeclaredLookupsOnly

from .admin_campaigns import CampaignOperations
from .admin_template_files import TemplateFileInline
from .importing.admin_mixins import (
    RecipientImportMixin,
    export_messages_csv,
    export_messages_xlsx,
    export_replies_csv,
    export_replies_xlsx,
)
from .models import (
    Campaign,
    DeliveryReport,
    ImportJob,
    InboundMessage,
    Message,
    PushRecord,
    Recipient,
    RecipientList,
    SensitiveWord,
    Suppression,
    Template,
    TemplateRegistration,
    VendorAccount,
)
from .services import campaign_commands, inbox
from .services.reports import localized_description, split_descriptions
from .services.templates import TemplateSubmitError, submit_for_review
from .services.vendor_accounts import (
    must_poll_message,
    option_help,
    probe_summary,
    push_instructions,
    pushes_reports,
    refresh_balance,
    report_delivery,
    report_delivery_notes,
    reports_unreachable,
)
from .statuses import Status

# --------------------------------------------------------------------------- vendor accounts

CONNECTION_FIELDS = ("base_url", "account_id", "secret", "auth_mode", "push_url_display")


class VendorAccountForm(forms.ModelForm):
    """The secret is write-only: never rendered back, kept when left empty on change."""

    # Vendor gateways are often plain http on an IP and port: do not assume https.
    base_url = forms.URLField(
        label=_("base URL"),
        assume_scheme="http",
        help_text=_("The vendor's API address, e.g. http://ip:8001"),
    )
    secret = forms.CharField(
        label=_("password / secret"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the current one."),
    )

    class Meta:
        model = VendorAccount
        fields = (
            "name",
            "vendor",
            "is_active",
            "base_url",
            "account_id",
            "secret",
            "auth_mode",
            "extension",
            "signature",
            "opt_out_suffix",
            "rate_limit_per_s",
            "push_enabled",
            "polling_enabled",
            "poll_interval_s",
            "report_window_hours",
            "options",
            "price_per_part",
            "max_file_kb",
            "max_template_kb",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "options" in self.fields:
            self.fields["options"].help_text = options_help_html(self.instance.vendor or None)

    def clean(self):
        cleaned = super().clean()
        vendor_key = cleaned.get("vendor")
        if vendor_key and not cleaned.get("polling_enabled") and not pushes_reports(vendor_key):
            # Its reports reach us only by polling: without it every message would wait for
            # a report that never comes.
            self.add_error("polling_enabled", must_poll_message(vendor_key))
        # The options are checked against the vendor's declarations by VendorAccount.clean.
        return cleaned

    def clean_secret(self):
        secret = self.cleaned_data.get("secret")
        if not secret:
            if not self.instance.pk:
                raise forms.ValidationError(_("Enter the account's password or secret."))
            return self.instance.secret
        return secret


def options_help_html(vendor_key: str | None) -> str:
    """The options field's help: the model's words, then each option the vendor declares
    (every vendor's while none is chosen)."""
    groups = []
    for _key, label, options in option_help(vendor_key):
        if options:
            items = format_html_join(
                "",
                "<li><code>{}</code> ({}): {}</li>",
                options,
            )
        else:
            items = format_html("<li>{}</li>", _("no options"))
        groups.append((label, items))
    return format_html(
        '{}<ul class="vendor-options">{}</ul>',
        VendorAccount._meta.get_field("options").help_text,
        format_html_join("", "<li>{}<ul>{}</ul></li>", groups),
    )


@admin.register(VendorAccount)
class VendorAccountAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    form = VendorAccountForm
    list_display = (
        "name",
        "vendor",
        "signature",
        "is_active",
        "push_enabled",
        "polling_enabled",
        "report_delivery_display",
        "balance_display",
        "price_per_part",
        "balance_checked_at",
    )
    list_filter = ("vendor", "is_active", "push_enabled", "polling_enabled")
    search_fields = ("name", "signature")
    actions = ["test_connection"]
    readonly_fields = (
        "push_url_display",
        "report_delivery_display",
        "balance_display",
        "balance_checked_at",
        "last_error",
        "reports_polled_at",
        "replies_polled_at",
        "poll_backoff_until",
    )

    def _can_manage(self, request) -> bool:
        return request.user.has_perm("messaging.change_vendoraccount")

    def get_fieldsets(self, request, obj=None):
        general = (None, {"fields": ("name", "vendor", "is_active")})
        sending = (
            _("Sending"),
            {
                "fields": (
                    "extension",
                    "signature",
                    "opt_out_suffix",
                    "rate_limit_per_s",
                    "max_file_kb",
                    "max_template_kb",
                )
            },
        )
        status = (
            _("Balance"),
            {
                "fields": (
                    "balance_display",
                    "price_per_part",
                    "balance_checked_at",
                    "last_error",
                )
            },
        )
        if not self._can_manage(request):
            # Viewers (marketers) see nothing that connects to the vendor.
            return [general, sending, status]
        connection = (_("Connection"), {"fields": CONNECTION_FIELDS})
        reports = (
            _("Reports and replies"),
            {
                "fields": (
                    "report_delivery_display",
                    "push_enabled",
                    "polling_enabled",
                    "poll_interval_s",
                    "report_window_hours",
                    "options",
                    "reports_polled_at",
                    "replies_polled_at",
                    "poll_backoff_until",
                ),
                "description": self._report_notes(obj),
            },
        )
        return [general, connection, sending, reports, status]

    @staticmethod
    def _report_notes(obj) -> str:
        """Beside the push / poll choice: vendors that cannot push reports, and vendors that
        do not push one again (for every vendor on the add form)."""
        notes = report_delivery_notes(obj.vendor if obj is not None else None)
        if not notes:
            return ""
        return format_html(
            '<ul class="report-delivery-notes">{}</ul>',
            format_html_join("", "<li>{}</li>", ((note,) for note in notes)),
        )

    @admin.display(description=_("delivery reports"))
    def report_delivery_display(self, account: VendorAccount) -> str:
        if not account.pk:
            return "—"
        text = report_delivery(account)
        if reports_unreachable(account):
            return format_html('<strong style="color:var(--error-fg)">⚠ {}</strong>', text)
        return text

    @admin.display(description=_("push URL (give it to the vendor)"))
    def push_url_display(self, account: VendorAccount) -> str:
        """The URL, and beside it what to tell the vendor for each push it makes."""
        if not account.vendor:
            return "—"
        lines = push_instructions(account.vendor)
        if account.pk:
            url = format_html("<code>{}</code>", account.push_url)
        else:
            url = format_html("<span>{}</span>", _("shown once the account is saved"))
        if not lines:
            return format_html('{}<div class="push-instructions">{}</div>', url, _("no pushes"))
        return format_html(
            '{}<ul class="push-instructions">{}</ul>',
            url,
            format_html_join(
                "",
                "<li><strong>{}</strong> — {}: {}</li>",
                ((kind, line.method, line.note) for kind, line in lines),
            ),
        )

    @admin.display(description=_("balance"), ordering="balance")
    def balance_display(self, account: VendorAccount) -> str:
        if account.balance is None:
            return "—"
        return f"{account.balance.normalize():f} {account.balance_unit}"

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self._can_manage(request):
            actions.pop("test_connection", None)
        return actions

    @admin.action(description=_("Test connection and refresh balance"))
    def test_connection(self, request, queryset):
        for account in queryset:
            check = refresh_balance(account)
            if check.probed:
                self.message_user(request, probe_summary(account, check), messages.SUCCESS)
            elif check.ok:
                self.message_user(
                    request,
                    _("%(account)s: connected, balance %(balance)s")
                    % {"account": account.name, "balance": self.balance_display(account)},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    _("%(account)s: %(error)s") % {"account": account.name, "error": check.error},
                    messages.ERROR,
                )


# --------------------------------------------------------------------------- templates


class TemplateRegistrationInline(admin.TabularInline):
    model = TemplateRegistration
    extra = 0
    fields = (
        "vendor_account",
        "vendor_template_id",
        "review_status",
        "review_reason",
        "reviewed_at",
    )
    readonly_fields = ("review_status", "review_reason", "reviewed_at")


@admin.register(Template)
class TemplateAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ("name", "kind", "signature", "is_marketing", "updated_at")
    list_filter = ("kind", "is_marketing")
    search_fields = ("name", "body")
    inlines = [TemplateFileInline, TemplateRegistrationInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(TemplateRegistration)
class TemplateRegistrationAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = (
        "template",
        "vendor_account",
        "vendor_template_id",
        "review_status",
        "reviewed_at",
    )
    list_filter = ("review_status", "vendor_account")
    search_fields = ("template__name", "vendor_template_id")
    list_select_related = ("template", "vendor_account")
    actions = ["submit_for_review"]

    @admin.action(description=_("Submit to the vendor for review"), permissions=["change"])
    def submit_for_review(self, request, queryset):
        for registration in queryset.select_related("template", "vendor_account"):
            try:
                submitted = submit_for_review(registration.template, registration.vendor_account)
            except TemplateSubmitError as exc:
                self.message_user(request, f"{registration}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(registration)s: submitted, vendor template id %(id)s.")
                    % {"registration": submitted, "id": submitted.vendor_template_id},
                    messages.SUCCESS,
                )


# --------------------------------------------------------------------------- recipients


@admin.register(RecipientList)
class RecipientListAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ("name", "recipient_count", "created_by", "created_at")
    # Links to the import page, the admin import and the exports.
    change_form_template = "importing/admin_recipientlist_change_form.html"
    search_fields = ("name", "description")
    readonly_fields = ("created_by", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_recipients=Count("recipients"))

    @admin.display(description=_("recipients"), ordering="_recipients")
    def recipient_count(self, obj) -> int:
        return obj._recipients

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Recipient)
class RecipientAdmin(DeclaredLookupsOnly, RecipientImportMixin, admin.ModelAdmin):
    list_display = ("phone", "recipient_list", "variables", "source_row")
    list_filter = ("recipient_list",)
    search_fields = ("phone",)
    list_select_related = ("recipient_list",)
    show_full_result_count = False


@admin.register(ImportJob)
class ImportJobAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    """Spreadsheet imports: made on the import pages, read here."""

    list_display = (
        "original_name",
        "recipient_list",
        "state",
        "imported_count",
        "duplicate_in_file_count",
        "duplicate_in_list_count",
        "suppressed_count",
        "rejected_count",
        "created_by",
        "created_at",
    )
    list_filter = ("state",)
    search_fields = ("original_name", "recipient_list__name")
    list_select_related = ("recipient_list", "created_by")
    exclude = ("file", "rejected_report")

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in ImportJob._meta.fields if f.name not in self.exclude]
        return ["job_page", *names]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("progress and result"))
    def job_page(self, job: ImportJob) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("importing:job", kwargs={"job_pk": job.pk}), _("Open")
        )


@admin.register(Suppression)
class SuppressionAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ("phone", "reason", "evidence", "created_by", "created_at")
    list_filter = ("reason",)
    search_fields = ("phone", "evidence")
    readonly_fields = ("inbound_message", "created_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# --------------------------------------------------------------------------- campaigns


def progress_bar(fraction: float) -> str:
    percent = round(fraction * 100)
    return format_html(
        '<progress value="{}" max="100" title="{}%">{}%</progress> {}%',
        percent,
        percent,
        percent,
        percent,
    )


@admin.register(Campaign)
class CampaignAdmin(DeclaredLookupsOnly, CampaignOperations, admin.ModelAdmin):
    list_display = (
        "name",
        "status",
        "vendor_account",
        "recipient_list",
        "scheduled_at",
        "total_count",
        "delivered_count",
        "failed_count",
        "progress_display",
        "delivery_rate_display",
    )
    list_filter = ("status", "vendor_account")
    search_fields = ("name",)
    list_select_related = ("vendor_account", "recipient_list")
    date_hierarchy = "created_at"
    readonly_fields = (
        "status",
        "status_reason",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "total_count",
        "pending_count",
        "skipped_count",
        "submitted_count",
        "delivered_count",
        "failed_count",
        "unknown_count",
        "no_report_count",
        "segment_count",
        "exclude_missing",
        "start_requested_at",
        "progress_display",
        "delivery_rate_display",
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
            # What was sent is what the campaign shows: no edits once it has started.
            fields += ["name", "template", "vendor_account", "recipient_list", "scheduled_at"]
        return fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The outcome as the pipeline keeps it: awaiting report, unknown (with why) and no
        report apart, billed parts apart from the parts that may or may not be billed."""
        from .services.content_checks import estimate_cost
        from .views.portal import campaigns as pages

        extra_context = extra_context or {}
        campaign = self.get_object(request, unquote(object_id))  # None for "abc": no 500
        if campaign is not None:
            unresolved = pages.unresolved_summary(campaign)
            extra_context["outcome"] = {
                "status_label": pages.status_label(campaign),
                "paused_by_vendor": pages.paused_by_vendor(campaign),
                "awaiting": pages.awaiting_count(campaign),
                "unresolved": unresolved,
                "cost": estimate_cost(campaign.segment_count, campaign.vendor_account),
                "unresolved_cost": estimate_cost(unresolved["segments"], campaign.vendor_account),
            }
        response = super().change_view(request, object_id, form_url, extra_context)
        # The status counts in words (the pipeline's values are for code, not people).
        rows = (getattr(response, "context_data", None) or {}).get("status_counts") or []
        labels = {**dict(Status.choices), Status.UNKNOWN: _("Outcome unknown")}
        for row in rows:
            row["label"] = labels.get(row["status"], row["status"])
        return response

    @admin.display(description=_("progress"))
    def progress_display(self, campaign: Campaign) -> str:
        return progress_bar(campaign.progress)

    @admin.display(description=_("delivery rate"))
    def delivery_rate_display(self, campaign: Campaign) -> str:
        rate = campaign.delivery_rate
        return "—" if rate is None else f"{rate:.1%}"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            return
        # Only what the form changed: the state and counters belong to the pipeline, and a
        # whole-row save would write back the values this form was loaded with.
        fields = [f for f in form.changed_data if f != "scheduled_at"]
        if fields:
            obj.save(update_fields=fields)
        if "scheduled_at" in form.changed_data:
            try:
                if obj.status == Campaign.State.SCHEDULED and obj.scheduled_at:
                    campaign_commands.reschedule(obj.pk, obj.scheduled_at)
                else:
                    Campaign.objects.filter(pk=obj.pk, status=Campaign.State.DRAFT).update(
                        scheduled_at=obj.scheduled_at
                    )
            except campaign_commands.CampaignError as exc:
                messages.error(request, str(exc))


class ReadOnlyAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    """Records written only by the pipeline: viewable, never edited by hand."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DeliveryReportInline(admin.TabularInline):
    """Every report the vendor gave for the message, as it came (duplicates and late parts
    included), so that support can see why the message is where it is."""

    model = DeliveryReport
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("received_at", "source", "status", "vendor_code", "description_display", "raw")
    readonly_fields = fields
    ordering = ("pk",)

    @admin.display(description=_("description"))
    def description_display(self, report: DeliveryReport) -> str:
        return localized_description(report.description)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = (
        "phone",
        "campaign",
        "status_display",
        "vendor_status_code",
        "vendor_description",
        "segments",
        "submitted_at",
        "final_at",
    )
    list_filter = ("status", "vendor_account")
    search_fields = ("=phone", "=vendor_message_id", "=custom_id")
    list_select_related = ("campaign",)
    raw_id_fields = ("campaign",)
    actions = [export_messages_csv, export_messages_xlsx]
    exclude = ("vendor_status_description",)
    readonly_fields = ("vendor_description_zh", "vendor_description_en")
    inlines = [DeliveryReportInline]

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, message: Message) -> str:
        """An unknown message is not "awaiting report": the vendor may or may not have it."""
        if message.status == Status.UNKNOWN:
            return str(_("Outcome unknown"))
        return message.get_status_display()

    @admin.display(description=_("vendor description"))
    def vendor_description(self, message: Message) -> str:
        """In the UI language: the vendor's words are kept in Chinese and English."""
        return localized_description(message.vendor_status_description)

    @admin.display(description=_("vendor description (Chinese)"))
    def vendor_description_zh(self, message: Message) -> str:
        return split_descriptions(message.vendor_status_description)[0]

    @admin.display(description=_("vendor description (English)"))
    def vendor_description_en(self, message: Message) -> str:
        return split_descriptions(message.vendor_status_description)[1]


class MatchedFilter(admin.SimpleListFilter):
    """Unmatched reports (no message claimed them yet) stay visible here."""

    title = _("matched")
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", _("Matched")), ("no", _("Unmatched"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(message__isnull=False)
        if self.value() == "no":
            return queryset.filter(message__isnull=True)
        return queryset


@admin.register(DeliveryReport)
class DeliveryReportAdmin(ReadOnlyAdmin):
    list_display = (
        "vendor_message_id",
        "vendor_account",
        "status",
        "vendor_code",
        "description_display",
        "phone",
        "matched",
        "received_at",
    )
    list_filter = (MatchedFilter, "status", "source", "vendor_account")
    search_fields = ("=vendor_message_id", "=phone", "=custom_id")
    list_select_related = ("vendor_account",)
    raw_id_fields = ("message",)

    @admin.display(description=_("matched"), boolean=True)
    def matched(self, report: DeliveryReport) -> bool:
        return report.message_id is not None

    @admin.display(description=_("description"))
    def description_display(self, report: DeliveryReport) -> str:
        return localized_description(report.description)


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    """The administrators' inbox: every reply, opt-outs marked, linked to what it answered."""

    list_display = (
        "phone",
        "content_display",
        "vendor_account",
        "extension",
        "campaign_link",
        "message_link",
        "is_opt_out",
        "is_read",
        "received_at",
    )
    list_filter = (
        "vendor_account",
        "is_opt_out",
        "is_read",
        ("received_at", admin.DateFieldListFilter),
    )
    date_hierarchy = "received_at"
    search_fields = ("=phone", "content")
    list_select_related = ("vendor_account", "campaign", "message")
    raw_id_fields = ("campaign", "message")
    actions = ["mark_read", "mark_unread", export_replies_csv, export_replies_xlsx]

    def has_change_permission(self, request, obj=None):
        # Marking as read is the only change; it happens through the actions.
        return False

    def has_mark_permission(self, request) -> bool:
        return inbox.can_mark(request.user)

    @admin.display(description=_("content"))
    def content_display(self, reply: InboundMessage) -> str:
        if reply.is_opt_out:
            return format_html(
                '<strong title="{}">⛔ {}</strong>', _("Opt-out: phone suppressed"), reply.content
            )
        return reply.content

    @admin.display(description=_("campaign"), ordering="campaign")
    def campaign_link(self, reply: InboundMessage) -> str:
        if reply.campaign_id is None:
            return "—"
        url = reverse("admin:messaging_campaign_change", args=[reply.campaign_id])
        return format_html('<a href="{}">{}</a>', url, reply.campaign)

    @admin.display(description=_("message replied to"))
    def message_link(self, reply: InboundMessage) -> str:
        if reply.message_id is None:
            return "—"
        url = reverse("admin:messaging_message_change", args=[reply.message_id])
        return format_html('<a href="{}">#{}</a>', url, reply.message_id)

    @admin.action(description=_("Mark as read"), permissions=["mark"])
    def mark_read(self, request, queryset):
        updated = inbox.mark_read(queryset.values_list("pk", flat=True), user=request.user)
        self.message_user(request, _("%(n)d replies marked read.") % {"n": updated})

    @admin.action(description=_("Mark as unread"), permissions=["mark"])
    def mark_unread(self, request, queryset):
        updated = inbox.mark_unread(queryset.values_list("pk", flat=True), user=request.user)
        self.message_user(request, _("%(n)d replies marked unread.") % {"n": updated})


@admin.register(PushRecord)
class PushRecordAdmin(ReadOnlyAdmin):
    """What vendors pushed, as received: for inspecting rejected and partial pushes."""

    list_display = ("received_at", "vendor_account", "method", "outcome", "item_count", "error")
    list_filter = ("outcome", "vendor_account")
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "vendor_account",
        "method",
        "query",
        "content_type",
        "body_text",
        "outcome",
        "item_count",
        "error",
    )
    readonly_fields = fields

    @admin.display(description=_("body"))
    def body_text(self, record: PushRecord) -> str:
        return format_html("<pre>{}</pre>", record.body_text)


@admin.register(SensitiveWord)
class SensitiveWordAdmin(DeclaredLookupsOnly, admin.ModelAdmin):
    list_display = ["word", "note", "created_at"]
    search_fields = ["word", "note"]


# --------------------------------------------------------------------------- task cluster
# django-q2's own admin pages, registered again.  A schedule runs any dotted function with any
# arguments on the worker, so only superusers add or change one (the portal's own schedules are
# made by code); what a task was given and gave back (arguments, result, hook) can hold
# anything the code handled, so only superusers see it.  Administrators see what ran, when,
# and whether it worked, and resubmit nothing.

TASK_FIELDS = ("name", "group", "func", "cluster", "started", "stopped", "success")
SCHEDULE_FIELDS = (
    "name",
    "func",
    "schedule_type",
    "minutes",
    "cron",
    "repeats",
    "next_run",
    "cluster",
)
QUEUED_FIELDS = ("key", "lock", "task_id", "name", "group", "func")


class TaskDetailsForSuperusers(DeclaredLookupsOnly):
    """Mix into django-q2's admins (before them): non-superusers see ``staff_fields`` only,
    as read-only, with ``staff_list_display`` in the list and no actions that queue tasks."""

    staff_fields: tuple[str, ...] = ()
    staff_list_display: tuple[str, ...] | None = None

    def get_list_display(self, request):
        if request.user.is_superuser or self.staff_list_display is None:
            return super().get_list_display(request)
        return self.staff_list_display

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fields(request, obj)
        return self.staff_fields

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return [(None, {"fields": self.staff_fields})]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return self.staff_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("resubmit_task", None)
        return actions

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)


class SuccessAdmin(TaskDetailsForSuperusers, q_admin.TaskAdmin):
    staff_fields = TASK_FIELDS
    staff_list_display = ("name", "group", "func", "cluster", "started", "stopped", "time_taken")


class FailureAdmin(TaskDetailsForSuperusers, q_admin.FailAdmin):
    staff_fields = TASK_FIELDS
    staff_list_display = ("name", "group", "func", "cluster", "started", "stopped")


class ScheduleAdmin(TaskDetailsForSuperusers, q_admin.ScheduleAdmin):
    staff_fields = SCHEDULE_FIELDS

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class QueuedTaskAdmin(TaskDetailsForSuperusers, q_admin.QueueAdmin):
    staff_fields = QUEUED_FIELDS

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


for _model, _model_admin in (
    (Schedule, ScheduleAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueuedTaskAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
        admin.site.register(_model, _model_admin)
