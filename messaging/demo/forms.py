"""The simulator page's forms: what may be asked of the simulator, checked before asking."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging.views.portal.common import TEST_PHONE

FAULT_LABELS = {
    "normal": (_("Normal"), _("answers as its document says")),
    "slow": (_("Slow"), _("answers after 3 seconds")),
    "error": (_("Server error"), _("answers HTTP 500 with an HTML page")),
    "unavailable": (_("Unavailable"), _("answers HTTP 503")),
    "garbage": (_("Garbled answer"), _("answers bytes nobody can read")),
    "rate_limit": (_("Too many requests"), _("answers the vendor's own rate-limit code")),
    "accept_then_drop": (
        _("Answer lost"),
        _("takes the messages, then drops the connection before answering"),
    ),
    "auth_error": (_("Credentials refused"), _("answers the vendor's authentication error")),
    "no_balance": (_("Out of balance"), _("answers the vendor's insufficient-balance code")),
}
"""Each of the simulator's fault modes (``messaging.vendors.simulator.FAULT_MODES``), named
and explained for the page."""


class ReplyForm(forms.Form):
    account = forms.ChoiceField(label=_("To the account"))
    phone = forms.RegexField(
        label=_("From the phone"),
        regex=TEST_PHONE,
        max_length=20,
        error_messages={"invalid": _("Enter 5 to 20 digits.")},
    )
    content = forms.CharField(label=_("Reply"), max_length=300)

    def __init__(self, *args, accounts: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = {str(a["pk"]): a for a in accounts if a["replies"]}
        self.fields["account"].choices = [(pk, a["name"]) for pk, a in self.accounts.items()]

    def clean_phone(self):
        return self.cleaned_data["phone"].lstrip("+")


class FaultForm(forms.Form):
    vendor = forms.ChoiceField(label=_("Vendor"))
    mode = forms.ChoiceField(label=_("Fault"))

    def __init__(self, *args, vendors: list[tuple[str, str]], modes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vendor"].choices = vendors
        self.fields["mode"].choices = [
            (mode, FAULT_LABELS[mode][0]) for mode in modes if mode in FAULT_LABELS
        ]


class ReviewForm(forms.Form):
    vendor = forms.CharField(max_length=30)
    template = forms.CharField(max_length=64)
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    reason = forms.CharField(label=_("Reason"), max_length=100, required=False)
