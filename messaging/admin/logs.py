"""What the pipeline wrote — messages, delivery reports, replies, raw pushes — read-only."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import (
    DeliveryReport,
    InboundMessage,
    Message,
    PushRecord,
)
from ..services import inbox
from ..services.reports import localized_description, split_descriptions
from ..statuses import Status
from .exports import (
    export_messages_csv,
    export_messages_xlsx,
    export_replies_csv,
    export_replies_xlsx,
)
from .read_only import ReadOnlyAdmin


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
