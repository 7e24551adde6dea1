"""The campaign composer: list, account, template with placeholders, live preview and counters,
MMS / 5G frames, sensitive-word check, schedule, test send and the confirmation.

The live numbers come from ``messaging.services.compose`` on the server (segment rules differ
per vendor; an MMS / video / 5G message is one billed message); the page's own character count
is only instant feedback while typing.

MMS / video / 5G: a frame holds uploaded files or a text typed here, whose ``<name>``
placeholders become the vendor's ``{var1}``… on submission (``services.templates``).  The
template's body is kept equal to its text frames' texts, so that a send passes the values in
the order the vendor numbers them.  The preview shows the frames as the handset will (text
frames filled with the first recipient's values), not an SMS with signature and suffix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ...models import (
    Campaign,
    Recipient,
    RecipientList,
    Suppression,
    Template,
    TemplateFile,
    VendorAccount,
)
from ...services import campaign_commands, sending
from ...services.compose import (
    Encodability,
    MessageRenderer,
    compliance_errors,
    full_text,
    message_parts,
    placeholders,
    preview_campaign,
    render,
    signature_for,
)
from ...services.content_checks import (
    check_content,
    check_frame_file,
    estimate_cost,
    extension_families,
    family,
    frame_rules,
    media_duration,
    price_per_segment,
    served_type,
    vendor_checks_content,
)
from ...services.templates import frame_texts, keep_body_with_frames, template_title
from ...vendors.registry import vendor
from .common import TEST_PHONE, parse_id, portal_view, safe_next

LIVE_PREVIEW_ROWS = 5000
"""The live preview counts this many recipients exactly and extrapolates beyond; the
confirmation counts them all."""
SAMPLES = 3


# --------------------------------------------------------------------------- form


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
        label=gettext_lazy("Save the message as template"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Name for a new template; the campaign name when empty."),
    )
    scheduled_at = forms.DateTimeField(
        label=gettext_lazy("Send at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("Empty: send as soon as you confirm."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipient_list"].queryset = RecipientList.objects.order_by("-created_at")
        self.fields["vendor_account"].queryset = VendorAccount.objects.filter(is_active=True)
        self.fields["template"].queryset = Template.objects.order_by("-updated_at")
        self.fields["signature"].validators = Template._meta.get_field("signature").validators

    def clean_scheduled_at(self):
        when = self.cleaned_data.get("scheduled_at")
        if when and when <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future, or leave it empty."))
        return when


def template_from(data: dict, *, keep: Template | None = None) -> Template:
    """The template the form describes: the chosen saved one when unchanged, else an unsaved
    one (``keep`` is updated in place instead when given)."""
    chosen: Template | None = data.get("template")
    fields = {
        "kind": data.get("kind") or Template.Kind.SMS,
        "body": data.get("body") or "",
        "signature": data.get("signature") or "",
        "is_marketing": bool(data.get("is_marketing")),
    }
    if chosen and all(getattr(chosen, k) == v for k, v in fields.items()):
        return chosen
    template = keep or Template()
    for name, value in fields.items():
        setattr(template, name, value)
    return template


def _draft_template(campaign: Campaign | None) -> Template | None:
    """The campaign's own template, editable in place: written in the composer together with
    this campaign (not picked from the saved ones), used by no other and never registered."""
    if campaign is None:
        return None
    template = campaign.template
    made_with_it = abs((campaign.created_at - template.created_at).total_seconds()) < 60
    shared = template.campaigns.exclude(pk=campaign.pk).exists()
    if not made_with_it or shared or template.registrations.exists():
        return None
    return template


# --------------------------------------------------------------------------- live preview


@dataclass
class LivePreview:
    template: Template
    account: VendorAccount
    recipient_list: RecipientList
    samples: list[dict] = field(default_factory=list)
    recipients: int = 0
    counted: int = 0
    sendable: int = 0
    missing: int = 0
    unencodable: int = 0
    """Recipients whose text the account's request encoding cannot carry."""
    unencodable_examples: list[str] = field(default_factory=list)
    encoding: str = ""
    suppressed: int = 0
    segments: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: list[dict] = field(default_factory=list)
    """MMS / video / 5G: the frames as the first recipient's handset shows them."""
    title: str = ""
    """MMS / video / 5G: the subject the vendor gets with the template."""

    @property
    def rich(self) -> bool:
        """An MMS / video / 5G message: frames, one billed message each."""
        return self.template.needs_vendor_approval

    @property
    def extrapolated(self) -> bool:
        return self.counted < self.recipients

    @property
    def factor(self) -> float:
        return self.recipients / self.counted if self.counted else 0.0

    @property
    def est_sendable(self) -> int:
        return round(self.sendable * self.factor) if self.extrapolated else self.sendable

    @property
    def est_segments(self) -> int:
        return round(self.segments * self.factor) if self.extrapolated else self.segments

    @property
    def cost(self) -> Decimal:
        return estimate_cost(self.est_segments, self.account)

    @property
    def price(self) -> Decimal:
        return price_per_segment(self.account)

    @property
    def signature(self) -> str:
        return signature_for(self.template, self.account)

    @property
    def suffix(self) -> str:
        return self.account.opt_out_suffix if self.template.is_marketing else ""

    @property
    def limits(self) -> tuple[int, int]:
        return vendor(self.account.vendor).capabilities.sms_segment_chars


