"""Vendor accounts: connection, options, push URL, balance and the connection check."""

from django import forms
from django.contrib import admin, messages
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_audit import AuditedAdmin
from accounts.admin_lookups import DeclaredLookupsOnly
from accounts.audit import Action

from ..models import (
    DeliveryReport,
    InboundMessage,
    Message,
    PollRecord,
    PushRecord,
    VendorAccount,
)
from ..services.vendor_accounts import (
    balance_unit_label,
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
from .big_tables import RefuseBigDeletes

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
            "send_window_start",
            "send_window_end",
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
        # Never the stored secret, even as the form's initial value: a secret left empty is
        # then no change (the audit trail names only the fields really changed).
        self.initial["secret"] = ""
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

    @cached_property
    def changed_data(self):
        """Without the secret when it was left empty: the current one is kept, so the
        history must not say it changed."""
        changed = super().changed_data
        if self.instance.pk and not self.data.get(self.add_prefix("secret")):
            changed = [name for name in changed if name != "secret"]
        return changed


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
class VendorAccountAdmin(AuditedAdmin, RefuseBigDeletes, DeclaredLookupsOnly, admin.ModelAdmin):
    form = VendorAccountForm
    audit_added = Action.VENDOR_ACCOUNT_ADDED
    audit_changed = Action.VENDOR_ACCOUNT_CHANGED
    audit_deleted = Action.VENDOR_ACCOUNT_DELETED
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

    def dependents(self, obj):
        """Each counted by an index on the account.  Its messages come first: an account
        with none has no matched reports either (a report matches its own account's
        messages), so only the unmatched ones (indexed apart) are left to count."""
        return [
            (Message.objects.filter(vendor_account=obj), str(_("messages"))),
            (
                DeliveryReport.objects.filter(vendor_account=obj, message__isnull=True),
                str(_("delivery reports")),
            ),
            (InboundMessage.objects.filter(vendor_account=obj), str(_("replies"))),
            (PushRecord.objects.filter(vendor_account=obj), str(_("received pushes"))),
            (PollRecord.objects.filter(vendor_account=obj), str(_("poll answers"))),
        ]

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
                    "send_window_start",
                    "send_window_end",
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
        return f"{account.balance.normalize():f} {balance_unit_label(account.balance_unit)}"

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
