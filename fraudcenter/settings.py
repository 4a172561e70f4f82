"""Settings read from the environment.

With nothing set the app runs on the embedded default: SQLite in var/ and Celery's
filesystem transport. Production sets PRODUCTION=1, DATABASE_URL, CELERY_BROKER_URL,
SECRET_KEY and ALLOWED_HOSTS; a missing or unsafe value stops the start.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from deliveries.push import origin as push_origin
from deliveries.secrets import check_secret
from fraudcenter.db_router import replica_database
from fraudcenter.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("FRAUDCENTER_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

PRODUCTION = env.bool("PRODUCTION", default=False)
# Off unless asked for (DEBUG=1): `make run` shows what a user sees, the Russian 403/404/500
# pages, not Django's English technical ones.
DEBUG = env.bool("DEBUG", default=False)


def _embedded_secret_key() -> str:
    """The embedded default's key: made once per installation in var/, never shared by two."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PRODUCTION=1.")
if PRODUCTION and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Set SECRET_KEY (at least 32 characters) when PRODUCTION=1.")
SECRET_KEY = SECRET_KEY or _embedded_secret_key()

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set ALLOWED_HOSTS in production.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "auditlog",
    "axes",
    "rules.apps.AutodiscoverRulesConfig",
    "django_htmx",
    "playbooks",
    "cases",
    "reminders",
    "reports",
    "calls",
    "deliveries",
    "intel",
]

MIDDLEWARE = [
    "fraudcenter.middleware.RequestIdMiddleware",
    "fraudcenter.ops.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "fraudcenter.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "axes.middleware.AxesMiddleware",
]
# Durations per answer in a Server-Timing header (CPU, SQL time and count): `make bench-day`
# reads them per request kind. Off by default: a header per answer and a wrapper per query.
SERVER_TIMING = env.bool("SERVER_TIMING", default=False)
if SERVER_TIMING:
    MIDDLEWARE.insert(0, "fraudcenter.middleware.ServerTimingMiddleware")

ROOT_URLCONF = "fraudcenter.urls"
WSGI_APPLICATION = "fraudcenter.wsgi.application"

# Staff forms render their common widgets in Python (same HTML, ~5× less time on the lists).
FORM_RENDERER = "fraudcenter.form_renderer.FormRenderer"

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
                "cases.context_processors.roles",
            ],
        },
    },
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [],
        "APP_DIRS": True,  # <app>/jinja2/
        "OPTIONS": {"environment": "fraudcenter.jinja2.environment"},
    },
]

# --- Database -------------------------------------------------------------------------------
_SQLITE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url("DATABASE_URL", default=_SQLITE_URL)}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE: web and worker both write; without these SQLite says "database is locked".
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    _db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default=None)
    # PostgreSQL JIT-compiles any query estimated above jit_above_cost: the reports' GROUP BY
    # of live days (an EXISTS per case, estimated far above its real cost) spent 350 ms
    # compiling to run 180 ms (bench/RESULTS.md «Reports»). Our queries are short or
    # index-bound; POSTGRES_JIT=1 leaves the server's setting.
    _options = _db.setdefault("OPTIONS", {})
    if not env.bool("POSTGRES_JIT", default=False):
        _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
    # No parallel workers for one query: a report's scan of a month of cases took both cores
    # of the box for a moment (Gather with two workers), and every page waited behind it.
    # One core per query leaves the others to the pages; POSTGRES_PARALLEL=1 leaves the
    # server's setting (a reports replica with cores to spare, say).
    if not env.bool("POSTGRES_PARALLEL", default=False):
        _parallel = "-c max_parallel_workers_per_gather=0"
        _options["options"] = f"{_options.get('options', '')} {_parallel}".strip()
    # Parameters sent apart from the SQL, and a statement run five times on a connection
    # prepared (psycopg's threshold): PostgreSQL then parses and plans it once per connection,
    # not per execution. 35–50 % less database CPU per request in the day run's mix
    # (bench/RESULTS.md). POSTGRES_PREPARED=0 behind a pooler that shares server connections
    # between clients per transaction (PgBouncer's transaction mode).
    if env.bool("POSTGRES_PREPARED", default=True):
        _options.setdefault("server_side_binding", True)
        _options.setdefault("prepare_threshold", 5)