def live_preview(
    template: Template,
    account: VendorAccount,
    recipient_list: RecipientList,
    *,
    frames_of: Template | None = None,
    file_url: Callable[[TemplateFile], str] | None = None,
):
    """The preview panel's facts.  ``frames_of``: the saved template whose frames an MMS /
    video / 5G preview shows (``template`` itself when saved); ``file_url``: where an image
    frame's thumbnail is served (none: names and sizes only)."""
    preview = LivePreview(template, account, recipient_list)
    preview.recipients = recipient_list.recipients.count()
    if template.pk:
        preview.errors = compliance_errors(template, account)
    else:
        unsaved = Template(**{f: getattr(template, f) for f in ("body", "signature")})
        unsaved.is_marketing = template.is_marketing  # an SMS check: no registrations needed
        preview.errors = compliance_errors(unsaved, account)
        if template.needs_vendor_approval:
            preview.errors.append(
                _(
                    "Save the draft to add the frames, then have the template approved by "
                    "the vendor before sending."
                )
            )
    columns = set(recipient_list.columns or [])
    unknown = [name for name in placeholders(template.body) if name not in columns]
    if unknown and columns:
        preview.warnings.append(
            _("Not a column of this list: %(names)s") % {"names": ", ".join(unknown)}
        )
    suppressed = (
        set(
            Suppression.objects.filter(
                phone__in=Recipient.objects.filter(recipient_list=recipient_list).values("phone")
            ).values_list("phone", flat=True)
        )
        if template.is_marketing
        else set()
    )
    # Phones are unique within a list, so every row is one message.
    renderer = MessageRenderer(template, account)
    encodability = Encodability(account)
    preview.encoding = encodability.label
    rows = Recipient.objects.filter(recipient_list=recipient_list).order_by("pk")
    for phone, variables in rows.values_list("phone", "variables")[:LIVE_PREVIEW_ROWS]:
        preview.counted += 1
        variables = variables or {}
        text, parts, missing = renderer.render([variables.get(n) for n in renderer.names])
        if len(preview.samples) < SAMPLES:
            preview.samples.append(
                _sample(preview, phone, text, parts, missing, phone in suppressed)
            )
        if phone in suppressed:
            preview.suppressed += 1
        elif missing:
            preview.missing += 1
        elif misfits := encodability.misfits(text):
            # The same rule as the confirmation and the start (``compose.Encodability``).
            preview.unencodable += 1
            if len(preview.unencodable_examples) < SAMPLES:
                preview.unencodable_examples.append(f"{phone}: {''.join(misfits)}")
        else:
            preview.sendable += 1
            preview.segments += parts
    if not preview.samples:
        text = full_text(template, account, template.body)
        parts = message_parts(template, text, account)
        preview.samples.append(_sample(preview, "", text, parts, [], False))
    if preview.rich:
        if frames_of is None and template.pk:
            frames_of = template
        first = rows.values_list("variables", flat=True).first() or {}
        _rich_preview(preview, frames_of, first, file_url)
    return preview


