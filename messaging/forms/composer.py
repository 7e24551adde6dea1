"""The campaign composer's form, and what the page starts with."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..media_types import extension_families
from ..models import Campaign, RecipientList, Template, VendorAccount
from ..services.compose import conflicting_defaults
from ..services.content_checks import frame_rules, price_per_segment
from ..services.drafts import library_templates, own_message
from ..vendors.registry import vendor
from ..views.portal.common import parse_id


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, account):
        return f"{account.name} · {account.get_vendor_display()}"


class ComposeForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Campaign name"), max_length=200)
    recipient_list = forms.ModelChoiceField(
        label=gettext_lazy("Recipient list"), queryset=RecipientList.objects.none()
    )
    vendor_account = AccountChoiceField(
        label=gettext_lazy("Vendor account"), queryset=VendorAccount.objects.none()
    )
    template = forms.ModelChoiceField(
        label=gettext_lazy("Start from a saved template"),
        queryset=Template.objects.none(),
        required=False,
        empty_label=gettext_lazy("— write a new message —"),
    )
    kind = forms.ChoiceField(label=gettext_lazy("Message type"), choices=Template.Kind.choices)
    body = forms.CharField(
        label=gettext_lazy("Message"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=2000,
        help_text=gettext_lazy(
            "<column> is filled from each recipient's column; <column|default> shows the "
            "default to recipients without a value, e.g. <name|customer>."
        ),
    )
    signature = forms.CharField(
        label=gettext_lazy("Signature"),
        max_length=20,
        required=False,
        help_text=gettext_lazy("Leave empty to use the vendor account's signature."),
    )
    is_marketing = forms.BooleanField(
        label=gettext_lazy("Marketing message (adds the opt-out suffix)"),
        required=False,
        initial=True,
    )
    template_name = forms.CharField(
        label=gettext_lazy("Name of the message"),
        max_length=100,
        required=False,
        help_text=gettext_lazy(
            "The name of the campaign's own message (kept with the campaign, not among the "
            "saved templates unless you save it as one) and an MMS / 5G template's title at "
            "the vendor; the campaign name when empty."
        ),
    )
    save_as_template = forms.BooleanField(
        label=gettext_lazy("Also save this message as a template"),
        required=False,
        help_text=gettext_lazy(
            "It then appears among the saved templates, under the name above, for later "
            "campaigns. Otherwise it stays with this campaign only."
        ),
    )
    category = forms.CharField(
        label=gettext_lazy("Template category"),
        max_length=50,
        required=False,
        help_text=gettext_lazy("Only when saved as a template, e.g. Members or Promotions."),
    )
    scheduled_at = forms.DateTimeField(
        label=gettext_lazy("Send at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("Empty: send as soon as you confirm."),
    )

    send_window_start = forms.TimeField(
        label=gettext_lazy("Send only from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=gettext_lazy(
            "Optional: narrower hours for this campaign, within the portal's send window."
        ),
    )
    send_window_end = forms.TimeField(
        label=gettext_lazy("Send only until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipient_list"].queryset = RecipientList.objects.order_by("-created_at")
        self.fields["vendor_account"].queryset = VendorAccount.objects.filter(is_active=True)
        self.fields["template"].queryset = library_templates()
        self.fields["signature"].validators = Template._meta.get_field("signature").validators
        self.fields["category"].widget.attrs["list"] = "template-categories"

    def clean_body(self):
        body = self.cleaned_data.get("body", "")
        if conflicting := conflicting_defaults(body):
            raise forms.ValidationError(
                _("Give %(names)s one default: <name|default> means the same wherever it is.")
                % {"names": ", ".join(f"<{name}>" for name in conflicting)}
            )
        return body

    def clean_scheduled_at(self):
        when = self.cleaned_data.get("scheduled_at")
        if when and when <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future, or leave it empty."))
        return when

    def clean(self):
        data = super().clean()
        start, end = data.get("send_window_start"), data.get("send_window_end")
        if start and end and start >= end:
            self.add_error(
                "send_window_end", _("The end of the hours must come after their start.")
            )
        return data


def initial_data(query, campaign: Campaign | None) -> dict:
    """The form's first values: the draft ``campaign``'s, or a new campaign's (the list,
    account and library template named in the query string ``query``)."""
    if campaign is not None:
        template = campaign.template
        return {
            "name": campaign.name,
            "recipient_list": campaign.recipient_list_id,
            "vendor_account": campaign.vendor_account_id,
            # The campaign's own message is no saved template to pick.
            "template": None if own_message(campaign) else template.pk,
            "kind": template.kind,
            "body": template.body,
            "signature": template.signature,
            "is_marketing": template.is_marketing,
            "scheduled_at": (
                timezone.localtime(campaign.scheduled_at) if campaign.scheduled_at else None
            ),
            "send_window_start": campaign.send_window_start,
            "send_window_end": campaign.send_window_end,
        }
    initial = {"kind": Template.Kind.SMS, "is_marketing": True}
    for key in ("recipient_list", "vendor_account", "template"):
        if (pk := parse_id(query.get(key))) is not None:
            initial[key] = pk
    template = library_templates().filter(pk=initial.get("template")).first()
    if template:
        initial.update(
            kind=template.kind,
            body=template.body,
            signature=template.signature,
            is_marketing=template.is_marketing,
        )
    else:
        initial.pop("template", None)
    accounts = VendorAccount.objects.filter(is_active=True)
    if "vendor_account" not in initial and accounts.count() == 1:
        initial["vendor_account"] = accounts.first().pk
    return initial


def composer_config() -> dict:
    """What the page's script needs: columns per list, account rules, saved templates."""
    accounts = {}
    for account in VendorAccount.objects.filter(is_active=True):
        capabilities = vendor(account.vendor).capabilities
        accounts[account.pk] = {
            "signature": account.signature,
            "suffix": account.opt_out_suffix,
            "price": str(price_per_segment(account)),
            "limits": list(capabilities.sms_segment_chars),
            "ascii_limits": list(capabilities.ascii_segment_chars),
            "content_check": capabilities.content_check,
            "frames": frame_rules(account).as_dict(),
        }
    lists = {
        row.pk: {"columns": row.columns or [], "count": row.n}
        for row in RecipientList.objects.with_counts()
    }
    templates = {
        t.pk: {
            "kind": t.kind,
            "body": t.body,
            "signature": t.signature,
            "is_marketing": t.is_marketing,
        }
        for t in library_templates()[:200]
    }
    return {
        "accounts": accounts,
        "lists": lists,
        "templates": templates,
        "media": extension_families(),
    }


def composer_texts() -> dict:
    """Words the page's script shows."""
    return {
        "parts": _("parts"),
        "chars": _("characters"),
        "instant": _("while typing (the preview is exact)"),
        "recipients": _("recipients"),
        "columns": _("columns"),
        "noColumns": _("this list has no columns"),
        "signature": _("signature"),
        "suffix": _("opt-out suffix"),
        "none": _("none"),
        "price": _("per part (estimate)"),
        "richParts": _("one billed message per recipient, whatever the length"),
        "priceRich": _("per message (estimate)"),
        "frameRules": _("Allowed: %(types)s; at most %(file)s KB a file, %(total)s KB in all."),
        "badType": _("This vendor does not accept this kind of file."),
        "tooBig": _("The file is too large."),
        "tooBigTotal": _("The frames would be too large in all."),
        "readyToUpload": _("Ready to upload."),
    }
