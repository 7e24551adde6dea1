"""The administrators' pages, one module per area; importing this package registers them all."""

from . import campaigns, logs, recipients, tasks, templates, vendor_accounts  # noqa: F401
