"""gunicorn's access log without push tokens: a push URL (/vendor/push/<id>/<token>/) carries
the account's only credential, so every field of an access-log line is passed through
``log_filters.hide_push_tokens`` (as Django's own request and server logs are)."""

from gunicorn.glogging import Logger

from .log_filters import hide_push_tokens


class TokenHidingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        return {
            key: hide_push_tokens(value) if isinstance(value, str) else value
            for key, value in super().atoms(resp, req, environ, request_time).items()
        }
