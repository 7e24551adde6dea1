"""The administrators' pages, one module per area; importing this package registers them all."""

from . import (  # noqa: F401
    campaigns,
    logs,
    portal_settings,
    recipients,
    tasks,
    templates,
    vendor_accounts,
)
