"""The simulator page (thin: the simulator does the work, ``SimulatorControl`` asks it)."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from messaging.models import VendorAccount
from messaging.vendors.registry import VENDOR_CHOICES
from messaging.vendors.simulator_control import SimulatorControl, SimulatorRefused
from messaging.views.portal.common import portal_view

from .forms import FAULT_LABELS, FaultForm, ReplyForm, ReviewForm

VENDOR_LABELS = dict(VENDOR_CHOICES)


def demo_only(view):
    """Outside demo mode the page does not exist, for anyone."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.DEMO_MODE:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def control() -> SimulatorControl:
    return SimulatorControl(settings.SIMULATOR_URL, timeout=5)


def account_rows(overview: dict) -> list[dict]:
    """The portal's accounts the simulator knows, with what it knows of them."""
    known = {(a["vendor"], a["account_id"]): a for a in overview["accounts"]}
    rows = []
    for account in VendorAccount.objects.filter(is_active=True).order_by("name"):
        sim = known.get((account.vendor, account.account_id))
        if sim is None or not account.base_url.startswith(settings.SIMULATOR_URL.rstrip("/")):
            continue
        rows.append(
            {
                "pk": account.pk,
                "name": account.name,
                "vendor": account.vendor,
                "vendor_label": VENDOR_LABELS.get(account.vendor, account.vendor),
                "account_id": account.account_id,
                "pushes": sim["pushes"],
                "polls": account.polling_enabled,
                "replies": sim["replies"],
            }
        )
    return rows


def vendor_choices(overview: dict) -> list[tuple[str, str]]:
    return [(key, VENDOR_LABELS.get(key, key)) for key in overview["faults"]]


@demo_only
@portal_view()
def simulator(request):
    try:
        overview = control().overview()
    except SimulatorRefused:
        return TemplateResponse(
            request,
            "demo/simulator.html",
            {"unreachable": True, "simulator_url": settings.SIMULATOR_URL},
        )
    accounts = account_rows(overview)
    faults = [
        {
            "vendor": key,
            "label": label,
            "mode": overview["faults"][key],
            "mode_label": FAULT_LABELS[overview["faults"][key]][0],
        }
        for key, label in vendor_choices(overview)
    ]
    context = {
        "simulator_url": settings.SIMULATOR_URL,
        "accounts": accounts,
        "reply_form": ReplyForm(
            accounts=accounts, initial={"phone": "13800000001", "content": "好的，谢谢"}
        ),
        "faults": faults,
        "fault_modes": [
            (mode, *FAULT_LABELS[mode]) for mode in overview["fault_modes"] if mode in FAULT_LABELS
        ],
        "fault_form": FaultForm(vendors=vendor_choices(overview), modes=overview["fault_modes"]),
        "templates": [
            {**t, "vendor_label": VENDOR_LABELS.get(t["vendor"], t["vendor"])}
            for t in overview["templates"]
        ],
        "requests": overview["requests"],
    }
    return TemplateResponse(request, "demo/simulator.html", context)


def _back(request, ok: str | None = None, error: str | None = None):
    if ok:
        messages.success(request, ok)
    if error:
        messages.error(request, error)
    return redirect("demo:simulator")


def _refused(exc: SimulatorRefused) -> str:
    return _("The simulator refused: %(reason)s") % {"reason": exc}


@demo_only
@portal_view()
@require_POST
def reply(request):
    try:
        accounts = account_rows(control().overview())
    except SimulatorRefused as exc:
        return _back(request, error=_refused(exc))
    form = ReplyForm(request.POST, accounts=accounts)
    if not form.is_valid():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        return _back(request, error=_("The reply was not sent: %(errors)s") % {"errors": errors})
    account = form.accounts[form.cleaned_data["account"]]
    try:
        control().reply(
            vendor=account["vendor"],
            account_id=account["account_id"],
            phone=form.cleaned_data["phone"],
            content=form.cleaned_data["content"],
        )
    except SimulatorRefused as exc:
        return _back(request, error=_refused(exc))
    text = (
        _("%(phone)s replied to %(account)s; the simulator pushes the reply to the portal.")
        if account["pushes"]
        else _("%(phone)s replied to %(account)s; the portal gets the reply at its next poll.")
    )
    return _back(
        request, ok=text % {"phone": form.cleaned_data["phone"], "account": account["name"]}
    )


@demo_only
@portal_view()
@require_POST
def fault(request):
    try:
        overview = control().overview()
    except SimulatorRefused as exc:
        return _back(request, error=_refused(exc))
    vendors = vendor_choices(overview)
    form = FaultForm(request.POST, vendors=vendors, modes=overview["fault_modes"])
    if not form.is_valid():
        return _back(request, error=_("Choose a vendor and a fault."))
    vendor, mode = form.cleaned_data["vendor"], form.cleaned_data["mode"]
    try:
        control().set_fault(vendor, mode)
    except SimulatorRefused as exc:
        return _back(request, error=_refused(exc))
    return _back(
        request,
        ok=_("%(vendor)s: %(fault)s.")
        % {"vendor": dict(vendors)[vendor], "fault": FAULT_LABELS[mode][0]},
    )


@demo_only
@portal_view()
@require_POST
def review(request):
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _back(request, error=_("Choose a template and a decision."))
    data = form.cleaned_data
    approved = data["decision"] == "approve"
    try:
        result = control().review(
            data["vendor"], data["template"], approved=approved, reason=data["reason"]
        )
    except SimulatorRefused as exc:
        return _back(request, error=_refused(exc))
    if not result.get("acknowledged"):
        return _back(
            request,
            error=_("Template %(id)s was decided, but the portal did not take the verdict.")
            % {"id": data["template"]},
        )
    ok = (
        _("Template %(id)s approved; the vendor pushed its verdict.")
        if approved
        else _("Template %(id)s rejected; the vendor pushed its verdict.")
    )
    return _back(request, ok=ok % {"id": data["template"]})
