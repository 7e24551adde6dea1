"""The only code that writes message, campaign and account state.

Views, admin actions, tasks and push receivers call these functions; they are idempotent and
move statuses forward only (see ``messaging.models.Message``).
"""
