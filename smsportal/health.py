"""``/healthz``: whether this process reaches the database and the task broker — and nothing
else (no versions, no counts, no login), so a load balancer or a monitor may ask it freely.

200 with ``{"database": "ok", "broker": "ok"}`` when both answer; 503 naming the one that
does not ("unavailable", never the error's text: it could name hosts or users).
"""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        log.warning("health: the database does not answer", exc_info=True)
        return False


def broker_answers(database_ok: bool) -> bool:
    """django-q2's broker: Redis when ``Q_REDIS_URL`` is set (asked with a short timeout, so a
    silent network does not hang the check), else the ORM broker, which is the database."""
    url = settings.Q_CLUSTER.get("redis")
    if not url:
        return database_ok
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        log.warning("health: the task broker does not answer", exc_info=True)
        return False


@never_cache
@require_GET
def healthz(request):
    database_ok = database_answers()
    checks = {"database": database_ok, "broker": broker_answers(database_ok)}
    body = {name: "ok" if fine else "unavailable" for name, fine in checks.items()}
    return JsonResponse(body, status=200 if all(checks.values()) else 503)