def _rich_preview(
    preview: LivePreview,
    frames_of: Template | None,
    values: Mapping,
    file_url: Callable[[TemplateFile], str] | None,
) -> None:
    """The frames as the handset shows them, and what the marketer should know about them."""
    if frames_of is None or frames_of.pk is None:
        return  # not saved yet: the errors say to save the draft first
    files = list(frames_of.files.order_by("frame", "order"))
    preview.frames = handset_frames(files, values, file_url)
    capabilities = vendor(preview.account.vendor).capabilities
    preview.title = template_title(frames_of, capabilities.template_title_max_chars)
    if not files:
        preview.warnings.append(
            _("No frame yet: add the texts, images, videos or sounds of the message below.")
        )
        return
    texts = frame_texts(files)
    carried = set(placeholders("\n".join(texts)))
    uncarried = [n for n in placeholders(preview.template.body) if n not in carried]
    if uncarried:
        preview.warnings.append(
            _(
                "No text frame holds %(names)s: the vendor's template would have no place for "
                "these values. Add a text frame with them."
            )
            % {"names": ", ".join(f"<{n}>" for n in uncarried)}
        )
    if preview.suffix and not any(preview.suffix in text for text in texts):
        preview.warnings.append(
            _(
                "A marketing message should say how to opt out: the vendor sends only the "
                "frames, so put %(suffix)s in a text frame."
            )
            % {"suffix": preview.suffix}
        )


def handset_frames(
    files: list[TemplateFile],
    values: Mapping,
    file_url: Callable[[TemplateFile], str] | None = None,
) -> list[dict]:
    """Frame by frame (numbered 1, 2, 3… as the vendor counts them), each file as the handset
    shows it: a text filled with ``values`` (a placeholder without a value stays as it is and
    is listed in ``missing``), an image (``url``: its thumbnail, when ``file_url`` is given),
    a video or sound with its size and, when it can be read, its length."""
    frames: dict[int, list[dict]] = {}
    for item in files:
        content_type = item.content_type
        entry = {
            "pk": item.pk,
            "kind": family(content_type),
            "content_type": content_type,
            "name": item.file.name.rsplit("/", 1)[-1],
            "size": None,
            "duration": "",
            "url": "",
            "text": "",
            "missing": [],
        }
        frames.setdefault(item.frame, []).append(entry)
        if not _exists(item):
            continue
        entry["size"] = item.file.size
        if content_type == "text/plain":
            texts = frame_texts([item])
            if texts:
                entry["text"], entry["missing"] = render(texts[0], values)
            else:
                entry["kind"] = "unreadable"
        elif entry["kind"] == "image":
            entry["url"] = file_url(item) if file_url else ""
        elif entry["kind"] in ("video", "audio"):
            try:
                with item.file.open("rb") as handle:
                    seconds = media_duration(handle, content_type)
            except OSError:
                seconds = None
            if seconds is not None:
                whole = round(seconds)
                entry["duration"] = f"{whole // 60}:{whole % 60:02d}"
    return [
        {"number": number, "items": items}
        for number, (_frame, items) in enumerate(sorted(frames.items()), 1)
    ]


def _sample(preview: LivePreview, phone, text, parts, missing, suppressed) -> dict:
    """One message as the handset shows it, cut into signature, body and suffix."""
    signature, suffix, body = preview.signature, preview.suffix, text
    if signature and body.startswith(signature):
        body = body[len(signature) :]
    else:
        signature = ""
    if suffix and body.endswith(suffix):
        body = body[: -len(suffix)]
    else:
        suffix = ""
    return {
        "phone": phone,
        "text": text,
        "signature": signature,
        "body": body,
        "suffix": suffix,
        "chars": len(text),
        "parts": parts,
        "missing": missing,
        "suppressed": suppressed,
    }


def _bound_preview(request) -> LivePreview | None:
    form = ComposeForm(request.POST)
    form.is_valid()  # partial data is fine: use what is there
    data = form.cleaned_data
    account, recipient_list = data.get("vendor_account"), data.get("recipient_list")
    if account is None or recipient_list is None:
        return None
    data.setdefault("body", request.POST.get("body", ""))
    # The draft being edited holds the frames (its template, even while the form differs).
    campaign_pk = parse_id(request.POST.get("campaign"))
    campaign = (
        Campaign.objects.select_related("template").filter(pk=campaign_pk).first()
        if campaign_pk
        else None
    )
    return live_preview(
        template_from(data),
        account,
        recipient_list,
        frames_of=campaign.template if campaign else None,
        file_url=_file_url(request, campaign),
    )


@portal_view("messaging.add_campaign")
@require_POST
def preview(request):
    """htmx: the preview panel for the form as it stands."""
    return TemplateResponse(
        request, "portal/composer/_preview.html", {"preview": _bound_preview(request)}
    )


