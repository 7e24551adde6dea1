"""Logging filters (see ``LOGGING`` in settings).  Imported while logging is configured, before
the apps are ready: nothing here may import models."""

import logging
import re

# The push receiver's URL, /vendor/push/<account id>/<token>/ (smsportal/urls.py and
# messaging/urls.py): the token is the push's only credential.
PUSH_TOKEN = re.compile(r"(/vendor/push/\d+/)[^/\s?#\"']+")
HIDDEN = r"\1…"


def hide_push_tokens(text: str) -> str:
    """``text`` with every push URL's token replaced by "…"."""
    return PUSH_TOKEN.sub(HIDDEN, text)


class HidePushTokens(logging.Filter):
    """Rewrites /vendor/push/<id>/<token>/ to /vendor/push/<id>/…/ in a record's message and
    arguments, so that no handler (console, access log, mail) ever sees a push token.  Set on
    the ``django.request`` (4xx / 5xx warnings) and ``django.server`` (access log) loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/vendor/push/" in record.msg:
            record.msg = hide_push_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                hide_push_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.args, dict):
            record.args = {
                key: hide_push_tokens(arg) if isinstance(arg, str) else arg
                for key, arg in record.args.items()
            }
        return True


class ClientErrorsWithoutTraceback(logging.Filter):
    """Drops the traceback from ``django.request``'s 4xx warnings: a PermissionDenied or
    Http404 raised on purpose is an answer, not a fault, and its warning line says all there
    is.  5xx errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 0) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
