"""What the benchmark scripts share: production settings for their processes, a free port."""

from __future__ import annotations

import os
import socket

DEV_LIKE_FIELD_KEY = "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMDE="


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """This process's environment with production settings (DEBUG off) and the secrets
    production insists on (fixed, well-formed ones unless given: the bench accounts' secrets
    are encrypted with the key), plus ``overrides``."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="smsportal.settings",
        DATABASE_URL=database_url,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=env.get("DJANGO_SECRET_KEY", "bench-" + "k" * 60),
        FIELD_ENCRYPTION_KEYS=env.get("FIELD_ENCRYPTION_KEYS", DEV_LIKE_FIELD_KEY),
    )
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
