"""One settings module, configured entirely from the environment.

Development works with no variables set; production differs only by their values.
Every variable is listed with a one-line comment in `.env.example`.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name, default):
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


def email_settings(url, mail_dir):
    """Translate EMAIL_URL into Django's EMAIL_* settings.

    smtp://user:pass@host:port (smtps:// for STARTTLS, smtp+ssl:// for implicit TLS),
    file:// (one .log file per message under DATA_DIR/mail, shown at /dev/mail/),
    console:// and locmem://.
    """
    parts = urlsplit(url)
    backends = {
        "smtp": "smtp",
        "smtps": "smtp",
        "smtp+ssl": "smtp",
        "file": "filebased",
        "console": "console",
        "locmem": "locmem",
    }
    if parts.scheme not in backends:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme {parts.scheme!r} is not one of {', '.join(backends)}."
        )
    config = {"EMAIL_BACKEND": f"django.core.mail.backends.{backends[parts.scheme]}.EmailBackend"}
    if parts.scheme.startswith("smtp"):
        config.update(
            EMAIL_HOST=parts.hostname or "localhost",
            EMAIL_PORT=parts.port or 25,
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_TLS=parts.scheme == "smtps",
            EMAIL_USE_SSL=parts.scheme == "smtp+ssl",
            # A hung SMTP server must fail the job (and let RQ retry it), not hang a worker.
            EMAIL_TIMEOUT=10,
        )
    if parts.scheme == "file":
        config["EMAIL_FILE_PATH"] = parts.path or str(mail_dir)
    return config


def redis_url_with_timeouts(url):
    """Add short socket timeouts unless the URL sets its own.

    The web process must answer quickly when Redis is down: with these, a request that
    enqueues fails over to "pending" in about a second instead of hanging. Workers raise
    socket_timeout above their blocking dequeue timeout themselves.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_connect_timeout", "1")
    query.setdefault("socket_timeout", "2")
    return urlunsplit(parts._replace(query=urlencode(query)))


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off, set SECRET_KEY to a long random string, "
            "for example: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "development-only-not-secret"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "config.views.csrf_failure"  # a friendly 403 page


# Production security: with DEBUG off, HTTPS redirect, HSTS and secure cookies are on
# unless their own variable turns them off, so `manage.py check --deploy --fail-level
# WARNING` is clean with only DEBUG, SECRET_KEY and ALLOWED_HOSTS set
# (tests/test_production_settings.py runs it).
def proxy_ssl_header(value):
    """Read SECURE_PROXY_SSL_HEADER: "X-Forwarded-Proto=https" -> Django's tuple.

    Set it only behind a proxy that terminates TLS and always overwrites that header:
    a client that reaches the app directly could send the header itself.
    """
    if not value.strip():
        return None
    header, equals, expected = (part.strip() for part in value.partition("="))
    name = header.replace("-", "")
    if not (equals and expected and name.isascii() and name.isalnum()):
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER {value!r} is not Header-Name=value. "
            "Expected e.g. SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto=https"
        )
    return ("HTTP_" + header.upper().replace("-", "_"), expected)


SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
# A load balancer's health probe and Prometheus reach these over plain HTTP from inside
# the network, and count a redirect as a failure. Neither page sets a cookie or takes a
# form; /metrics's bearer token crosses that network in clear, so scrape it from there.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Only the header: a domain joins browsers' preload lists when its owner submits it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

PORT = env_int("PORT", 8000)

DATA_DIR = Path(os.environ.get("DATA_DIR") or BASE_DIR / "var").resolve()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
    "jobs",
    "jobs.ops",
    "jobs.demo",
    "uploads",
    "accounts",
]

MIDDLEWARE = [
    "jobs.middleware.RequestTiming",  # notes the request's time on the jobs it enqueued
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "uploads.middleware.UploadLimitMiddleware",  # 413 before CSRF reads the body
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.MethodNotAllowedPage",  # the site's 405 page for Django's bare one
    "config.middleware.DjangoRQNotFound",  # 404, not 500, for django-rq's unknown ids
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# SQLite in WAL mode lets the web process read while a worker writes. IMMEDIATE
# transactions take the write lock up front, so two writers queue on busy_timeout
# instead of failing with "database is locked" halfway through.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Kept open, as for PostgreSQL: a worker runs many jobs, and opening SQLite with its
    # PRAGMAs for each one cost more than the job (docs/performance.md).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so that real worker processes in the browser and fault tests
    # can open the same test database as the test that started them; one per test run,
    # so that two runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # One test database per test run here too, so that two runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "jobs:list"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    # Uploaded originals and freshly resized variants, staged on local disk (a volume
    # shared by web and workers in compose) until the upload job publishes them.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"allow_overwrite": True},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Published photos: S3 (or MinIO, or any S3-compatible endpoint) when a bucket is named,
# otherwise a folder under DATA_DIR behind the same storage API. Keys are deterministic,
# so a retried upload overwrites its object instead of leaving a second one.
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    from botocore.config import Config

    STORAGES["photos"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "file_overwrite": True,
            "querystring_auth": True,  # private objects, presigned URLs
            "querystring_expire": 3600,
            # Fail fast on a dead endpoint and let RQ's backoff do the waiting.
            "client_config": Config(
                connect_timeout=3,
                read_timeout=15,
                retries={"max_attempts": 2},
                signature_version="s3v4",
            ),
        },
    }