IS_POSTGRES = _db["ENGINE"].startswith("django.db.backends.postgresql")
# Optional read replica (a PostgreSQL hot standby) for the reports and the exports only;
# without it they read the primary. fraudcenter/db_router.py says what goes where.
_replica_url = env.str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    _replica = environ.Env.db_url_config(_replica_url)
    if not (IS_POSTGRES and _replica["ENGINE"] == _db["ENGINE"]):
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs PostgreSQL, as DATABASE_URL.")
    DATABASES["replica"] = replica_database(_replica, _db)
DATABASE_ROUTERS = ["fraudcenter.db_router.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttles, lockouts) ------------------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "fraudcenter.redis_cache.RedisCache"  # one client per pool
if env.str("CACHE_URL", default=""):
    # A shared cache (Redis in production): sessions are read from it and written through to
    # the database. Never with the per-process default, where a logout in one worker would
    # leave the session alive in another worker's memory.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "cases.roles.RoleAwareModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# A Russian page that says why and for how long (HTTP 429).
AXES_LOCKOUT_CALLABLE = "cases.views.lockout"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- I18N -----------------------------------------------------------------------------------
# Russian for everyone whatever the browser says (no LocaleMiddleware): the center works in Russian.
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Русский")), ("en", _("Английский"))]
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = "RU"
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Production serves collected, hashed, compressed files; the embedded default serves
        # them straight from the apps (whitenoise's finders), so `make run` needs no
        # collectstatic and still serves them with DEBUG off.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
MEDIA_ROOT = VAR_DIR / "media"

# --- Security (production) ------------------------------------------------------------------
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response: scripts, styles, images and fonts from our own
# origin only; no inline script, no inline style, no eval (htmx is told so in base.html). The
# API documentation pages loosen styles only (fraudcenter/api_docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Celery ---------------------------------------------------------------------------------
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("out", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "out"),
        "data_folder_out": str(_BROKER_DIR / "out"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(_BROKER_DIR / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- SMS reminders (reminders app) ---------------------------------------------------------
# The backend, like Django's EMAIL_BACKEND: console (prints), locmem (tests), smpp, http.
_SMS_BACKENDS = {
    "console": "reminders.backends.console.ConsoleBackend",
    "locmem": "reminders.backends.locmem.LocmemBackend",
    "smpp": "reminders.backends.smpp.SmppBackend",
    "http": "reminders.backends.http.HttpGatewayBackend",
}
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_BACKEND = _SMS_BACKENDS.get(SMS_BACKEND, SMS_BACKEND)
SMS_SMPP = {
    "HOST": env.str("SMS_SMPP_HOST", default="127.0.0.1"),
    "PORT": env.int("SMS_SMPP_PORT", default=2775),
    "SYSTEM_ID": env.str("SMS_SMPP_SYSTEM_ID", default="fraudcenter"),
    "PASSWORD": env.str("SMS_SMPP_PASSWORD", default=""),
    "SOURCE_ADDR": env.str("SMS_SMPP_SOURCE_ADDR", default="611"),
    "TIMEOUT": env.float("SMS_SMPP_TIMEOUT", default=10.0),  # seconds to wait for a response
    "WINDOW": env.int("SMS_SMPP_WINDOW", default=50),  # submit_sm in flight per session
    # Submits per second per bind: operators allow tens to a couple of hundred.
    "MAX_RATE": env.float("SMS_SMPP_MAX_RATE", default=30.0),
}
SMS_HTTP_URL = env.str("SMS_HTTP_URL", default="")
SMS_HTTP_SECRET = env.str("SMS_HTTP_SECRET", default="")
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=10.0)
# Shared secret of the inbound callbacks (delivery reports, «СТОП»); empty refuses them all.
SMS_CALLBACK_SECRET = env.str("SMS_CALLBACK_SECRET", default=SMS_HTTP_SECRET)
if SMS_BACKEND.endswith("HttpGatewayBackend") and not (SMS_HTTP_URL and SMS_HTTP_SECRET):
    raise ImproperlyConfigured("SMS_BACKEND=http needs SMS_HTTP_URL and SMS_HTTP_SECRET.")
# Quiet hours in the subscriber's own time zone: no SMS from START to END (local wall clock).
SMS_QUIET_HOURS_START = env.str("SMS_QUIET_HOURS_START", default="21:00")
SMS_QUIET_HOURS_END = env.str("SMS_QUIET_HOURS_END", default="09:00")
SMS_DISPATCH_INTERVAL = env.float("SMS_DISPATCH_INTERVAL", default=2.0)  # beat, seconds
SMS_DISPATCH_BUDGET = env.float("SMS_DISPATCH_BUDGET", default=10.0)  # one task's loop, seconds
SMS_BATCH_SIZE = env.int("SMS_BATCH_SIZE", default=100)
SMS_MAX_ATTEMPTS = env.int("SMS_MAX_ATTEMPTS", default=6)
SMS_RETRY_BASE_SECONDS = env.int("SMS_RETRY_BASE_SECONDS", default=30)  # doubles per attempt
SMS_RETRY_MAX_SECONDS = env.int("SMS_RETRY_MAX_SECONDS", default=3600)
# A reminder in "sending" longer than this had its worker die: the reaper marks it "unknown".
SMS_SENDING_TIMEOUT = env.int("SMS_SENDING_TIMEOUT", default=300)
SMS_REAPER_INTERVAL = env.float("SMS_REAPER_INTERVAL", default=30.0)
SMS_MAX_PARTS = env.int("SMS_MAX_PARTS", default=6)
# After the SMSC's "not so fast" (ESME_RTHROTTLED, ESME_RMSGQFUL): seconds before resending.
# The always-bound receiver (manage.py smpp_receiver): its enquire_link when the line is quiet.
SMS_SMPP_ENQUIRE_LINK_SECONDS = env.float("SMS_SMPP_ENQUIRE_LINK_SECONDS", default=30.0)
SMS_THROTTLE_BACKOFF_SECONDS = env.int("SMS_THROTTLE_BACKOFF_SECONDS", default=5)
# Tests only: a directory where the dispatcher announces and holds at its checkpoints.
SMS_TEST_HOOK_DIR = env.str("SMS_TEST_HOOK_DIR", default="")
for _name in ("SMS_QUIET_HOURS_START", "SMS_QUIET_HOURS_END"):
    _value = globals()[_name]
    _hh, _sep, _mm = _value.partition(":")
    if not (_sep and _hh.isdigit() and _mm.isdigit() and int(_hh) < 24 and int(_mm) < 60):
        raise ImproperlyConfigured(f"{_name} must be HH:MM, not {_value!r}.")

# --- Outbound webhooks (deliveries app): the chat backend, later the scammer feed --------------
# Signed as Standard Webhooks say; the secret is "whsec_" + base64 (the receiver has the same).
CHAT_WEBHOOK_URL = env.str("CHAT_WEBHOOK_URL", default="")
CHAT_WEBHOOK_SECRET = env.str("CHAT_WEBHOOK_SECRET", default="")
# How often an open case page asks for new chat lines and delivery states.
CHAT_POLL_SECONDS = env.float("CHAT_POLL_SECONDS", default=3.0)
# The blocking systems' push: each confirmed or retracted identifier (intel app).
FEED_WEBHOOK_URL = env.str("FEED_WEBHOOK_URL", default="")
FEED_WEBHOOK_SECRET = env.str("FEED_WEBHOOK_SECRET", default="")
DELIVERY_TARGETS = {
    "chat": {"URL": CHAT_WEBHOOK_URL, "SECRET": CHAT_WEBHOOK_SECRET},
    "feed": {"URL": FEED_WEBHOOK_URL, "SECRET": FEED_WEBHOOK_SECRET},
}
DELIVERY_CONNECT_TIMEOUT = env.float("DELIVERY_CONNECT_TIMEOUT", default=3.0)  # seconds
DELIVERY_TIMEOUT = env.float("DELIVERY_TIMEOUT", default=10.0)  # seconds to wait for the answer
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=10)
DELIVERY_RETRY_BASE_SECONDS = env.float("DELIVERY_RETRY_BASE_SECONDS", default=2.0)  # doubles
DELIVERY_RETRY_MAX_SECONDS = env.float("DELIVERY_RETRY_MAX_SECONDS", default=600.0)
DELIVERY_DISPATCH_INTERVAL = env.float("DELIVERY_DISPATCH_INTERVAL", default=2.0)  # beat
# A task not seen to run within this many seconds is put on the broker again.
DELIVERY_REQUEUE_SECONDS = env.int("DELIVERY_REQUEUE_SECONDS", default=60)
# "sending" for longer than any attempt can take: its worker died; the reaper retries it.
DELIVERY_SENDING_TIMEOUT = env.int(
    "DELIVERY_SENDING_TIMEOUT", default=int(DELIVERY_CONNECT_TIMEOUT + DELIVERY_TIMEOUT) + 30
)
DELIVERY_REAPER_INTERVAL = env.float("DELIVERY_REAPER_INTERVAL", default=10.0)  # beat, seconds
DELIVERY_TASK_BUDGET = env.float("DELIVERY_TASK_BUDGET", default=30.0)  # one task's loop
# Tests only: where the sender announces and holds at its checkpoints.
DELIVERY_TEST_HOOK_DIR = env.str("DELIVERY_TEST_HOOK_DIR", default="")
if CHAT_WEBHOOK_URL:
    check_secret(CHAT_WEBHOOK_SECRET, "CHAT_WEBHOOK_SECRET")
if FEED_WEBHOOK_URL:
    check_secret(FEED_WEBHOOK_SECRET, "FEED_WEBHOOK_SECRET")

# --- Scammer intelligence (intel app) ------------------------------------------------------
# An identifier reported by this many distinct subscribers within the window waits for a
# supervisor's decision on the review page.
INTEL_CANDIDATE_MIN_SUBSCRIBERS = env.int("INTEL_CANDIDATE_MIN_SUBSCRIBERS", default=3)
INTEL_CANDIDATE_WINDOW_DAYS = env.int("INTEL_CANDIDATE_WINDOW_DAYS", default=30)
# A wave: at least WAVE_MIN_SUBSCRIBERS distinct subscribers within WAVE_WINDOW_MINUTES, and
# at least WAVE_RATE_FACTOR times the key's usual hourly rate over WAVE_BASELINE_DAYS.
WAVE_MIN_SUBSCRIBERS = env.int("WAVE_MIN_SUBSCRIBERS", default=5)
WAVE_WINDOW_MINUTES = env.int("WAVE_WINDOW_MINUTES", default=60)
WAVE_RATE_FACTOR = env.float("WAVE_RATE_FACTOR", default=3.0)
WAVE_BASELINE_DAYS = env.int("WAVE_BASELINE_DAYS", default=7)
# How often beat counts the waves (intel.services.waves_detect) for the keys reported since.
WAVE_DETECT_SECONDS = env.int("WAVE_DETECT_SECONDS", default=60)
# The key of the card numbers' hash (HMAC-SHA256); default: derived from SECRET_KEY. Set it
# explicitly where card hashes must match across installations.
INTEL_CARD_HASH_KEY = env.str("INTEL_CARD_HASH_KEY", default="")
if DELIVERY_SENDING_TIMEOUT <= DELIVERY_CONNECT_TIMEOUT + DELIVERY_TIMEOUT:
    raise ImproperlyConfigured("DELIVERY_SENDING_TIMEOUT must exceed the two timeouts.")

# Reports: the daily rollup is refreshed this often (only the days whose cases changed);
# each refresh re-reads this much before its watermark (transactions still committing).
REPORTS_ROLLUP_REFRESH_SECONDS = env.int("REPORTS_ROLLUP_REFRESH_SECONDS", default=60)
REPORTS_ROLLUP_OVERLAP_SECONDS = env.int("REPORTS_ROLLUP_OVERLAP_SECONDS", default=300)
# How long a past period's report stays in the cache (its key changes with the data anyway).
REPORTS_CACHE_SECONDS = env.int("REPORTS_CACHE_SECONDS", default=24 * 3600)
# How long a report with today in it is shared by everyone who asks for the same filter
# (the page says as of when); 0: read on every request. Five minutes: a 30-day report with
# its live days costs 1.2-1.9 s of a database core at a million cases, and once a minute
# that pushed every request of the specialists' pages past 200 ms for two seconds (the day
# run, bench/RESULTS.md); a manager's month figures do not need to be fresher.
REPORTS_LIVE_CACHE_SECONDS = env.int("REPORTS_LIVE_CACHE_SECONDS", default=300)

CELERY_BEAT_SCHEDULE: dict = {
    "deliveries-dispatch": {
        "task": "deliveries.dispatch",
        "schedule": DELIVERY_DISPATCH_INTERVAL,
        "options": {"expires": max(DELIVERY_DISPATCH_INTERVAL * 3, 5)},
    },
    "deliveries-reap": {
        "task": "deliveries.reap",
        "schedule": DELIVERY_REAPER_INTERVAL,
        "options": {"expires": DELIVERY_REAPER_INTERVAL},
    },
    "reminders-dispatch": {
        "task": "reminders.dispatch",
        "schedule": SMS_DISPATCH_INTERVAL,
        # A tick nobody picked up in time is dropped: the next tick does the same work.
        "options": {"expires": max(SMS_DISPATCH_INTERVAL * 3, 5)},
    },
    "reminders-reap": {
        "task": "reminders.reap",
        "schedule": SMS_REAPER_INTERVAL,
        "options": {"expires": SMS_REAPER_INTERVAL},
    },
    # Finished XLSX exports are kept EXPORT_TTL_HOURS, then their files are deleted.
    "reports-delete-expired-exports": {
        "task": "reports.tasks.exports_delete_expired",
        "schedule": 15 * 60,
    },
    "reports-rollup-refresh": {
        "task": "reports.tasks.rollup_refresh",
        "schedule": REPORTS_ROLLUP_REFRESH_SECONDS,
        "options": {"expires": REPORTS_ROLLUP_REFRESH_SECONDS},
    },
    "intel-waves-detect": {
        "task": "intel.tasks.waves_detect",
        "schedule": WAVE_DETECT_SECONDS,
        "options": {"expires": WAVE_DETECT_SECONDS},
    },
    # Personal data lifecycle: anonymise closed cases past PD_RETENTION_DAYS, daily at 03:30
    # Moscow time (quiet hours for the center). Safe to run twice: rows are claimed.
    "cases-anonymise-expired": {
        "task": "cases.tasks.anonymise_expired",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 6 * 3600},
    },
}

