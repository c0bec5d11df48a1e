"""VIO Manager settings, all from the environment (see README, "Configuration").

Nothing set: an embedded install (SQLite and a file-based Celery broker under VIO_DATA_DIR), so
`make demo` runs where only Python exists. DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL
and Redis; DJANGO_DEBUG off (the default) gives production security settings.
"""

import ipaddress
import os
import urllib.parse
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from vio_manager.keys import new_fernet_key, new_secret_key, read_or_create
from vio_manager.private_files import FILE_MODE, create_private_file, private_directory, tighten

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use 1/0, true/false, yes/no or on/off.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number.") from None


def env_networks(name: str) -> list[str]:
    """"10.0.0.0/8,127.0.0.1/32" -> ["10.0.0.0/8", "127.0.0.1/32"], each checked to be a network."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=True)))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not a network, e.g. 10.0.0.0/8 or 127.0.0.1/32 ({exc}).") from None
    return networks


def env_limits(name: str) -> dict[str, int]:
    """"kind=seconds,kind=seconds" -> {kind: seconds}."""
    limits = {}
    for item in filter(None, (part.strip() for part in os.environ.get(name, "").split(","))):
        kind, _, seconds = item.partition("=")
        if not kind.strip() or not seconds.strip().isdigit():
            raise ImproperlyConfigured(f"{name}: {item!r} is not kind=seconds (e.g. clone=3600).")
        limits[kind.strip()] = int(seconds)
    return limits


DATA_DIR = Path(os.environ.get("VIO_DATA_DIR", BASE_DIR / "var")).resolve()
EMBEDDED = not os.environ.get("DATABASE_URL")  # no external services: keys may be generated here
# Keys, the embedded database, kolla bundles with their passwords.yml: the owner's alone (0700).
try:
    private_directory(DATA_DIR)
except PermissionError:  # production may be given a directory its installer made and owns: used as it is
    if EMBEDDED:
        raise

DEBUG = env_bool("DJANGO_DEBUG", False)
if DEBUG and not EMBEDDED:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is on while DATABASE_URL is set: debug mode is for development on the embedded database only "
        "(it shows settings and stack traces to visitors and turns off secure cookies and HSTS). Unset DJANGO_DEBUG.")
# HTTPS-only cookies, redirects and HSTS; off only for a plain-HTTP demo on loopback.
HTTPS = env_bool("VIO_HTTPS", not DEBUG)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or read_or_create(
    DATA_DIR / "secret_key", new_secret_key, may_create=EMBEDDED, env_name="DJANGO_SECRET_KEY"
)
FIELD_ENCRYPTION_KEYS = env_list("VIO_FIELD_ENCRYPTION_KEYS") or [
    read_or_create(
        DATA_DIR / "field_encryption_key", new_fernet_key, may_create=EMBEDDED, env_name="VIO_FIELD_ENCRYPTION_KEYS"
    )
]

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if (DEBUG or EMBEDDED) else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc assets, served locally (no CDN)
    "axes",  # before access: its login receivers run first
    "vio_manager",
    "vio_manager.access",
    "inventory",
    "deployments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A Content-Security-Policy on every page, no-store on what a signed-in user or the API is answered.
    "vio_manager.middleware.SecurityHeadersMiddleware",
    # Every page needs a login unless a view says otherwise (the login page); the API answers
    # 401/403 itself through DRF's permission classes.
    "vio_manager.middleware.LoginRequiredForPagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, per django-axes: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vio_manager.urls"
WSGI_APPLICATION = "vio_manager.wsgi.application"

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
                "vio_manager.access.context_processors.roles",
            ],
        },
    },
]

if EMBEDDED:
    # Made 0600 before SQLite opens it (an empty file is an empty database); SQLite gives its -wal and
    # -shm files the database file's mode. Files an older version left open are tightened.
    create_private_file(DATA_DIR / "vio_manager.sqlite3")
    for _companion in ("-wal", "-shm", "-journal"):
        tighten(DATA_DIR / f"vio_manager.sqlite3{_companion}", FILE_MODE)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "vio_manager.sqlite3",
            # The web server and the worker write at once: wait for the lock instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
else:
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)}
    if os.environ.get("VIO_TEST_DATABASE"):
        # One test database per run, so two runs on one machine do not drop each other's.
        DATABASES["default"]["TEST"] = {"NAME": os.environ["VIO_TEST_DATABASE"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): VIO_LOGIN_FAILURE_LIMIT failures for one user name from one
# address lock that pair out for VIO_LOGIN_LOCKOUT_MINUTES; further tries do not extend it.
AUTHENTICATION_BACKENDS = [
    "vio_manager.access.lockout.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("VIO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("VIO_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "vio_manager.access.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "vio_manager.access.lockout.lockout_ip"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in the audit log
AXES_VERBOSE = False
# Only behind a reverse proxy that appends the client's address to X-Forwarded-For: the audit log
# and the lockout then use the address it appended, instead of the proxy's own.
VIO_TRUST_X_FORWARDED_FOR = env_bool("VIO_TRUST_X_FORWARDED_FOR", False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": DATA_DIR / "media"}},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security. The appliance is reached over HTTPS; the demo on 127.0.0.1 sets VIO_HTTPS=0.
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("VIO_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("VIO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("VIO_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("VIO_SESSION_SECONDS", 8 * 3600)
X_FRAME_OPTIONS = "DENY"
if env_bool("VIO_BEHIND_TLS_PROXY", False):
    # Only when a reverse proxy terminates TLS and always sets this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Request bodies: a spec or template is a few KB. Django applies this to forms and request.body, the API's
# JSON parser to its stream (vio_manager/api/parsers.py); file uploads have limits of their own.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("VIO_MAX_REQUEST_BYTES", 2 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 10

REST_FRAMEWORK = {
    # API tokens first: their 401 carries WWW-Authenticate. Sessions (the browser's) keep CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "vio_manager.access.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # viewer reads, operator changes; a view raises either with read_role / write_role.
    "DEFAULT_PERMISSION_CLASSES": ["vio_manager.access.permissions.RolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "vio_manager.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["vio_manager.api.parsers.JSONParser"],  # the API speaks JSON only
    "DEFAULT_PAGINATION_CLASS": "vio_manager.api.pagination.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "vio_manager.api.schema.AutoSchema",
}

# OpenAPI 3 at /api/schema/; vio_manager/api/openapi.yaml is its committed copy (`make openapi`).
SPECTACULAR_SETTINGS = {
    "TITLE": "VIO Manager API",
    "DESCRIPTION": "Deploy and run OpenStack on vSphere. Every error has one shape: ErrorResponse.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",  # operation ids without the version: deployments_create
    # Write-only fields (passwords) appear in request bodies only.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DeploymentStatusEnum": "deployments.choices.DeploymentStatus",
        "RunStatusEnum": "deployments.choices.RunStatus",
        "RunKindEnum": "deployments.choices.RunKind",
        "StepStatusEnum": "deployments.choices.StepStatus",
        "EventLevelEnum": "deployments.choices.EventLevel",
        "ConnectionStatusEnum": "inventory.choices.ConnectionStatus",
        "SyncStateEnum": "inventory.choices.SyncState",
        "NetworkKindEnum": "inventory.choices.NetworkKind",
        # deployments.services.health's words (a list here: settings import no app code)
        "HealthStatusEnum": ["healthy", "degraded", "failed", "unknown", "not_deployed"],
        "FindingSeverityEnum": ["error", "warning"],
        "CheckSeverityEnum": ["blocking", "advisory"],
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    # validatorUrl: Swagger UI would otherwise send the schema to validator.swagger.io for a badge
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery. The database is the truth of every run; messages carry ids only and results are ignored.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "vio")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Every task is short (seconds); long vCenter waits are re-scheduled polls. The hard limit stops a
# stuck task long before Redis would hand its unacknowledged message to another worker.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_VISIBILITY_TIMEOUT = 3600  # seconds; 12x the hard time limit
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# The deployment engine. Simulated hosts (the bundled simulators): guest tools are faked through
# the simulator and the kolla-ansible bundle is rendered and checked, not executed.
VIO_SIMULATED_HOSTS = env_bool("VIO_SIMULATED_HOSTS", EMBEDDED)
VIO_ENGINE_PARALLEL_PER_VCENTER = env_int("VIO_ENGINE_PARALLEL_PER_VCENTER", 4)
VIO_ENGINE_PARALLEL_PER_HOST = env_int("VIO_ENGINE_PARALLEL_PER_HOST", 2)  # clones placed on one ESXi host
# Seconds a step of each kind may take in all, for a real vCenter: a full clone or a big OVA upload
# takes tens of minutes, a guest may boot for fifteen. VIO_ENGINE_TIME_LIMITS="clone=5400,wait_guest=3600"
# changes some; VIO_ENGINE_TIME_LIMIT_DEFAULT covers a kind not listed.
VIO_ENGINE_TIME_LIMIT_DEFAULT = env_int("VIO_ENGINE_TIME_LIMIT_DEFAULT", 1800)
VIO_ENGINE_TIME_LIMITS = {
    "preflight": 600, "nsx_checks": 600, "import_ova": 4 * 3600, "folders": 600, "clone": 3600, "customize": 1800,
    "anti_affinity": 900, "power_on": 1800, "wait_guest": 1800, "render_bundle": 600, "configure": 4 * 3600,
    "validate": 1800, "remove_vms": 3600, "remove_template": 1800,
    **env_limits("VIO_ENGINE_TIME_LIMITS"),
}
# One Celery task waits on vCenter this long, then hands the step on to a new task (tasks stay short
# whatever vCenter's task takes); every long poll inside is cut in slices below the socket timeout.
VIO_ENGINE_FOLLOW_SECONDS = env_int("VIO_ENGINE_FOLLOW_SECONDS", 20)
# A SOAP call to vCenter silent this long is given up (a vCenter far away may need more); long polls
# are cut in slices of a third of it.
VIO_VCENTER_SOCKET_SECONDS = env_int("VIO_VCENTER_SOCKET_SECONDS", 30)
if VIO_VCENTER_SOCKET_SECONDS < 3:
    raise ImproperlyConfigured("VIO_VCENTER_SOCKET_SECONDS must be at least 3.")
# An unreachable vCenter: a step waits and tries again this long before it fails (vCenter restarts
# and patches take minutes).
VIO_ENGINE_UNREACHABLE_SECONDS = env_int("VIO_ENGINE_UNREACHABLE_SECONDS", 900)
# A running step's worker touches it every HEARTBEAT seconds; silent for LOST_AFTER, the reaper
# (every REAP_SECONDS) takes the worker for dead and runs the step again, at most MAX_ATTEMPTS times.
VIO_ENGINE_HEARTBEAT_SECONDS = env_int("VIO_ENGINE_HEARTBEAT_SECONDS", 10)
VIO_ENGINE_LOST_AFTER_SECONDS = env_int("VIO_ENGINE_LOST_AFTER_SECONDS", 45)
VIO_ENGINE_REAP_SECONDS = env_int("VIO_ENGINE_REAP_SECONDS", 30)
VIO_ENGINE_MAX_ATTEMPTS = env_int("VIO_ENGINE_MAX_ATTEMPTS", 3)

# The appliance OVA. By URL: fetched only from public addresses, and from the networks listed here
# (e.g. "10.0.0.0/8,127.0.0.1/32" for a server on the LAN or loopback), with connect and read
# timeouts; by URL or by upload, at most VIO_OVA_MAX_BYTES.
VIO_OVA_ALLOWED_NETWORKS = env_networks("VIO_OVA_ALLOWED_NETWORKS")
VIO_OVA_MAX_BYTES = env_int("VIO_OVA_MAX_BYTES", 20 * 2**30)
VIO_OVA_CONNECT_SECONDS = env_int("VIO_OVA_CONNECT_SECONDS", 10)
VIO_OVA_READ_SECONDS = env_int("VIO_OVA_READ_SECONDS", 60)
if VIO_OVA_MAX_BYTES <= 0 or VIO_OVA_CONNECT_SECONDS <= 0 or VIO_OVA_READ_SECONDS <= 0:
    raise ImproperlyConfigured("VIO_OVA_MAX_BYTES, VIO_OVA_CONNECT_SECONDS and VIO_OVA_READ_SECONDS must be above 0.")
# Large uploads go to a temporary file that never grows past VIO_OVA_MAX_BYTES (the rest is counted,
# not stored), so an upload that is too big is refused without filling the disk.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "deployments.services.appliance.LimitedTemporaryFileUploadHandler",
]

# Use a pinned vCenter or NSX certificate whose key or signature TLS refuses by default (a 1024-bit
# key, SHA-1): the administrator's explicit choice; the certificate stays the only one trusted.
VIO_TLS_ALLOW_WEAK_PINNED = env_bool("VIO_TLS_ALLOW_WEAK_PINNED", False)

# Deployment health: how often it is judged against the live picture (a change is logged), and the
# free space under which a datastore a VM lives on is reported.
VIO_HEALTH_SECONDS = env_int("VIO_HEALTH_SECONDS", 10)
VIO_HEALTH_DATASTORE_FREE_PERCENT = env_int("VIO_HEALTH_DATASTORE_FREE_PERCENT", 10)
# On real hosts health also asks each cloud's OpenStack (services.cloud_view) this often, each call
# given this long; an answer older than three periods is not counted.
VIO_HEALTH_OPENSTACK_SECONDS = env_int("VIO_HEALTH_OPENSTACK_SECONDS", 60)
VIO_HEALTH_OPENSTACK_TIMEOUT = env_int("VIO_HEALTH_OPENSTACK_TIMEOUT", 10)

# How often beat re-syncs every registered vCenter and NSX Manager; twice this is "stale".
VIO_INVENTORY_SYNC_MINUTES = env_int("VIO_INVENTORY_SYNC_MINUTES", 15)
# A sync still "running" after this long is taken to have died with its worker.
VIO_SYNC_STALE_SECONDS = env_int("VIO_SYNC_STALE_SECONDS", 600)

# The live inventory (manage.py watch_inventory): one watcher per vCenter, under a lease in the
# database that its holder renews every VIO_WATCH_RENEW_SECONDS and that another process takes over
# once VIO_WATCH_LEASE_SECONDS passed without a renewal. Each long poll on vCenter lasts at most
# VIO_WATCH_POLL_SECONDS (below the socket timeout); a picture not confirmed by vCenter within
# VIO_INVENTORY_LIVE_SECONDS is "not live". A live vCenter is fully re-synced by beat only every
# VIO_INVENTORY_FULL_SYNC_MINUTES (the safety net); the others every VIO_INVENTORY_SYNC_MINUTES.
VIO_WATCH_LEASE_SECONDS = env_int("VIO_WATCH_LEASE_SECONDS", 15)
VIO_WATCH_RENEW_SECONDS = env_int("VIO_WATCH_RENEW_SECONDS", 3)
VIO_WATCH_POLL_SECONDS = env_int("VIO_WATCH_POLL_SECONDS", 5)
# How long a watcher's socket waits for an answer: vCenter may take long to make the first one (the
# whole inventory); liveness does not wait for it (VIO_INVENTORY_LIVE_SECONDS).
VIO_WATCH_SOCKET_SECONDS = env_int("VIO_WATCH_SOCKET_SECONDS", 120)
VIO_INVENTORY_LIVE_SECONDS = env_int("VIO_INVENTORY_LIVE_SECONDS", 30)
VIO_INVENTORY_FULL_SYNC_MINUTES = env_int("VIO_INVENTORY_FULL_SYNC_MINUTES", 60)
if not 0 < VIO_WATCH_RENEW_SECONDS < VIO_WATCH_LEASE_SECONDS:
    raise ImproperlyConfigured("VIO_WATCH_RENEW_SECONDS must be above 0 and below VIO_WATCH_LEASE_SECONDS.")

# The appliance registers itself in every vCenter it manages (ExtensionManager) with the URL people
# reach it at, and, when that URL is https, the SHA-1 thumbprint (vCenter's form) of the certificate
# in VIO_TLS_CERT_FILE (PEM; docker-compose mounts it at /etc/vio-manager/tls/tls.crt).
VIO_PUBLIC_URL = os.environ.get("VIO_PUBLIC_URL", "http://127.0.0.1:8000/")
VIO_TLS_CERT_FILE = os.environ.get("VIO_TLS_CERT_FILE", "")
VIO_EXTENSION_KEY = os.environ.get("VIO_EXTENSION_KEY", "com.vio-manager.appliance")

CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "vio_manager.heartbeat", "schedule": 60.0, "options": {"expires": 55}},
    "forget-wizard-secrets": {"task": "deployments.forget_wizard_secrets", "schedule": 3600.0},
    "check-health": {"task": "deployments.check_health", "schedule": float(VIO_HEALTH_SECONDS),
                     "options": {"expires": float(VIO_HEALTH_SECONDS)}},
    "check-openstack": {"task": "deployments.check_openstack", "schedule": float(VIO_HEALTH_OPENSTACK_SECONDS),
                        "options": {"expires": float(VIO_HEALTH_OPENSTACK_SECONDS)}},
    "reap-runs": {"task": "deployments.reap_runs", "schedule": float(VIO_ENGINE_REAP_SECONDS),
                  "options": {"expires": float(VIO_ENGINE_REAP_SECONDS)}},
    "inventory-sync": {
        "task": "inventory.sync_all",
        "schedule": 60.0 * VIO_INVENTORY_SYNC_MINUTES,
        "options": {"expires": 60.0 * VIO_INVENTORY_SYNC_MINUTES},
    },
}
# Caches. With Redis (VIO_CACHE_URL, else the broker's Redis server with the next database number)
# every process shares them: "default", and "tokens" for API token lookups (access/tokens.py, which
# takes an entry out the moment its token or user changes). Embedded, without Redis: the default
# cache is each process's own memory, and token lookups are not cached at all (a revoke in one web
# worker could not reach another's memory).
def _cache_url() -> str:
    if os.environ.get("VIO_CACHE_URL"):
        return os.environ["VIO_CACHE_URL"]
    if not CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return ""
    broker = urllib.parse.urlsplit(CELERY_BROKER_URL)
    try:
        number = int(broker.path.strip("/") or 0)
    except ValueError:
        raise ImproperlyConfigured(f"CELERY_BROKER_URL: {broker.path!r} is not a Redis database number; "
                                   "set VIO_CACHE_URL.") from None
    return urllib.parse.urlunsplit(broker._replace(path=f"/{(number + 1) % 16}"))


if _cache_url():
    _REDIS_CACHE = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url(),
                    "KEY_PREFIX": "vio", "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}
    CACHES = {"default": _REDIS_CACHE, "tokens": dict(_REDIS_CACHE, KEY_PREFIX="vio-tokens")}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
              "tokens": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # kombu's default is ./control, wherever the process starts
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("VIO_LOG_LEVEL", "INFO")},
    # axes: failures and lockouts are warnings; its per-login info lines are noise (the audit log has them)
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
