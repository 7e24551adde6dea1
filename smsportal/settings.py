"""Settings, all from the environment (django-environ).  See README "Configuration".

Production is the default: ``DJANGO_DEBUG`` is false unless set, and production refuses to
start without real secrets (nor with the development ones below); ``manage.py check --deploy``
is then clean.  Development asks for itself with ``DJANGO_DEBUG=true`` (``bin/run``,
``bin/test``, pytest's ``smsportal.settings_test``), which gives a working portal on SQLite with
django-q2's ORM broker.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Production unless development is asked for: a forgotten variable must not fail open.
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Development-only fallbacks, public in this repository: production refuses to start without
# real ones, and refuses these.
_DEV_SECRET = "dev-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LTAxMjM0NTY3ODlhYmM="
if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_DEV_SECRET)
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_DEV_FIELD_KEY])
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="").strip()
    FIELD_ENCRYPTION_KEYS = [
        key.strip() for key in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if key.strip()
    ]
    _DEVELOPMENT = "(or set DJANGO_DEBUG=true for development)"
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is not set. Production (DJANGO_DEBUG=false, the default) needs "
            f"a secret key of its own {_DEVELOPMENT}."
        )
    if SECRET_KEY == _DEV_SECRET:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is the repository's development key, which anyone can read. "
            f"Set a secret key of its own for production {_DEVELOPMENT}."
        )
    if not FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS is not set. Production (DJANGO_DEBUG=false, the default) "
            f"needs Fernet keys of its own for vendor secrets {_DEVELOPMENT}."
        )
    if _DEV_FIELD_KEY in FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS holds the repository's development key, which anyone can "
            f"read. Use keys of your own for production (to move secrets off it: put the new "
            f"key first, run rotate_secrets with DJANGO_DEBUG=true, then drop the old one) "
            f"{_DEVELOPMENT}."
        )
"""Fernet keys for vendor secrets; the first encrypts, all decrypt (see README: rotation)."""

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "smsportal.admin.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "django_q",
    "accounts.axes_app.LoginLockoutsConfig",  # django-axes
    "accounts",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who and from where, for the audit trail (accounts.audit).
    "accounts.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Static files from the web process itself (compressed, hashed names, cached for ever);
    # development's runserver serves the sources.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "smsportal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "messaging.demo.context.demo_mode",
            ],
        },
    },
]

WSGI_APPLICATION = "smsportal.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that tests can run real worker processes against it.
    DATABASES["default"]["TEST"] = {
        "NAME": env("SMSPORTAL_TEST_DB", default=str(BASE_DIR / "test-db.sqlite3"))
    }
    # WAL lets the web server read while the task cluster writes; the timeout rides out the
    # short write locks instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out login before any password is checked (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login throttling (django-axes), for the portal's and the admin's login alike: after
# AXES_FAILURE_LIMIT wrong passwords for one username from one address, that username is
# refused from that address (even with the right password) until AXES_COOLOFF_MINUTES after
# the last failure, or until an administrator deletes the attempt in the admin ("Access
# attempts") or runs ``manage.py axes_reset``.  LOGIN_LOCKOUT_BY lists what is counted
# together: "username+ip_address" (default) locks a username at one address only, so a
# guesser elsewhere cannot lock the real user out; add ",username" to also lock the username
# everywhere, or ",ip_address" to lock an address that tries many usernames.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    part.split("+") if "+" in part else part
    for part in env.list("LOGIN_LOCKOUT_BY", default=["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
# Not its "BEGIN version …" line at every start of every process.
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# The client's address: REMOTE_ADDR, unless a reverse proxy in front sets a header (then name
# it, e.g. HTTP_X_FORWARDED_FOR, and say how many proxies there are).
AXES_IPWARE_META_PRECEDENCE_ORDER = env.list("AXES_CLIENT_IP_HEADERS", default=["REMOTE_ADDR"])
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=None)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Chinese first: the users are Chinese marketers.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "static")
if not DEBUG:
    # ``collectstatic`` (bin/serve runs it) writes hashed, gzip-compressed copies (brotli too
    # when installed) that whitenoise serves with far-future cache headers; development serves
    # the sources.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "smsportal.storage.StaticFilesStorage"},
    }
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "var" / "media")

# Public base URL of this portal, used to build the push URLs vendors call.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
# The demo (bin/run sets PORTAL_DEMO=true): the vendor simulators' page, linked from the
# dashboard, exists only then, and never in production (DEBUG off).
DEMO_MODE = DEBUG and env.bool("PORTAL_DEMO", default=False)
SIMULATOR_URL = env.str("SIMULATOR_URL", default="http://127.0.0.1:8025")
# Replies that are exactly one of these (any case, full or half width) opt the phone out.
OPT_OUT_KEYWORDS = env.list("OPT_OUT_KEYWORDS", default=["T", "TD", "退订", "N", "取消", "STOP"])

# --- E-mail (alerts, ``messaging.services.alerts``): printed to the console in development;
# SMTP from the environment in production.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="smsportal@localhost")

# --- django-q2: the ORM broker needs no extra server; Redis when Q_REDIS_URL is set.
Q_CLUSTER = {
    "name": "smsportal",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=600),
    "retry": env.int("Q_RETRY", default=660),
    "max_attempts": 1,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "label": "Django Q2",
    "save_limit": 1000,
    "ack_failures": True,
    "poll": env.float("Q_POLL", default=0.5),
}
if env.str("Q_REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env.str("Q_REDIS_URL")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("Q_REDIS_URL"),
        }
    }
else:
    Q_CLUSTER["orm"] = "default"
    # The cluster's stats live in the cache: it must be shared by the web and worker
    # processes for the admin's task-cluster page to see them.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env.str("DJANGO_CACHE_DIR", default=str(BASE_DIR / "var" / "cache")),
        }
    }

# How long a sending worker's hold on a batch outlives its last sign of life, and how long a
# confirmed start may wait for its task before the dispatcher runs it (seconds).
SENDING_LEASE_S = env.float("SENDING_LEASE_S", default=15.0)
SENDING_START_GRACE_S = env.float("SENDING_START_GRACE_S", default=20.0)

# --- Retention (``messaging.services.retention``, run daily): how many days each kind of record
# is kept before the purge removes it, in batches; 0 keeps it for ever.  Delivery reports go
# only once their message is final (or they matched none); failed tasks are kept longer than
# finished ones; an import keeps its row, only its uploaded file and rejected-rows report go.
RETAIN_PUSHES_DAYS = env.int("RETAIN_PUSHES_DAYS", default=30)
RETAIN_POLL_ANSWERS_DAYS = env.int("RETAIN_POLL_ANSWERS_DAYS", default=30)
RETAIN_DELIVERY_REPORTS_DAYS = env.int("RETAIN_DELIVERY_REPORTS_DAYS", default=90)
RETAIN_TASK_RESULTS_DAYS = env.int("RETAIN_TASK_RESULTS_DAYS", default=7)
RETAIN_FAILED_TASKS_DAYS = env.int("RETAIN_FAILED_TASKS_DAYS", default=30)
RETAIN_IMPORT_FILES_DAYS = env.int("RETAIN_IMPORT_FILES_DAYS", default=30)
# The audit trail: two years by default (0 keeps it for ever).
RETAIN_AUDIT_DAYS = env.int("RETAIN_AUDIT_DAYS", default=730)
# Campaigns finished this many days ago are archived by the daily purge (0: only by hand).
ARCHIVE_AFTER_DAYS = env.int("ARCHIVE_AFTER_DAYS", default=0)

IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A push URL carries the account's token, its only credential: the request warnings
    # (4xx / 5xx) and the development server's access log show /vendor/push/<id>/…/ instead.
    "filters": {
        "push_tokens": {"()": "smsportal.log_filters.HidePushTokens"},
        "client_errors": {"()": "smsportal.log_filters.ClientErrorsWithoutTraceback"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "server": {"class": "logging.StreamHandler", "formatter": "server"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own default gives "django" a console handler of its own in DEBUG, besides
        # propagating to ours: every warning twice.  Only ours.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # A 4xx (a refused permission, a page not found) is the client's doing: one line,
        # without the traceback of the exception that answered it.
        "django.request": {"filters": ["push_tokens", "client_errors"]},
        # Django's own access-log setup, with the filter.
        "django.server": {
            "handlers": ["server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["push_tokens"],
        },
    },
}

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # A load balancer's health check may ask over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