# --- DRF ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cases.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "cases.api_policies.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "cases.api_policies.exception_handler",
    # Per integration (service account); staff sessions are not throttled.
    "DEFAULT_THROTTLE_CLASSES": ["cases.api_policies.IntegrationRateThrottle"],
}
# Requests per integration account, e.g. "600/min"; 429 with Retry-After beyond it.
API_INTEGRATION_THROTTLE_RATE = env.str("API_INTEGRATION_THROTTLE_RATE", default="1200/min")
# Wrong API tokens per client address, e.g. "30/min"; 429 with Retry-After beyond it.
API_AUTH_FAILURE_RATE = env.str("API_AUTH_FAILURE_RATE", default="30/min")
# How long a retried request waits for the same Idempotency-Key still in flight before 409.
IDEMPOTENCY_LOCK_TIMEOUT_MS = env.int("IDEMPOTENCY_LOCK_TIMEOUT_MS", default=10_000)
REST_KNOX = {"AUTO_REFRESH": False, "TOKEN_TTL": None}
SPECTACULAR_SETTINGS = {
    "TITLE": "fraudcenter API",
    "DESCRIPTION": "API для линии 611 и чата «Звонили мошенники».",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page works offline: Swagger UI and Redoc come from our static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "fraudcenter.api_schema.document_common_answers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "cases.models.Status",
        "PriorityEnum": "playbooks.models.Priority",
        "EventKindEnum": "cases.models.CaseEvent.Kind",
        "IdentifierKindEnum": "cases.models.ScammerIdentifier.Kind",
        "ReminderStatusEnum": "reminders.models.Reminder.Status",
    },
}