else:
    STORAGES["photos"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "photos", "allow_overwrite": True},
    }

# Upload limits: checked before anything is stored or queued. A request over
# UPLOAD_MAX_REQUEST_BYTES gets its 413 from uploads.middleware, from Content-Length alone;
# the form checks each file's size and header (format, dimensions, pixels), and the resize
# job does the full decode.
UPLOAD_MAX_FILE_BYTES = env_int("UPLOAD_MAX_FILE_BYTES", 20 * 1024 * 1024)
UPLOAD_MAX_FILES = env_int("UPLOAD_MAX_FILES", 20)
UPLOAD_MAX_REQUEST_BYTES = env_int("UPLOAD_MAX_REQUEST_BYTES", 100 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 50_000_000)
# Django refuses more files than this with a 400 before our form sees them; leave room
# so that our form can say, in words, how many is too many.
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES + 50
# Files up to FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) stay in memory, larger ones go to a
# temporary file; the first handler skips every file of an oversized request.
FILE_UPLOAD_HANDLERS = [
    "uploads.handlers.RequestSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Email. The development default writes each message to a file under DATA_DIR/mail,
# which /dev/mail/ lists, so nothing needs an SMTP server to see what was sent.
MAIL_DIR = DATA_DIR / "mail"
EMAIL_URL = os.environ.get("EMAIL_URL") or "file://"
globals().update(email_settings(EMAIL_URL, MAIL_DIR))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Photo site <noreply@localhost>")
ADMINS = [("Staff", email) for email in env_list("ADMINS", [])]
SERVER_EMAIL = DEFAULT_FROM_EMAIL


# Redis Sentinel: REDIS_SENTINELS (and REDIS_SENTINEL_MASTER) replace REDIS_URL's host.
def parse_sentinels(value):
    """Read REDIS_SENTINELS: "host:port,host:port" -> [(host, port), ...].

    An IPv6 address goes in brackets: [::1]:26379.
    """
    example = "REDIS_SENTINELS=sentinel-1:26379,sentinel-2:26379,sentinel-3:26379"
    entries = [item.strip() for item in value.split(",") if item.strip()]
    if not entries:
        raise ImproperlyConfigured(f"REDIS_SENTINELS names no Sentinel. Expected {example}")
    sentinels = []
    for entry in entries:
        host, colon, port = entry.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not (colon and host and port.isdigit() and 0 < int(port) < 65536):
            raise ImproperlyConfigured(
                f"REDIS_SENTINELS entry {entry!r} is not host:port. Expected {example}"
            )
        sentinels.append((host, int(port)))
    return sentinels


def redis_sentinel_connection(sentinels, master_name, *, redis_url):
    """django-rq's Sentinel connection settings for one queue.

    The Sentinels name the current primary, and redis-py asks them again whenever the
    connection to it breaks, so every process follows a failover by itself. The db,
    credentials and socket timeouts come from `redis_url` (see redis_url_with_timeouts),
    so both ways of reaching Redis behave the same when it is down.
    """
    if not master_name:
        raise ImproperlyConfigured(
            "REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not. Set it to the name "
            "the Sentinels monitor the primary under (`sentinel monitor <name> ...`), "
            "e.g. REDIS_SENTINEL_MASTER=mymaster"
        )
    parts = urlsplit(redis_url)
    query = dict(parse_qsl(parts.query))
    timeouts = {
        "socket_connect_timeout": float(query["socket_connect_timeout"]),
        "socket_timeout": float(query["socket_timeout"]),
    }
    connection_kwargs = {"socket_connect_timeout": timeouts["socket_connect_timeout"]}
    if parts.username:
        # Here rather than in USERNAME: django-rq's dashboards copy CONNECTION_KWARGS
        # but drop USERNAME when they open a connection of their own.
        connection_kwargs["username"] = unquote(parts.username)
    return {
        "SENTINELS": parse_sentinels(sentinels),
        "MASTER_NAME": master_name,
        "DB": int(query.get("db") or parts.path.strip("/") or 0),
        "PASSWORD": unquote(parts.password) if parts.password else None,
        "SOCKET_TIMEOUT": timeouts["socket_timeout"],
        "CONNECTION_KWARGS": connection_kwargs,
        # Without these, a Sentinel that stops answering would hang the caller for ever:
        # redis-py sets no timeout on its connections to the Sentinels themselves.
        "SENTINEL_KWARGS": timeouts,
    }


# Redis and the RQ queues, in the order workers take them. With REDIS_SENTINELS set,
# every process (web, workers, scheduler, sweeper) asks those Sentinels where the
# primary is, and follows a failover; REDIS_URL then only contributes db and password.
REDIS_URL = redis_url_with_timeouts(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
REDIS_SENTINELS = os.environ.get("REDIS_SENTINELS", "")
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "")
if REDIS_SENTINELS:
    REDIS_CONNECTION = redis_sentinel_connection(
        REDIS_SENTINELS, REDIS_SENTINEL_MASTER, redis_url=REDIS_URL
    )
else:
    REDIS_CONNECTION = {"URL": REDIS_URL}
RQ_QUEUE_NAMES = ["high", "default", "low"]
RQ_QUEUES = {name: {**REDIS_CONNECTION, "DEFAULT_TIMEOUT": 300} for name in RQ_QUEUE_NAMES}
# Our enqueue helper (jobs.services) registers its own on_commit hook so that it can
# mark the job row and survive Redis being down; the queue itself must push at once.
RQ = {"COMMIT_MODE": "auto"}
RQ_SHOW_ADMIN_LINK = True

# Staff operations. /healthz and /ops/ flag a queue whose waiting jobs number more than
# QUEUE_ALERT_WAITING, or whose oldest waiting job has waited longer than the age below.
QUEUE_ALERT_WAITING = env_int("QUEUE_ALERT_WAITING", 1000)
QUEUE_ALERT_AGE_SECONDS = env_int("QUEUE_ALERT_AGE_SECONDS", 600)
# Bearer token a Prometheus scraper sends to /metrics; unset, /metrics answers 404.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Reliability. The sweeper (jobs/sweeper.py) runs a pass every JOBS_SWEEP_INTERVAL
# seconds, reading at most JOBS_SWEEP_BATCH rows per step. A worker that has not renewed
# its heartbeat for JOBS_WORKER_TTL seconds is dead, and its job is recovered.
JOBS_SWEEP_INTERVAL = env_int("JOBS_SWEEP_INTERVAL", 60)
JOBS_SWEEP_BATCH = env_int("JOBS_SWEEP_BATCH", 1000)
JOBS_WORKER_TTL = env_int("JOBS_WORKER_TTL", 15)

# Background-job knobs.
JOB_RETRY_BASE_SECONDS = env_int("JOB_RETRY_BASE_SECONDS", 2)
# Outgoing email across all workers, like BullMQ's limiter {max, duration}. Jobs over
# the limit wait for the next free slot; they never fail for it.
EMAIL_RATE_LIMIT = env_int("EMAIL_RATE_LIMIT", 100)
EMAIL_RATE_WINDOW_SECONDS = env_int("EMAIL_RATE_WINDOW_SECONDS", 60)
# Login and signup attempts, counted in Redis per client IP and per account (the
# username tried, or the email signed up with) over a sliding window; over a limit,
# the form answers 429 and says how long to wait.
LOGIN_RATE_LIMIT = env_int("LOGIN_RATE_LIMIT", 10)  # per account
LOGIN_RATE_IP_LIMIT = env_int("LOGIN_RATE_IP_LIMIT", 50)
LOGIN_RATE_WINDOW_SECONDS = env_int("LOGIN_RATE_WINDOW_SECONDS", 300)
SIGNUP_RATE_LIMIT = env_int("SIGNUP_RATE_LIMIT", 5)  # per email address
SIGNUP_RATE_IP_LIMIT = env_int("SIGNUP_RATE_IP_LIMIT", 20)
SIGNUP_RATE_WINDOW_SECONDS = env_int("SIGNUP_RATE_WINDOW_SECONDS", 3600)
# "Upload your first photo" reminder, sent this long after signup unless they upload.
FIRST_PHOTO_REMINDER_DELAY_SECONDS = env_int("FIRST_PHOTO_REMINDER_DELAY_SECONDS", 24 * 3600)
# "Delete my account" waits this long, and can be canceled until then (accounts.services).
ACCOUNT_DELETION_GRACE_SECONDS = env_int("ACCOUNT_DELETION_GRACE_SECONDS", 30 * 60)
# Job records of finished, failed or canceled jobs are pruned after this many days.
JOB_RECORD_RETENTION_DAYS = env_int("JOB_RECORD_RETENTION_DAYS", 30)
# The digest fans out this many per-user email jobs per Redis round trip.
DIGEST_BATCH_SIZE = env_int("DIGEST_BATCH_SIZE", 500)

# The daily digest's schedule (accounts/tasks.py declares it with cron=DIGEST_CRON).
# rq-scheduler reads cron strings in UTC, and so do we (see jobs/schedules.py).
DIGEST_CRON = os.environ.get("DIGEST_CRON") or "0 9 * * *"  # 09:00 UTC every day

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # RQ's commands attach their own handlers; without this their lines print twice.
    "loggers": {
        "rq": {"propagate": False},
        "rq_scheduler": {"propagate": False},
    },
}

# Demo pages (jobs/demo): how long the demo's slow step takes, and whether the staff-only
# demo controls exist (they break things on purpose, so off unless DEBUG by default).
DEMO_STEP_SECONDS = float(os.environ.get("DEMO_STEP_SECONDS", "1.5"))
DEMO_CONTROLS = env_bool("DEMO_CONTROLS", DEBUG)
