"""NovaOps settings: one module, driven by environment variables (see README "Environment")."""

from datetime import timedelta
from pathlib import Path

import environ

from novaops import embedded

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
NOVAOPS_DATA_DIR = Path(env("NOVAOPS_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
# `make run` records its settings (DEBUG off, its own SECRET_KEY, plain HTTP) here, so `manage.py` in another
# terminal matches the running app with no variables to set. Variables set in the environment win.
# NOVAOPS_DEV_ENV=off ignores the file: the tests set it, so that neither they nor the processes they start take
# their configuration from whatever a previous `make run` left in the data directory.
NOVAOPS_DEV_ENV = env.bool("NOVAOPS_DEV_ENV", default=True)
if NOVAOPS_DEV_ENV and (NOVAOPS_DATA_DIR / "dev.env").is_file():
    env.read_env(NOVAOPS_DATA_DIR / "dev.env")

DEBUG = env.bool("DEBUG", default=False)
# A demo installation (`make run`): the sign-in page lists the demo logins.
NOVAOPS_DEMO = env.bool("NOVAOPS_DEMO", default=DEBUG)
# A fixed development key is tolerable only in DEBUG; production must say its own (ImproperlyConfigured otherwise).
SECRET_KEY = env("SECRET_KEY") if not DEBUG else env("SECRET_KEY", default="novaops-insecure-development-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    # Django's admin on our own AdminSite: only Tier 1 leads get in (novaops.admin).
    "novaops.apps.LeadAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "pgtrigger",
    "pghistory",
    "novaops",
    "agents",
    "metrics",
    "dashboards",
    "escalations",
    "meetings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "novaops.middleware.ErrorMiddleware",
    "novaops.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a sign-in refused for too many failures into our lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "novaops.urls"
WSGI_APPLICATION = "novaops.wsgi.application"

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
                "agents.context_processors.person",
                "novaops.context_processors.replica_lag",
            ],
        },
    },
]