@portal_view("messaging.add_campaign")
@require_POST
def content_check(request):
    """htmx: the sensitive-word check of the first message as it will be sent."""
    live = _bound_preview(request)
    if live is None:
        return TemplateResponse(request, "portal/composer/_check.html", {"verdict": None})
    verdict = check_content(live.samples[0]["text"], live.account)
    body_words = check_content(live.template.body).local_words
    verdict.local_words = list(dict.fromkeys([*verdict.local_words, *body_words]))
    return TemplateResponse(
        request,
        "portal/composer/_check.html",
        {"verdict": verdict, "vendor_check": vendor_checks_content(live.account)},
    )


# --------------------------------------------------------------------------- compose


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
        for row in RecipientList.objects.annotate(n=Count("recipients"))
    }
    templates = {
        t.pk: {
            "kind": t.kind,
            "body": t.body,
            "signature": t.signature,
            "is_marketing": t.is_marketing,
        }
        for t in Template.objects.order_by("-updated_at")[:200]
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


def _initial(request, campaign: Campaign | None) -> dict:
    if campaign is not None:
        template = campaign.template
        return {
            "name": campaign.name,
            "recipient_list": campaign.recipient_list_id,
            "vendor_account": campaign.vendor_account_id,
            "template": template.pk,
            "kind": template.kind,
            "body": template.body,
            "signature": template.signature,
            "is_marketing": template.is_marketing,
            "scheduled_at": (
                timezone.localtime(campaign.scheduled_at) if campaign.scheduled_at else None
            ),
        }
    initial = {"kind": Template.Kind.SMS, "is_marketing": True}
    for key in ("recipient_list", "vendor_account", "template"):
        if (pk := parse_id(request.GET.get(key))) is not None:
            initial[key] = pk
    template = Template.objects.filter(pk=initial.get("template")).first()
    if template:
        initial.update(
            kind=template.kind,
            body=template.body,
            signature=template.signature,
            is_marketing=template.is_marketing,
        )
    accounts = VendorAccount.objects.filter(is_active=True)
    if "vendor_account" not in initial and accounts.count() == 1:
        initial["vendor_account"] = accounts.first().pk
    return initial


@portal_view("messaging.add_campaign")
def compose(request, pk: int | None = None):
    campaign = None
    if pk is not None:
        campaign = get_object_or_404(
            Campaign.objects.select_related("template", "vendor_account", "recipient_list"),
            pk=pk,
        )
        if campaign.status != Campaign.State.DRAFT:
            messages.info(request, _("Only a draft can be edited."))
            return redirect("portal:campaign", pk=campaign.pk)
        if not request.user.has_perm("messaging.change_campaign"):
            return redirect("portal:campaign", pk=campaign.pk)
    form = ComposeForm(request.POST or None, initial=_initial(request, campaign))
    if request.method == "POST" and form.is_valid():
        campaign = _save(request, form.cleaned_data, campaign)
        if request.POST.get("then") == "confirm":
            return redirect("portal:confirm", pk=campaign.pk)
        messages.success(request, _("Draft saved."))
        return redirect("portal:compose_edit", pk=campaign.pk)
    template = campaign.template if campaign else None
    text_frames = _has_text_frames(template)
    if text_frames:
        # The body is the text frames' texts (kept in step with them): edited there.
        form.fields["body"].widget.attrs.update(readonly=True, **{"data-from-frames": "1"})
    context = {
        "form": form,
        "text_frames": text_frames,
        "campaign": campaign,
        "template_obj": template,
        "frames": _frames(template),
        "frames_bytes": _frames_bytes(template),
        "rules": frame_rules(campaign.vendor_account) if campaign else None,
        "config": composer_config(),
        "texts": composer_texts(),
    }
    return TemplateResponse(request, "portal/composer/compose.html", context)


def _has_text_frames(template: Template | None) -> bool:
    return bool(
        template is not None
        and template.pk
        and template.needs_vendor_approval
        and template.files.filter(content_type="text/plain").exists()
    )


def _frames_fixed(template: Template) -> bool:
    """Submitted to a vendor: its frames (and so its body's placeholders) may not change."""
    return template.registrations.exclude(review_status="draft").exists()


def _frames(template: Template | None) -> list[dict]:
    if template is None or template.pk is None:
        return []
    frames: dict[int, list[TemplateFile]] = {}
    for item in template.files.all():
        frames.setdefault(item.frame, []).append(item)
    return [{"number": n, "files": files} for n, files in sorted(frames.items())]


@transaction.atomic
def _save(request, data: dict, campaign: Campaign | None) -> Campaign:
    template = template_from(data, keep=_draft_template(campaign))
    if template.pk is None:
        template.name = (data.get("template_name") or data["name"])[:100]
        template.created_by = request.user
    template.full_clean()
    template.save()
    if campaign is None:
        campaign = Campaign(created_by=request.user)
    elif campaign.template_id != template.pk and data.get("template") is None:
        # The campaign moved to a new template: carry its frames over.
        for item in campaign.template.files.all():
            TemplateFile.objects.create(
                template=template,
                frame=item.frame,
                order=item.order,
                content_type=item.content_type,
                file=item.file.name,
            )
    if not _frames_fixed(template):
        # MMS / video / 5G: the body follows the text frames (their placeholders' order is
        # the order a send passes the values in).
        keep_body_with_frames(template)
    campaign.name = data["name"]
    campaign.template = template
    campaign.recipient_list = data["recipient_list"]
    campaign.vendor_account = data["vendor_account"]
    campaign.scheduled_at = data.get("scheduled_at")
    campaign.save()
    return campaign


# --------------------------------------------------------------------------- frames


@portal_view("messaging.change_campaign", "messaging.add_templatefile")
@require_POST
def upload_frame(request, pk: int):
    """Add a file (or a text) to a frame of a draft campaign's MMS / 5G template."""
    campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=pk)
    back = reverse("portal:compose_edit", args=[campaign.pk]) + "#frames"
    if campaign.status != Campaign.State.DRAFT:
        return _frame_answer(request, back, _("Only a draft can be edited."), 409)
    template = campaign.template
    if _frames_fixed(template):
        return _frame_answer(
            request, back, _("This template was submitted to a vendor; its frames are fixed."), 409
        )
    rules = frame_rules(campaign.vendor_account)
    try:
        frame = max(1, min(int(request.POST.get("frame") or 1), 50))
    except ValueError:
        frame = 1
    upload = request.FILES.get("file")
    text = (request.POST.get("text") or "").strip()
    if upload is None and text:
        from django.core.files.base import ContentFile

        upload = ContentFile(text.encode("utf-8"), name=f"frame{frame}.txt")
        upload.content_type = "text/plain"
    if upload is None:
        return _frame_answer(request, back, _("Choose a file or write a text."), 400)
    existing = _frames_bytes(template)
    content_type, error = check_frame_file(
        upload.name, getattr(upload, "content_type", "") or "", upload.size, existing, rules
    )
    if error:
        return _frame_answer(request, back, error, 400)
    order = (
        template.files.filter(frame=frame).order_by("-order").values_list("order", flat=True)[:1]
    )
    with transaction.atomic():
        TemplateFile.objects.create(
            template=template,
            frame=frame,
            order=(order[0] + 1) if order else 1,
            content_type=content_type,
            file=upload,
        )
        keep_body_with_frames(template)
    return _frame_answer(request, back, "", 201)


