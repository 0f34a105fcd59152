"""salesai settings: one module, configured from the environment.

With no variables set, salesai runs on one machine with no servers: SQLite under ``var/`` and Celery
on kombu's filesystem transport (also under ``var/``) with an in-process beat. Set ``DATABASE_URL``
and ``REDIS_URL`` and the same code runs on PostgreSQL and Redis (see README.md).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SALESAI_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (export DEBUG=true for development).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "template_partials",
    "anymail",
    "django_structlog",
    "axes",
    "corsheaders",
    # ours, lowest first (DESIGN.md §2); the wiring itself only for its worker heartbeat table
    "salesai",
    "audit",
    "accounts",
    "trust",
    "signals",
    "recommendations",
    "simulation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # before CommonMiddleware, as django-cors-headers documents; it acts on /v1/* only (below)
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    # last, as django-axes documents: it turns a locked-out login into its 429 answer
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "salesai.urls"
WSGI_APPLICATION = "salesai.wsgi.application"
ASGI_APPLICATION = "salesai.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'salesai.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write to the same file: WAL lets readers and one writer
    # work at once, IMMEDIATE transactions take the write lock up front instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Celery workers only (salesai.celery.prepare_statements_in_workers): prepared statements on PostgreSQL.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, broker --------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": env.cache_url_config(REDIS_URL)}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Waits longer than this go into a retry_not_before column, not a countdown (CONVENTIONS.md 6).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    CELERY_RESULT_BACKEND = None

# --- Celery ---------------------------------------------------------------------------------------
CELERY_TIMEZONE = "UTC"
CELERY_IMPORTS = ("salesai.tasks",)  # the house's own tasks; apps' tasks.py are autodiscovered
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless this is set: a new
# PostgreSQL connection per analysis cost more than the analysis. Connections are kept for this many
# tasks; salesai.celery drops a broken one, or one older than CONN_MAX_AGE, after each task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=500)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into django-celery-beat's tables at beat start, so they show (and can be paused) in the admin.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "salesai-worker-heartbeat": {"task": "salesai.worker_heartbeat", "schedule": 60.0},
    "signals-requeue-unanalysed": {"task": "signals.requeue_unanalysed_signals", "schedule": 60.0},
    "recommendations-sweep-due-accounts": {"task": "recommendations.sweep_due_accounts", "schedule": 60.0},
    "recommendations-execute-due": {"task": "recommendations.execute_due_actions", "schedule": 30.0},
    "recommendations-send-digests": {"task": "recommendations.send_due_digests", "schedule": crontab(minute="*/15")},
    "recommendations-retrain-learning": {"task": "recommendations.retrain_learning", "schedule": crontab(minute=7)},
}
# Learning from outcomes (issue 15): off, confidence stays hand-set and nothing is retrained.
LEARNING_ENABLED = env.bool("LEARNING_ENABLED", default=True)

# --- auth, i18n -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): its backend first, so a locked-out login is refused before the
# password is even checked. Failures count per (user name, client address) pair: guessing one person's
# password from one place stops after AXES_FAILURE_LIMIT tries for AXES_COOLOFF_MINUTES, while a
# stranger cannot lock a rep out from elsewhere. A success clears the count. API tokens are not logins.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- e-mail ---------------------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp://user:pass@smtp.example.com:587/?tls=True; development prints to the console.
_email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://127.0.0.1:25")
vars().update(_email)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="salesai <salesai@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = {
    "MAILGUN_WEBHOOK_SIGNING_KEY": env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
    "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="") or None,
}
# Mail servers whose Authentication-Results header (RFC 8601) vouches for an inbound sender. Name only a
# server of yours that stamps the header on incoming mail and removes forged copies of it.
INBOUND_EMAIL_AUTHSERV_IDS = env.list("INBOUND_EMAIL_AUTHSERV_IDS", default=[])

# --- browsers sending Segment calls (analytics.js) ------------------------------------------------
# A website's snippet posts to /v1/* from its own origin. Those endpoints take only the public write key
# (no cookie, no session), so any origin may call them; nothing else of salesai answers CORS at all.
CORS_URLS_REGEX = r"^/v1/"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ("OPTIONS", "POST")
CORS_PREFLIGHT_MAX_AGE = 86400

# --- REST framework -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "salesai.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "salesai API",
    "DESCRIPTION": "Signals in, reasoned recommendations out. See DESIGN.md §4 for the contracts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- salesai's own knobs --------------------------------------------------------------------------
SALESAI = {
    # Optional OpenAI-compatible endpoint that may rewrite drafts; off unless set. Evidence never comes from it.
    "LLM_BASE_URL": env.str("SALESAI_LLM_BASE_URL", default=""),
    "LLM_API_KEY": env.str("SALESAI_LLM_API_KEY", default=""),
    "LLM_MODEL": env.str("SALESAI_LLM_MODEL", default=""),
    # How long a stored signal may wait for analysis before the outbox sweep queues it again.
    "OUTBOX_GRACE_SECONDS": env.int("SALESAI_OUTBOX_GRACE_SECONDS", default=60),
    # Per-source ingestion rate limit (requests per minute).
    "INGEST_RATE_PER_MINUTE": env.int("SALESAI_INGEST_RATE_PER_MINUTE", default=6000),
    # New accounts one source's signals may create per hour (a source's own setting overrides it);
    # beyond it signals are stored without an account. A public write key could otherwise invent thousands.
    "ACCOUNTS_PER_SOURCE_PER_HOUR": env.int("SALESAI_ACCOUNTS_PER_SOURCE_PER_HOUR", default=200),
    # User-agent fragments (case-insensitive) of automated visitors CrawlerDetect does not know, e.g. a
    # mail gateway's link scanner; their page views are stored but never count as interest.
    "AUTOMATED_USER_AGENTS": env.list("SALESAI_AUTOMATED_USER_AGENTS", default=[]),
    # Customer e-mails go out only in the contact's working hours (the hours are the admin's OutreachPolicy).
    "SEND_IN_WORKING_HOURS": env.bool("SALESAI_SEND_IN_WORKING_HOURS", default=True),
}

# --- security (production) ------------------------------------------------------------------------
# Trusted only when configured: behind a proxy that sets the header (and drops it from clients), e.g.
# SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto. Trusting it unconditionally would let any client that
# reaches the app directly claim HTTPS (secure cookies, CSRF's referer check and redirects follow it).
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", default="").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_header.upper().removeprefix("HTTP_").replace("-", "_"), "https") if _proxy_header else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- logging: one structured line per event -------------------------------------------------------
from salesai.logging import configure_logging  # noqa: E402

LOGGING = configure_logging(debug=DEBUG, level=env.str("LOG_LEVEL", default="INFO"))
DJANGO_STRUCTLOG_CELERY_ENABLED = True

# HSTS for subdomains and the preload list affect every host under your domain, so they are the
# operator's explicit choice (README, "Production"); while off, Django's reminders are silenced.
SILENCED_SYSTEM_CHECKS = [
    check
    for check, enabled in (("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS), ("security.W021", SECURE_HSTS_PRELOAD))
    if not enabled
]
