"""Settings for the teaching archive, read from the environment.

Defaults suit a developer's machine (SQLite, local media, DEBUG on). Set ``DEBUG=0`` for
production: the settings then refuse to start without a real ``SECRET_KEY``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_flag("DEBUG", True)

# Only a development default, never a production one: without DEBUG a missing key is fatal.
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY):
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off.")
# Earlier keys, comma-separated, while a new SECRET_KEY is rolled out: sessions, signatures and the stored
# DICOMweb source passwords (receiver/secrets.py) made under them stay readable.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "taggit",
    "reversion",
    "axes",
    "cases",
    "imaging",
    "quiz",
    "authoring",
    "bundles",
    "weekly",
    "programme",
    "receiver",
    # After imaging: of two apps with a command of one name, Django runs the one listed first, and
    # imaging's `db_worker` wraps django-tasks-db's with the sweep of dead uploads.
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ArchiveCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused log-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "cases.preferences.preferences",
                "programme.context_processors.programme",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A persistent connection that the server dropped (restart, failover, pg_terminate_backend)
        # is noticed at the next request and replaced, instead of failing that request.
        conn_health_checks=True,
    )
}

# A background worker (``manage.py db_worker``) runs beside the web processes, so the cache is shared
# between processes: Redis when REDIS_URL is set (Django's own backend), else Django's database cache
# (its table is made by ``migrate``: imaging.apps). Local memory (CACHE_BACKEND=locmem) only suits a
# single process with no worker: the tests, which run every task at once in the test's own process.
# A release may set its own prefix so that a shared cache never answers it with an earlier release's counts.
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "")
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
    # Sessions read from the shared cache, written through to the database (one query less per page).
    # Not with local memory: another worker could read a stale copy of a session.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
elif os.environ.get("CACHE_BACKEND", "database") == "locmem":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "archive",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "archive_cache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

# Slow work runs as tasks (docs/background-work.md): django-tasks, the backport of Django 6's
# django.tasks, with its ORM backend; `manage.py db_worker` runs them, any number of workers on any
# number of hosts sharing the database.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# The DICOM receiver (docs/receiving.md): what one association may send before it is aborted, how long
# it may stay silent, and how many days a received study waits in its owner's inbox before it is purged.
RECEIVER_MAX_INSTANCES = int(os.environ.get("RECEIVER_MAX_INSTANCES", "10000"))
RECEIVER_MAX_BYTES = int(os.environ.get("RECEIVER_MAX_BYTES", str(8 << 30)))
RECEIVER_MAX_SECONDS = float(os.environ.get("RECEIVER_MAX_SECONDS", "3600"))
RECEIVER_IDLE_SECONDS = float(os.environ.get("RECEIVER_IDLE_SECONDS", "60"))
# A DICOMweb source that does not answer is asked again 5 times, waiting 2, 4, 8 and 16 times this many
# seconds in between (dicomweb-client's own back-off; the tests shorten it).
RECEIVER_PULL_RETRY_SECONDS = float(os.environ.get("RECEIVER_PULL_RETRY_SECONDS", "1"))
RECEIVED_STUDY_DAYS = int(os.environ.get("RECEIVED_STUDY_DAYS", "14"))
# How often a worker running an upload beats its heartbeat, and how long without one makes the upload
# dead to the sweep (run by every worker at start and every UPLOAD_SWEEP_SECONDS).
UPLOAD_HEARTBEAT_SECONDS = float(os.environ.get("UPLOAD_HEARTBEAT_SECONDS", "10"))
UPLOAD_STALE_SECONDS = float(os.environ.get("UPLOAD_STALE_SECONDS", "60"))
UPLOAD_SWEEP_SECONDS = float(os.environ.get("UPLOAD_SWEEP_SECONDS", "60"))

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while an upload writes, and NORMAL sync is safe under WAL (a power cut
    # loses at most the last commits, never consistency); per-image commits cost 7x less.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", transaction_mode="IMMEDIATE"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a log-in while the account or the address is locked out, before
# the password is even checked (so a right password does not get through a lock-out either).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))

MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# The most memory, in bytes, that reading or rendering one image may take (default 1 GiB). Checked
# on what each file's headers declare before anything is inflated or decoded (imaging.decode_budget):
# a file over it is refused at upload, a stored frame over it is answered with an error image.
DECODE_MEMORY_LIMIT = int(os.environ.get("DECODE_MEMORY_LIMIT", str(1 << 30)))
if DECODE_MEMORY_LIMIT <= 0:
    raise ImproperlyConfigured("DECODE_MEMORY_LIMIT must be a positive number of bytes.")

# Originals of an upload wait for the worker in a storage of their own, never in media storage: a
# private folder outside MEDIA_ROOT, never served (QUARANTINE_ROOT), or, with S3_BUCKET set (below), the
# bucket's own quarantine/ folder. QUARANTINE_STORAGE names the alias used.
QUARANTINE_ROOT = Path(os.environ.get("QUARANTINE_ROOT", BASE_DIR / "quarantine"))
QUARANTINE_STORAGE = os.environ.get("QUARANTINE_STORAGE", "quarantine")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Without DEBUG: compressed, content-hashed static files served by whitenoise (needs `collectstatic`).
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
    "quarantine": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": QUARANTINE_ROOT, "file_permissions_mode": 0o600},
    },
}


def object_storage(bucket: str, prefix: str) -> dict:
    """A ``STORAGES`` entry for the folder `prefix` of the private bucket `bucket` (django-storages' S3
    backend), reached with the ``S3_*`` variables (docs/object-storage.md)."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": prefix,
            # Unset: AWS itself, and boto3's own credential chain (an instance role, AWS_* variables).
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            "region_name": os.environ.get("S3_REGION") or None,
            # No ACL header: objects keep the bucket's own default, private to its owner. (A "private"
            # canned ACL is refused by buckets with ACLs disabled, AWS's default for new buckets.)
            "default_acl": None,
            # Never handed out: the image views serve every byte after their permission check. A URL
            # made by mistake would at least be signed and expire, never a public one.
            "querystring_auth": True,
            "querystring_expire": 60,
            # An object read is downloaded whole first: beyond this size into a temporary file, not memory.
            "max_memory_size": 16 << 20,
            # Every name the archive saves is unique already (random, or an id's render checked first):
            # saving need not ask the bucket whether the name is taken.
            "file_overwrite": True,
        },
    }


