"""What the pipeline wrote — messages, delivery reports, replies, raw pushes — read-only."""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import (
    Campaign,
    DeliveryReport,
    InboundMessage,
    Message,
    PushRecord,
    VendorAccount,
)
from ..services import inbox, wording
from ..services.reports import status_meaning, vendor_words
from ..statuses import Status
from .big_tables import BigTableAdmin, SearchTerms, id_lookups
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

    @admin.display(description=_("vendor's words"))
    def description_display(self, report: DeliveryReport) -> str:
        return vendor_words(report.description)

    def has_add_permission(self, request, obj=None):
        return False


ID_SEARCH_HELP = _(
    "Search by a full phone number (as typed: spaces, +86 and full-width digits are fine), our "
    "id, a vendor message id or a message number."
)
MATCHES_PER_SEARCH = 1_000
"""A report search first finds the messages it names (few: a phone's, an id's), at most this
many, then their reports by the indexed message column."""


def account_ids() -> list[int]:
    """Every vendor account (a handful): a vendor's id is indexed within its account."""
    return list(VendorAccount.objects.order_by().values_list("pk", flat=True))


def message_condition(terms: SearchTerms) -> Q | None:
    """The messages a search names: a phone, our id, the vendor's id, or a message's number —
    each an exact lookup on an index of ``Message``."""
    condition = Q()
    if terms.phone:
        condition |= Q(phone=terms.phone)
    ids = id_lookups(terms, custom_id_length=32, vendor_id_length=64)
    if "custom_id" in ids:
        condition |= Q(custom_id=ids["custom_id"])
    if "vendor_message_id" in ids:
        condition |= Q(
            vendor_account_id__in=account_ids(), vendor_message_id=ids["vendor_message_id"]
        )
    if terms.number is not None:
        condition |= Q(pk=terms.number)
    return condition or None


class CampaignFilter(admin.SimpleListFilter):
    """The newest campaigns (the campaign table is small; the messages are never scanned for
    the choices)."""

    title = _("campaign")
    parameter_name = "campaign"
    choices_shown = 100

    def lookups(self, request, model_admin):
        campaigns = Campaign.objects.order_by("-pk").only("pk", "name")[: self.choices_shown]
        return [(str(c.pk), str(c)) for c in campaigns]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(campaign_id=int(value))
        if value:
            return queryset.none()
        return queryset


class StatusWithinCampaignFilter(admin.SimpleListFilter):
    """Status, once a campaign is chosen: statuses are not indexed (so that the pipeline's
    status moves stay cheap), a campaign's messages are, and its counters say how many of each
    there are.  Over the whole table a rare status would be a scan of every message."""

    title = _("status (within the campaign)")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        if not request.GET.get(CampaignFilter.parameter_name):
            return []
        return [
            (value, str(_("Outcome unknown")) if value == Status.UNKNOWN else label)
            for value, label in Status.choices
        ]

    # The campaign counter that a status is counted in (the narrowest): none of them when it
    # is nought, and no message is read.
    COUNTERS = {
        Status.QUEUED: "pending_count",
        Status.SUBMITTING: "pending_count",
        Status.SKIPPED: "skipped_count",
        Status.UNKNOWN: "unknown_count",
        Status.NO_REPORT: "no_report_count",
        Status.SUBMITTED: "submitted_count",
        Status.DELIVERED: "delivered_count",
        Status.FAILED: "failed_count",
        Status.UNDELIVERED: "failed_count",
        Status.EXPIRED: "failed_count",
        Status.REJECTED: "failed_count",
    }

    def queryset(self, request, queryset):
        campaign_pk = request.GET.get(CampaignFilter.parameter_name, "")
        if self.value() not in Status.values or not campaign_pk.isdigit():
            return queryset
        counter = self.COUNTERS.get(self.value())
        if (
            counter
            and not Campaign.objects.filter(pk=campaign_pk, **{f"{counter}__gt": 0}).exists()
        ):
            return queryset.none()
        return queryset.filter(status=self.value())


