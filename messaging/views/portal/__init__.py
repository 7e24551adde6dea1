"""The marketer's pages: dashboard, composer, campaigns, recipient lists and the reply inbox.

Server-rendered; htmx swaps small partials (composer preview, sensitive-word check, inbox) and
the campaign page polls a JSON endpoint for its counters and charts.  Views are thin: state
changes go through ``messaging.services`` and ``messaging.tasks`` exactly as the admin does."""