# With S3_BUCKET set, media (stored images, renders, values) and the quarantine live in that private
# bucket, under media/ and quarantine/, and nothing is written under MEDIA_ROOT or QUARANTINE_ROOT.
S3_BUCKET = os.environ.get("S3_BUCKET", "")
if S3_BUCKET:
    if bool(os.environ.get("S3_ACCESS_KEY_ID")) != bool(os.environ.get("S3_SECRET_ACCESS_KEY")):
        raise ImproperlyConfigured("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together, or neither.")
    STORAGES["default"] = object_storage(S3_BUCKET, "media")
    STORAGES["quarantine"] = object_storage(S3_BUCKET, "quarantine")

# The pages carry no inline script and no inline style, so the policy allows neither. Django's own
# admin still sets a few style attributes; config.middleware relaxes style attributes for it alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", True)
    SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", True)
    # Behind a proxy that terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Log-in throttling (django-axes; docs/security.md): after AXES_FAILURE_LIMIT failed log-ins for one
# username, or from one address, further log-ins for that username and from that address are refused
# for LOGIN_LOCKOUT_MINUTES after the last attempt, and the person sees the lock-out page.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one alone locks
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_CALLABLE = "config.login_throttling.attempted_username"
# Every failed log-in is kept (admin: Axes, Access failures), not only the running count per client.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# A successful log-in does not clear the failures (axes' AXES_RESET_ON_SUCCESS stays off): it would let
# the owner of one account wipe their address's count between guesses at other accounts.


def trusted_proxy_settings(count: int) -> tuple[tuple[str, ...], int | None]:
    """django-axes' client-address settings (``AXES_IPWARE_META_PRECEDENCE_ORDER``,
    ``AXES_IPWARE_PROXY_COUNT``) for ``count`` trusted reverse proxies in front of the app.

    No proxy: the socket's address (REMOTE_ADDR), and X-Forwarded-For is ignored, since anyone can send
    one. Behind proxies that each append the address they received the request from to
    X-Forwarded-For (nginx's ``$proxy_add_x_forwarded_for``), the client is the ``count``-th address from
    the right: what the outermost trusted proxy saw; anything further left was written by the client.
    django-ipware counts only the proxies listed in the header, which excludes the one whose address is
    REMOTE_ADDR: hence ``count - 1``.
    """
    if count < 0:
        raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or more, not {count}.")
    if count == 0:
        return ("REMOTE_ADDR",), None
    return ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"), count - 1


# How many reverse proxies (nginx, a load balancer) stand between the clients and the app; 0 when the
# app is reached directly. Decides which address log-in throttling counts (trusted_proxy_settings).
try:
    TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
except ValueError as error:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be a whole number: {error}") from error
AXES_IPWARE_META_PRECEDENCE_ORDER, AXES_IPWARE_PROXY_COUNT = trusted_proxy_settings(TRUSTED_PROXY_COUNT)
# A client may send an X-Forwarded-For of its own, which the proxy extends: a longer chain than the
# proxy count is normal, and its right end is still the proxies' (strict mode would fall back to the
# proxy's own address, and lock everyone out together).
IPWARE_STRICT = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

TAGGIT_CASE_INSENSITIVE = True

CASES_PER_PAGE = 20
# A search matching more cases than this ranks and counts only the this-many most recent (docs/search.md,
# "Broad searches"): ranking and counting every match of a broad word grows with the archive.
_ranked = os.environ.get("SEARCH_RANKED_MATCHES", "500")
if not (_ranked.isdigit() and 1 <= int(_ranked) <= 10_000):  # the ids travel as query parameters
    raise ImproperlyConfigured(
        f"SEARCH_RANKED_MATCHES must be a whole number from 1 to 10000, not {_ranked!r}"
    )
SEARCH_RANKED_MATCHES = int(_ranked)

# “Point to the lesion”: a click this close to a target still hits it, as a fraction of the image's width
# (in the image's own pixels), since a resident's click on a phone is not pixel-exact.
LESION_TARGET_TOLERANCE = float(os.environ.get("LESION_TARGET_TOLERANCE", "0.02"))