@admin.register(Message)
class MessageAdmin(BigTableAdmin, ReadOnlyAdmin):
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
    # No vendor-account filter: the campaign says the account, and walking 10M rows newest
    # first for a rarely used account is the scan the indexes are here to avoid.
    list_filter = (CampaignFilter, StatusWithinCampaignFilter)
    search_fields = ("phone", "custom_id", "vendor_message_id")
    search_help_text = ID_SEARCH_HELP
    search_help = ID_SEARCH_HELP
    list_select_related = ("campaign",)
    raw_id_fields = ("campaign",)
    actions = [export_messages_csv, export_messages_xlsx]
    exclude = ("vendor_status_description", "error")
    readonly_fields = ("vendor_description", "vendor_meaning", "error_display")
    inlines = [DeliveryReportInline]

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, message: Message) -> str:
        """An unknown message is not "awaiting report": the vendor may or may not have it."""
        if message.status == Status.UNKNOWN:
            return str(_("Outcome unknown"))
        return message.get_status_display()

    @admin.display(description=_("vendor's words"))
    def vendor_description(self, message: Message) -> str:
        """As the vendor said it; its meaning in the UI language is ``vendor_meaning``."""
        return vendor_words(message.vendor_status_description)

    @admin.display(description=_("meaning"))
    def vendor_meaning(self, message: Message) -> str:
        return status_meaning(message.vendor_status_description, message.status)

    @admin.display(description=_("error"))
    def error_display(self, message: Message) -> str:
        return wording.shown(message.error)

    def search_condition(self, terms: SearchTerms) -> Q | None:
        return message_condition(terms)


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
class DeliveryReportAdmin(BigTableAdmin, ReadOnlyAdmin):
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
    # Reports are written fast and indexed little: they are found by what a search names
    # (phone, ids) or through their message; of the filters only "unmatched" has an index.
    list_filter = (MatchedFilter,)
    search_fields = ("phone", "custom_id", "vendor_message_id")
    search_help_text = ID_SEARCH_HELP
    search_help = ID_SEARCH_HELP
    list_select_related = ("vendor_account",)
    raw_id_fields = ("message",)
    # The stored description keeps the vendor's words with our English gloss: shown apart,
    # our meaning in the UI language only.
    exclude = ("description",)
    readonly_fields = ("description_display", "report_meaning")

    def search_condition(self, terms: SearchTerms) -> Q | None:
        """A matched report is found through its message (the messages' indexes, then the
        reports' message column); an unmatched one — few, indexed apart — by its own fields."""
        condition = message_condition(terms)
        if condition is None:
            return None
        message_ids = list(
            Message.objects.filter(condition)
            .order_by()
            .values_list("pk", flat=True)[:MATCHES_PER_SEARCH]
        )
        unmatched = Q()
        if terms.phone:
            unmatched |= Q(phone=terms.phone)
        ids = id_lookups(terms, custom_id_length=64, vendor_id_length=64)
        if "custom_id" in ids:
            unmatched |= Q(custom_id=ids["custom_id"])
        if "vendor_message_id" in ids:
            unmatched |= Q(
                vendor_account_id__in=account_ids(), vendor_message_id=ids["vendor_message_id"]
            )
        found = Q(message__isnull=True) & unmatched if unmatched else Q(pk__in=[])
        if message_ids:
            found |= Q(message_id__in=message_ids)
        if terms.number is not None:
            found |= Q(pk=terms.number)
        return found

    @admin.display(description=_("matched"), boolean=True)
    def matched(self, report: DeliveryReport) -> bool:
        return report.message_id is not None

    @admin.display(description=_("vendor's words"))
    def description_display(self, report: DeliveryReport) -> str:
        return vendor_words(report.description)

    @admin.display(description=_("meaning"))
    def report_meaning(self, report: DeliveryReport) -> str:
        return status_meaning(report.description, report.status)


@admin.register(InboundMessage)
class InboundMessageAdmin(BigTableAdmin, ReadOnlyAdmin):
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
    # Replies are about one in a hundred messages; their time is indexed (migration 0002).
    date_hierarchy = "received_at"
    search_fields = ("phone", "content")
    search_help_text = _(
        "A full phone number (as typed: spaces, +86 and full-width digits are fine), or words "
        "of the reply."
    )
    list_select_related = ("vendor_account", "campaign", "message")
    raw_id_fields = ("campaign", "message")
    actions = ["mark_read", "mark_unread", export_replies_csv, export_replies_xlsx]

    def has_change_permission(self, request, obj=None):
        # Marking as read is the only change; it happens through the actions.
        return False

    def search_condition(self, terms: SearchTerms) -> Q | None:
        """A phone by its index; anything else in the replies' text (replies are about one
        in a hundred messages, a bounded table)."""
        if terms.phone:
            return Q(phone=terms.phone)
        return Q(content__icontains=terms.text)

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

    paginator = BigTableAdmin.paginator
    list_display = ("received_at", "vendor_account", "method", "outcome", "item_count", "error")
    list_filter = ("outcome", "vendor_account", ("received_at", admin.DateFieldListFilter))
    list_select_related = ("vendor_account",)
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