@portal_view("messaging.view_campaign", "messaging.view_templatefile")
def frame_file(request, pk: int, file_pk: int):
    """A frame's file, for the composer's previews (media is not served publicly)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    item = get_object_or_404(TemplateFile, pk=file_pk, template_id=campaign.template_id)
    if not _exists(item):
        raise Http404
    response = FileResponse(item.file.open("rb"), content_type=served_type(item.content_type))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _frames_bytes(template: Template | None) -> int:
    if template is None or template.pk is None:
        return 0
    return sum(f.file.size for f in template.files.all() if f.file and _exists(f))


def _exists(item: TemplateFile) -> bool:
    try:
        return item.file.storage.exists(item.file.name)
    except Exception:
        return False


@portal_view("messaging.change_campaign", "messaging.delete_templatefile")
@require_POST
def delete_frame_file(request, pk: int, file_pk: int):
    campaign = get_object_or_404(Campaign, pk=pk, status=Campaign.State.DRAFT)
    item = get_object_or_404(TemplateFile, pk=file_pk, template=campaign.template)
    if not _frames_fixed(campaign.template):
        item.file.delete(save=False)
        item.delete()
        keep_body_with_frames(campaign.template)
    return redirect(reverse("portal:compose_edit", args=[campaign.pk]) + "#frames")


def _frame_answer(request, back: str, error: str, status: int):
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": not error, "error": error}, status=status)
    if error:
        messages.error(request, error)
    return redirect(back)


# --------------------------------------------------------------------------- confirm


def _campaign_for_send(pk: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("template", "vendor_account", "recipient_list"), pk=pk
    )


@portal_view("messaging.change_campaign")
def confirm(request, pk: int):
    """What the send will be — count, parts, estimated cost, checks — and the button."""
    campaign = _campaign_for_send(pk)
    if campaign.status not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
        messages.info(request, _("This campaign has already been sent."))
        return redirect("portal:campaign", pk=campaign.pk)
    exclude_missing = request.POST.get("missing", "exclude") == "exclude"
    preview_data = preview_campaign(campaign, exclude_missing=exclude_missing)
    first_text = (
        preview_data.samples[0][1]
        if preview_data.samples
        else full_text(campaign.template, campaign.vendor_account, campaign.template.body)
    )
    verdict = check_content(first_text, campaign.vendor_account)
    verdict.local_words = list(
        dict.fromkeys([*verdict.local_words, *check_content(campaign.template.body).local_words])
    )
    if request.method == "POST" and request.POST.get("confirm"):
        if preview_data.errors or not preview_data.sendable:
            messages.error(request, _("This campaign cannot be sent as it is."))
        elif not verdict.ok:
            messages.error(
                request,
                _("Remove the sensitive words first: %(words)s")
                % {"words": "、".join(verdict.words)},
            )
        else:
            return _start(request, campaign, exclude_missing)
    context = {
        "campaign": campaign,
        "preview": preview_data,
        "verdict": verdict,
        "vendor_check": vendor_checks_content(campaign.vendor_account),
        "cost": estimate_cost(preview_data.total_segments, campaign.vendor_account),
        "price": price_per_segment(campaign.vendor_account),
        "exclude_missing": exclude_missing,
        "scheduled": bool(campaign.scheduled_at and campaign.scheduled_at > timezone.now()),
        # MMS / video / 5G: what the handset shows (the samples' texts are not sent as such).
        "rich": campaign.template.needs_vendor_approval,
        "frames": _campaign_frames(request, campaign),
    }
    return TemplateResponse(request, "portal/composer/confirm.html", context)


def _campaign_frames(request, campaign: Campaign) -> list[dict]:
    """An MMS / video / 5G campaign's frames filled with its first recipient's values."""
    if not campaign.template.needs_vendor_approval:
        return []
    first = (
        campaign.recipient_list.recipients.order_by("pk")
        .values_list("variables", flat=True)
        .first()
    )
    return handset_frames(
        list(campaign.template.files.order_by("frame", "order")),
        first or {},
        _file_url(request, campaign),
    )


def _file_url(request, campaign: Campaign | None) -> Callable[[TemplateFile], str] | None:
    """Where the composer's pages show a frame's file, for those allowed to see it."""
    if campaign is None or not request.user.has_perms(
        ["messaging.view_campaign", "messaging.view_templatefile"]
    ):
        return None
    return lambda item: reverse("portal:frame_file", args=[campaign.pk, item.pk])


def _start(request, campaign: Campaign, exclude_missing: bool):
    """Schedule or start, through the same command as the admin's send view."""
    try:
        outcome = campaign_commands.confirm(campaign, exclude_missing=exclude_missing)
    except campaign_commands.CampaignError as exc:
        messages.error(request, str(exc))
        return redirect("portal:campaign", pk=campaign.pk)
    if outcome == "scheduled":
        messages.success(
            request,
            _("Scheduled for %(when)s.")
            % {"when": timezone.localtime(campaign.scheduled_at).strftime("%Y-%m-%d %H:%M")},
        )
        return redirect("portal:campaign", pk=campaign.pk)
    messages.success(request, _("Sending started."))
    return redirect(reverse("portal:campaign", args=[campaign.pk]) + "?sent=1")


@portal_view("messaging.change_campaign")
@require_POST
def test_send(request, pk: int):
    campaign = _campaign_for_send(pk)
    back = safe_next(request, reverse("portal:confirm", args=[campaign.pk]))
    phone = request.POST.get("phone", "").strip()
    if not TEST_PHONE.fullmatch(phone):
        messages.error(request, _("Enter a phone number for the test."))
        return redirect(back)
    try:
        message = sending.send_test_message(campaign, phone)
    except sending.CampaignError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    level = messages.SUCCESS if message.status == "submitted" else messages.ERROR
    messages.add_message(
        request,
        level,
        _("Test message to %(phone)s: %(status)s %(error)s")
        % {"phone": phone, "status": message.get_status_display(), "error": message.error},
    )
    return redirect(back)
