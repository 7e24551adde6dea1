"""Registering MMS / video / 5G templates at a vendor for review.

The vendor reviews a template's frames before any campaign may use it; its verdict arrives
later (the ashx5g review push, applied by ``reports.apply_template_reviews``)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from ..models import Template, TemplateRegistration, VendorAccount
from ..vendors.base import TemplateFrame, VendorError
from ..vendors.registry import vendor
from .compose import placeholders


class TemplateSubmitError(Exception):
    """The template could not be submitted; the message is for the person who tried."""


def submit_for_review(template: Template, account: VendorAccount) -> TemplateRegistration:
    """Upload the template's frames to the account's vendor and record the registration as
    pending with the vendor's template id.  A template already approved or under review is
    left alone."""
    if not vendor(account.vendor).capabilities.template_upload:
        raise TemplateSubmitError(
            _("%(account)s takes no template uploads.") % {"account": account.name}
        )
    registration, _created = TemplateRegistration.objects.get_or_create(
        template=template, vendor_account=account
    )
    if registration.review_status in (
        TemplateRegistration.Review.PENDING,
        TemplateRegistration.Review.APPROVED,
    ):
        return registration
    frames = []
    for file in template.files.order_by("frame", "order"):
        with file.file.open("rb") as handle:
            frames.append(
                TemplateFrame(
                    frame=file.frame,
                    order=file.order,
                    content_type=file.content_type,
                    data=handle.read(),
                    name=file.file.name.rsplit("/", 1)[-1],
                )
            )
    if not frames:
        raise TemplateSubmitError(_("The template has no frames to submit."))
    try:
        upload = account.client().upload_template(
            title=template.name,
            signature=template.signature or account.signature,
            frames=frames,
            has_variables=bool(placeholders(template.body)),
        )
    except VendorError as exc:
        with transaction.atomic():
            registration.review_reason = str(exc)
            registration.raw = str(exc.raw or "")[:10000]
            registration.save(update_fields=["review_reason", "raw"])
        raise TemplateSubmitError(
            _("The vendor refused the template: %(error)s") % {"error": exc}
        ) from exc
    registration.vendor_template_id = upload.vendor_template_id
    registration.review_status = TemplateRegistration.Review.PENDING
    registration.review_reason = ""
    registration.reviewed_at = None
    registration.raw = upload.raw
    registration.save()
    return registration