# --- Domain ---------------------------------------------------------------------------------
# A missed inbound call owes a callback within this many minutes; after this many failed
# attempts it goes to the supervisor.
CALLBACK_DEADLINE_MINUTES = env.int("CALLBACK_DEADLINE_MINUTES", default=15)
CALLBACK_MAX_ATTEMPTS = env.int("CALLBACK_MAX_ATTEMPTS", default=3)
# How often a specialist's open page asks whether a call was just answered (the screen pop).
SCREEN_POP_POLL_SECONDS = env.int("SCREEN_POP_POLL_SECONDS", default=1)
# Server push instead of those polls (deliveries/push.py): where browsers reach the push
# server (`manage.py push_server`; behind the proxy: "/push/") and the Redis it listens to.
# Both unset (the embedded default): the pages poll as above.
PUSH_URL = env.str("PUSH_URL", default="")
PUSH_REDIS_URL = env.str("PUSH_REDIS_URL", default="")
# With push on, pages still poll this slowly (a hint lost while Redis restarted) and at the
# old pace while their push connection is down.
PUSH_FALLBACK_SECONDS = env.int("PUSH_FALLBACK_SECONDS", default=120)
PUSH_KEEPALIVE_SECONDS = env.int("PUSH_KEEPALIVE_SECONDS", default=25)
# A page's push URL is signed for this long (a page left open overnight reloads).
PUSH_TOKEN_MAX_AGE = env.int("PUSH_TOKEN_MAX_AGE", default=24 * 3600)
if _push_origin := push_origin(PUSH_URL):  # on another origin (make run: another port)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"].append(_push_origin)
# How often the supervisors' queue page refreshes itself (seconds).
QUEUE_REFRESH_SECONDS = env.int("QUEUE_REFRESH_SECONDS", default=10)
# ... and its list of specialists with their load (at 300 people, most of the page).
QUEUE_STAFF_REFRESH_SECONDS = env.int("QUEUE_STAFF_REFRESH_SECONDS", default=30)
# Those polls' parts are rendered once for every supervisor with the same rights this often.
QUEUE_PART_CACHE_SECONDS = env.int("QUEUE_PART_CACHE_SECONDS", default=5)
# Every process reads the active categories with their current playbook versions again
# after this many seconds (an edit or a publish in the same process: at once). 0: each time.
CATEGORY_CACHE_SECONDS = env.int("CATEGORY_CACHE_SECONDS", default=5)
# A case is "repeat" when its subscriber had an earlier case within this many days.
REPEAT_VICTIM_DAYS = env.int("REPEAT_VICTIM_DAYS", default=30)
# Disclosed codes make the deadline this many minutes at the most.
URGENT_SLA_MINUTES = env.int("URGENT_SLA_MINUTES", default=30)
# Report exports: XLSX files live here for this many hours, then beat deletes them.
EXPORT_DIR = VAR_DIR / "exports"
EXPORT_TTL_HOURS = env.int("EXPORT_TTL_HOURS", default=24)
# Personal data lifecycle: closed cases older than this many days are anonymised by a daily
# job (cases/retention.py), PD_ANONYMISE_BATCH cases per transaction.
PD_RETENTION_DAYS = env.int("PD_RETENTION_DAYS", default=3 * 365)
PD_ANONYMISE_BATCH = env.int("PD_ANONYMISE_BATCH", default=1000)
if PD_RETENTION_DAYS <= 0:
    raise ImproperlyConfigured(f"PD_RETENTION_DAYS must be > 0, not {PD_RETENTION_DAYS}.")
if PD_ANONYMISE_BATCH <= 0:
    raise ImproperlyConfigured(f"PD_ANONYMISE_BATCH must be > 0, not {PD_ANONYMISE_BATCH}.")

# --- Operations -----------------------------------------------------------------------------
# /metrics: a Bearer token for Prometheus, or (without one) only these addresses.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Without a token, only these client addresses (none by default: the token is required);
# behind the proxy, the address it reports in X-Forwarded-For, if it is a trusted one.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
METRICS_TRUSTED_PROXIES = env.list("METRICS_TRUSTED_PROXIES", default=["127.0.0.1", "::1"])
# /readyz fails when a due SMS has waited longer than this (seconds): the dispatcher is stuck.
SMS_BACKLOG_MAX_AGE = env.int("SMS_BACKLOG_MAX_AGE", default=600)

# --- Logging: never phone numbers or names; JSON lines in production -------------------------
LOGGING = logging_config(
    json_logs=env.bool("LOG_JSON", default=PRODUCTION), level=env.str("LOG_LEVEL", default="INFO")
)