# Without DATABASE_URL / REDIS_URL the embedded servers under NOVAOPS_DATA_DIR are used (`make run` starts them);
# their addresses follow from the data directory alone, so `manage.py` needs no variables either.
DATABASES = {"default": env.db_url("DATABASE_URL", default=embedded.database_url(NOVAOPS_DATA_DIR))}
# django-environ leaves a Unix-socket directory (?host=/path) in OPTIONS; HOST is where Django and we look for it.
if DATABASES["default"].get("OPTIONS", {}).get("host"):
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# Lets a long-lived process survive a database restart without being restarted itself.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# Bounds on every connection (web, worker, beat, manage.py), so that a client that froze or vanished cannot keep its
# locks: a worker cut off inside its batch transaction held the batch row and its series locks, and a worker blocked
# behind it, until TCP gave up (2 hours). The server ends a session idle inside a transaction; waiting for a lock
# fails (an OperationalError: the ingest task retries it) rather than queueing for ever; both ends probe an idle
# peer with TCP keepalives and drop one that leaves sent data unacknowledged, within about a minute (Unix sockets
# ignore the TCP settings). Nothing waits for a lock legitimately for long: the landing's locks are held for one
# batch transaction (seconds), the escalations' and agents' row locks for one request.
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT = env.int("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", default=60)
DATABASE_LOCK_TIMEOUT = env.int("DATABASE_LOCK_TIMEOUT", default=30)
DATABASE_KEEPALIVES_IDLE = env.int("DATABASE_KEEPALIVES_IDLE", default=30)
_KEEPALIVES_INTERVAL, _KEEPALIVES_COUNT = 10, 3
_TCP_USER_TIMEOUT_MS = (DATABASE_KEEPALIVES_IDLE + _KEEPALIVES_INTERVAL * _KEEPALIVES_COUNT) * 1000
DATABASE_CONNECTION_BOUNDS = {
    # libpq's side: notices a dead server.
    "keepalives": 1,
    "keepalives_idle": DATABASE_KEEPALIVES_IDLE,
    "keepalives_interval": _KEEPALIVES_INTERVAL,
    "keepalives_count": _KEEPALIVES_COUNT,
    "tcp_user_timeout": _TCP_USER_TIMEOUT_MS,
    # The server's side, for this session: ends it when its client froze or vanished.
    "options": " ".join(
        f"-c {name}={value}"
        for name, value in {
            "idle_in_transaction_session_timeout": f"{DATABASE_IDLE_IN_TRANSACTION_TIMEOUT}s",
            "lock_timeout": f"{DATABASE_LOCK_TIMEOUT}s",
            "tcp_keepalives_idle": DATABASE_KEEPALIVES_IDLE,
            "tcp_keepalives_interval": _KEEPALIVES_INTERVAL,
            "tcp_keepalives_count": _KEEPALIVES_COUNT,
            "tcp_user_timeout": _TCP_USER_TIMEOUT_MS,
        }.items()
    ),
}
# Options given in DATABASE_URL (?options=…) come after ours on the line, so an operator's own choice wins.
_url_options = DATABASES["default"]["OPTIONS"].get("options", "")
DATABASES["default"]["OPTIONS"].update(
    DATABASE_CONNECTION_BOUNDS, options=f"{DATABASE_CONNECTION_BOUNDS['options']} {_url_options}".strip()
)
# A streaming replica the dashboards and read-only APIs read from (novaops.db_router says which reads, and why the
# rest stays on the primary). It takes the primary's connection settings; its own address, name and user win.
# TEST MIRROR: a test run never creates a database on the read-only replica; the replica alias reads the test
# database instead.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    _replica = env.db_url_config(DATABASE_REPLICA_URL)
    _replica_options = {**DATABASES["default"]["OPTIONS"], **_replica.pop("OPTIONS", {})}
    if _replica_options.get("host"):
        _replica["HOST"] = _replica_options.pop("host")
    DATABASES["replica"] = {
        **DATABASES["default"],
        **_replica,
        "OPTIONS": _replica_options,
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["novaops.db_router.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default=embedded.redis_url(NOVAOPS_DATA_DIR))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:overview"
LOGOUT_REDIRECT_URL = "login"
# The axes backend refuses a sign-in while its username or address is locked out and authenticates no one itself;
# ModelBackend checks the password (and is the one force_login and the session use, having get_user).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sliding expiry: a session ends after this much idle time, every request pushes the end further out.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=480)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True

# Failed sign-ins (the sign-in page and the admin's), counted per username and per client address: either one
# alone reaching the limit pauses sign-in for it, for the cool-off. Attempts are rows in the database, so every
# web process sees the same counts.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a pause do not restart it: the pause ends when it said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "novaops.signin.locked_out"
# No banner on every manage.py command. The attempts are in the admin (Axes), where a lead can also end a pause.
AXES_VERBOSE = False
# Who the client is. Without proxies in front, the peer address (REMOTE_ADDR) and nothing a client can write.
# Behind TRUSTED_PROXY_COUNT proxies, each appending the address it saw to X-Forwarded-For, the client is the
# entry that many places from the right (what the outermost proxy saw); entries further left were written by the
# client. python-ipware counts the proxies *listed* in the header (the one connecting to us is REMOTE_ADDR, not
# listed), hence the - 1, and non-strict so that a longer, client-prefixed header still resolves from the right.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT > 0:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
    IPWARE_STRICT = False
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = NOVAOPS_DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # The manifest needs collectstatic (about 30 s here); development and tests serve from the finders.
        "BACKEND": env(
            "STATICFILES_BACKEND",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
# Serve straight from the finders when collectstatic has not run (development and tests).
WHITENOISE_USE_FINDERS = DEBUG or env.bool("WHITENOISE_USE_FINDERS", default=False)

# Oversized bodies are answered 413 by our middleware rather than Django's HTML 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["novaops.permissions.IsPerson"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "novaops.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "novaops.api.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NovaOps API",
    "DESCRIPTION": "Coordination and analytics hub for the NovaOps and OrchOps agent fleets.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Every API path also answers with a trailing slash (novaops.routing); the schema shows one form.
    "PREPROCESSING_HOOKS": ["novaops.routing.canonical_paths_only"],
    # Several apps have a `kind` or `status` with other choices: each enum keeps a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "EscalationKindEnum": "escalations.models.EscalationKind",
        "MetricKindEnum": "metrics.models.MetricKind",
        "BatchStatusEnum": "metrics.models.BatchStatus",
        "MeetingKindEnum": "meetings.models.MeetingKind",
        "MeetingOccurrenceStatusEnum": "meetings.models.OccurrenceStatus",
        "MeetingAgendaItemKindEnum": "meetings.models.AgendaItemKind",
        "MeetingActionItemStatusEnum": "meetings.models.ActionItemStatus",
    },
}

# Celery: docs/architecture.md ("Reliability") says why each of these matters.
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker or beat that lost the broker reconnects for ever (Celery's default gives up after 100 tries, about an
# hour of backoff, and the process exits): a long Redis outage must not need a person to restart them. See also
# novaops/celery.py (a kombu crash on reconnect, guarded) and novaops/launcher.py (the worker's command line).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A frozen broker must not hang a request that enqueues.
    "socket_timeout": 3,
    "socket_connect_timeout": 3,
    # Unacked messages come back after this; every task's hard time limit stays well below it.
    "visibility_timeout": 3600,
    # Publishing never retries a lost connection (each retry costs another timeout inside a request): a batch
    # whose publish fails stays queued in PostgreSQL for the sweeper. The worker reconnects on its own terms
    # (broker_connection_max_retries).
    "max_retries": 0,
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 900
CELERY_TASK_SOFT_TIME_LIMIT = 840
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(NOVAOPS_DATA_DIR / "celerybeat-schedule")
# Every host may run a beat; only the holder of a PostgreSQL advisory lock sends (docs/scale-out.md).
CELERY_BEAT_SCHEDULER = "novaops.beat:ClusterScheduler"
# /readyz allows three missed heartbeats; the tests shorten the period to count what beat sends.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=30.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "novaops.tasks.worker_heartbeat", "schedule": WORKER_HEARTBEAT_SECONDS},
    "metrics-batch-sweep": {"task": "metrics.batch_sweep", "schedule": 15.0},
    "metrics-partitions": {"task": "metrics.partitions_maintain", "schedule": 3600.0},
    "metrics-temporal-poll": {"task": "metrics.temporal_poll", "schedule": 60.0},
    "escalations-sla-sweep": {"task": "escalations.sla_sweep", "schedule": 60.0},
    # The fleet: the heartbeat monitor degrades and recovers agents, a division with too many silent ones is escalated.
    "agents-liveness-check": {"task": "agents.liveness_check", "schedule": 30.0},
    "escalations-silent-divisions": {"task": "escalations.silent_divisions", "schedule": 60.0},
    "meetings-materialise": {"task": "meetings.upcoming_materialise", "schedule": 3600.0},
    "meetings-reminders": {"task": "meetings.reminders_send", "schedule": 60.0},
}

# Audit trails (django-pghistory): each event row is stamped when its statement runs, not when its transaction
# began, so the changes of one long transaction keep their order against comments and other writes.
PGHISTORY_CREATED_AT_FUNCTION = "clock_timestamp()"

# Escalation emails (and later meeting reminders). The console backend prints them in `make run`'s log; production
# sets EMAIL_BACKEND and Django's EMAIL_* settings through the environment.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="NovaOps <novaops@localhost>")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
# The address links in emails point at.
NOVAOPS_BASE_URL = env("NOVAOPS_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Metric ingestion (docs/architecture.md, "Contracts" and "Performance").
METRICS_MAX_BODY_BYTES = env.int("METRICS_MAX_BODY_BYTES", default=20 * 1024 * 1024)
METRICS_RETENTION_DAYS = env.int("METRICS_RETENTION_DAYS", default=90)
METRICS_PARTITIONS_AHEAD_DAYS = 7
# Three times what a division of 150 agents each posting every 5 s needs (1,800 batches a minute).
METRICS_QUOTA_BATCHES_PER_MINUTE = env.int("METRICS_QUOTA_BATCHES_PER_MINUTE", default=6000)
METRICS_QUOTA_POINTS_PER_HOUR = env.int("METRICS_QUOTA_POINTS_PER_HOUR", default=50_000_000)
# What one division may create, to protect the database from a label explosion: distinct metric names its series
# use, and series. Points past a cap are refused with a message naming the cap.
METRICS_DIVISION_MAX_METRICS = env.int("METRICS_DIVISION_MAX_METRICS", default=200)
METRICS_DIVISION_MAX_SERIES = env.int("METRICS_DIVISION_MAX_SERIES", default=20_000)
# OTLP, remote write and Pushgateway clients send no Idempotency-Key: the same body again within this window is
# answered as the first copy was, and stored once.
METRICS_REPLAY_WINDOW_SECONDS = env.int("METRICS_REPLAY_WINDOW_SECONDS", default=600)
# A worker lands queued batches together, up to this many points (one 50,000-point batch alone) and batches, in one
# transaction: small batches then share one merge and one rollup pass (metrics.services.landing).
METRICS_LANDING_MAX_POINTS = env.int("METRICS_LANDING_MAX_POINTS", default=50_000)
METRICS_LANDING_MAX_BATCHES = env.int("METRICS_LANDING_MAX_BATCHES", default=1000)

# Every response carries this policy (django-csp). Scripts only from our own static files: no inline script, no eval
# (which is also why charts use SVG traces: Plotly's WebGL ones need 'unsafe-eval'). Styles allow 'unsafe-inline'
# because plotly.js injects its own <style> rules and positions its toolbar and hover labels with style attributes.
# Images allow data: and blob: for Bootstrap's inline SVG icons and Plotly's "download as PNG".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Production hardening; `manage.py check --deploy` passes with DEBUG off and HTTPS in front.
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# X-Forwarded-Proto says whether the client used HTTPS only when a proxy of ours wrote it; without a trusted proxy
# anyone could send it.
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "novaops.views.csrf_failure"
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
