"""Settings for the test suite: development mode, asked for explicitly.

The base settings default to production (``DJANGO_DEBUG=false``), which refuses to start
without real secrets.  pytest (``DJANGO_SETTINGS_MODULE`` in pyproject.toml) loads this module
instead; it asks for development mode before the base settings read the environment.  It sets
the variable in ``os.environ`` itself, so that the processes tests start (task cluster, workers,
``manage.py shell``) inherit development mode together with ``DJANGO_SETTINGS_MODULE``.  An
explicit ``DJANGO_DEBUG`` in the environment still wins.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .settings import *  # noqa: F403

# Tests log in hundreds of times (throttling, the crawl, every role): a fast hash there; the
# portal itself keeps Django's slow, salted default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The send window and the frequency caps (``messaging.services.compliance.rules``) would make
# tests of everything else depend on the hour they run at and on what an earlier test sent:
# relaxed here, turned on by the rules' own tests.
SEND_RULES_ENFORCED = False
