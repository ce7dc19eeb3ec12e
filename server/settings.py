"""Darkroom's settings: the only module that reads the environment, and it fails loudly on bad values."""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# "local" is the quick start (`make run`, tests): a dev secret, anonymous uploads, no Redis needed.
# "production" is the default so that a forgotten variable never ships the quick start's shortcuts.
DARKROOM_ENV = env.str("DARKROOM_ENV", default="production")
if DARKROOM_ENV not in ("local", "production"):
    raise ImproperlyConfigured(f"DARKROOM_ENV must be 'local' or 'production', got {DARKROOM_ENV!r}")
LOCAL = DARKROOM_ENV == "local"


def _positive_int(name: str, default: int, minimum: int = 1) -> int:
    try:
        value = env.int(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {env.str(name)!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def _int_list(name: str, default: list[int]) -> list[int]:
    raw = env.list(name, default=[str(value) for value in default])
    if not all(value.isascii() and value.isdigit() and int(value) > 0 for value in raw):
        raise ImproperlyConfigured(f"{name} must be positive whole numbers separated by commas, got {raw!r}")
    return sorted({int(value) for value in raw})


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="")
    if raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def _networks(name: str, default: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for value in (value.strip() for value in env.list(name, default=default)):
        try:
            network = ipaddress.ip_network("::/0" if value == "*" else value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name} must be IP networks like 10.0.0.0/8, comma-separated: {exc}") from exc
        if network.prefixlen == 0:  # "*", 0.0.0.0/0, ::/0: gunicorn's and Django's trust would mean nothing
            raise ImproperlyConfigured(f"{name} must not trust every address ({value}); name the proxy's networks")
        networks.append(network)
    return tuple(networks)


DEBUG = _bool("DEBUG", default=False)
if DEBUG and not LOCAL:
    raise ImproperlyConfigured(
        "DEBUG must not be true in production (DARKROOM_ENV=production): its error pages show settings and code "
        "to anyone; unset DEBUG, or debug with DARKROOM_ENV=local"
    )

_dev_secret = "darkroom-local-quick-start-not-secret"
SECRET_KEY = env.str("SECRET_KEY", default=_dev_secret if LOCAL else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production (DARKROOM_ENV=production)")
if not LOCAL and SECRET_KEY == _dev_secret:
    raise ImproperlyConfigured("SECRET_KEY must not be the quick start's published key in production")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if LOCAL else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production, e.g. ALLOWED_HOSTS=images.example.com")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "server.errors.csrf_failure"  # a CSRF refusal in the house's shape, never Django's page
# Where this service's images are reached from outside (its own origin, or a CDN in front of it): the template tags
# then write absolute URLs, so another Django site can use them. Empty: paths.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
if PUBLIC_BASE_URL and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?", PUBLIC_BASE_URL):
    raise ImproperlyConfigured(
        f"PUBLIC_BASE_URL must be http(s)://host[:port][/path], without query or fragment, got {PUBLIC_BASE_URL!r}"
    )

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
ORIGINALS_DIR = DATA_DIR / "originals"
VARIANTS_DIR = DATA_DIR / "variants"

# Limits, checked before any full decode.
MAX_UPLOAD_BYTES = _positive_int("MAX_UPLOAD_BYTES", 25_000_000)
MAX_SOURCE_PIXELS = _positive_int("MAX_SOURCE_PIXELS", 50_000_000)
MAX_FRAMES = _positive_int("MAX_FRAMES", 200)
MAX_TOTAL_PIXELS = _positive_int("MAX_TOTAL_PIXELS", 500_000_000)  # pixels x frames
MAX_OUTPUT_SIDE = _positive_int("MAX_OUTPUT_SIDE", 8192)
# Bounds on what one variant may cost (transforms/budgets.py), checked from recorded facts before any decode.
MAX_OUTPUT_PIXELS = _positive_int("MAX_OUTPUT_PIXELS", 25_000_000)  # output pixels x frames
MAX_PAD_RATIO = _positive_int("MAX_PAD_RATIO", 16)  # a fit=pad canvas over 1 MP: at most this many times the picture
ANONYMOUS_UPLOADS = _bool("ANONYMOUS_UPLOADS", default=LOCAL)
ANON_UPLOAD_RATE = env.str("ANON_UPLOAD_RATE", default="120/hour")
USER_UPLOAD_RATE = env.str("USER_UPLOAD_RATE", default="1200/hour")
# Who sees originals (originals/visibility.py; README, Security). A public gallery shows everyone's originals to
# everyone; the untouched files keep their EXIF, GPS included, so they stay the owner's and staff's unless
# PUBLIC_ORIGINALS opens them too. Variants are public by id in every mode and carry no metadata.
PUBLIC_GALLERY = _bool("PUBLIC_GALLERY", default=LOCAL)
PUBLIC_ORIGINALS = _bool("PUBLIC_ORIGINALS", default=LOCAL and PUBLIC_GALLERY)
if PUBLIC_ORIGINALS and not PUBLIC_GALLERY:
    raise ImproperlyConfigured(
        "PUBLIC_ORIGINALS=true needs PUBLIC_GALLERY=true: in a private gallery the untouched files are private too"
    )
# How long an anonymous uploader's session may see its upload's page and have its variants signed.
ANONYMOUS_UPLOAD_SECONDS = _positive_int("ANONYMOUS_UPLOAD_SECONDS", 3600)


_IMPORT_HOST = re.compile(r"(\*|(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])(:([0-9]{1,5}|\*))?")


def _import_hosts(name: str) -> list[str]:
    """Host patterns: `images.example.com`, `*.example.com`, `*`, an IP address; each with `:port`, `:*` or neither."""
    hosts = [value.strip().lower() for value in env.list(name, default=[]) if value.strip()]
    for value in hosts:
        match = _IMPORT_HOST.fullmatch(value)
        port = match and match[5]
        bad_ip = match is not None and value.startswith("[") and not _is_ipv6(match[1][1:-1])
        if match is None or bad_ip or (port and port != "*" and not 1 <= int(port) <= 65535):
            raise ImproperlyConfigured(
                f"{name} must be host names (images.example.com), *.domain (its subdomains), * (any host) or IP "
                f"addresses ([2001:db8::1] for IPv6), each with an optional :port or :* (any port), comma-separated; "
                f"got {value!r}"
            )
    return hosts


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _seconds(name: str, default: float, maximum: float) -> float:
    try:
        value = env.float(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {env.str(name)!r}") from exc
    if not 0 < value <= maximum:
        raise ImproperlyConfigured(f"{name} must be above 0 and at most {maximum:g}, got {value:g}")
    return value


# Import by URL (originals/fetch.py; README, Security): the hosts whose images an upload may name instead of sending
# the file. Empty: import is off. Only public addresses are ever connected to, whatever a host resolves to.
IMPORT_URL_HOSTS = _import_hosts("IMPORT_URL_HOSTS")
IMPORT_URL_MAX_REDIRECTS = _positive_int("IMPORT_URL_MAX_REDIRECTS", 3, minimum=0)
IMPORT_URL_TIMEOUT_SECONDS = _seconds("IMPORT_URL_TIMEOUT_SECONDS", 10.0, maximum=60.0)  # all of it, redirects too
IMPORT_URL_CONNECT_TIMEOUT_SECONDS = _seconds(
    "IMPORT_URL_CONNECT_TIMEOUT_SECONDS", min(3.0, IMPORT_URL_TIMEOUT_SECONDS), maximum=IMPORT_URL_TIMEOUT_SECONDS
)
# PEM certificates that https imports trust instead of the system's store (a private CA); empty: the system's.
IMPORT_URL_CA_FILE = env.str("IMPORT_URL_CA_FILE", default="")
if IMPORT_URL_CA_FILE and not Path(IMPORT_URL_CA_FILE).is_file():
    raise ImproperlyConfigured(f"IMPORT_URL_CA_FILE names no file: {IMPORT_URL_CA_FILE!r}")
# Loopback addresses (127.0.0.0/8, ::1) become importable: for tests and a local server only, refused in production.
# Every other private, link-local or reserved range stays refused.
IMPORT_URL_ALLOW_LOOPBACK = _bool("IMPORT_URL_ALLOW_LOOPBACK", default=False)
if IMPORT_URL_ALLOW_LOOPBACK and not LOCAL:
    raise ImproperlyConfigured("IMPORT_URL_ALLOW_LOOPBACK must not be true in production: it is for tests")

INSTALLED_APPS = [
    "originals",  # first: its createsuperuser replaces Django's (the first app with a command's name wins)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "transforms",
]

MIDDLEWARE = [
    "server.middleware.RequestMiddleware",
    "server.middleware.HealthCheckMiddleware",  # before anything validates the Host header
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "server.middleware.SlashRedirects",  # Django's CommonMiddleware; a URL without its slash is a 301 or 308
    "server.middleware.MethodMiddleware",  # a wrong method is a 405, not the CSRF check's 403
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as axes asks: turns a locked-out login form into a 429
]

ROOT_URLCONF = "server.urls"
WSGI_APPLICATION = "server.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'darkroom.sqlite3'}")}
# Persistent connections: opening SQLite (and its PRAGMAs) cost ~1.4 ms of a 4 ms request (bench/).
DATABASES["default"]["CONN_MAX_AGE"] = _positive_int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let several worker processes share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": _positive_int("SQLITE_BUSY_SECONDS", 20),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "originals.User"

REDIS_URL = env.str("REDIS_URL", default="")
# How long a Redis call may take before Redis is taken for away (REDIS_RETRY_SECONDS without it): short, since
# Redis is an accelerator; longer for a Redis across a network, or a machine so loaded that a local one is slow.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=0.25)
if not 0 < REDIS_TIMEOUT_SECONDS <= 30:
    raise ImproperlyConfigured(f"REDIS_TIMEOUT_SECONDS must be above 0 and at most 30, got {REDIS_TIMEOUT_SECONDS}")
if REDIS_URL:
    _redis_options = {
        # JSON, never pickle: whoever can write to Redis must not be able to run code in the workers. What the
        # cache holds (DRF's throttle histories: lists of floats) round-trips; a value that is not JSON is a miss.
        "CLIENT_CLASS": "server.rediscache.FailSafeClient",
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        # Redis is an accelerator, never a dependency: fail fast and let callers fall back.
        "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT_SECONDS,
        "SOCKET_TIMEOUT": REDIS_TIMEOUT_SECONDS,
        "IGNORE_EXCEPTIONS": True,  # throttles and other cache users carry on when Redis is away
    }
    CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL, "OPTIONS": _redis_options},
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        },
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttles (originals/logins.py, with django-axes): after LOGIN_FAILURE_LIMIT failed logins by one client (IP)
# or on one username, every login attempt of that client or on that username is a 429 with Retry-After until
# LOGIN_LOCKOUT_SECONDS pass without one. Counts live in the default cache, shared by all workers. Bad refresh
# tokens are counted per client with the same limits.
LOGIN_FAILURE_LIMIT = _positive_int("LOGIN_FAILURE_LIMIT", 10)
LOGIN_LOCKOUT_SECONDS = _positive_int("LOGIN_LOCKOUT_SECONDS", 900)
AUTHENTICATION_BACKENDS = ["originals.logins.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "originals.logins.LoginAttempts"
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one: a client rotating names, or a name from many
AXES_FAILURE_LIMIT = "originals.logins.failure_limit"
AXES_COOLOFF_TIME = "originals.logins.lockout_time"
AXES_CLIENT_IP_CALLABLE = "originals.logins.client_ip"
AXES_USERNAME_CALLABLE = "originals.logins.username_key"
AXES_LOCKOUT_CALLABLE = "originals.logins.lockout_response"
AXES_ENABLE_ADMIN = False  # the cache handler keeps no rows for the admin to show
AXES_VERBOSE = False  # no banner at every start; failures and lockouts are still logged (as WARNING)

# JWT (simplejwt): refresh tokens rotate, and a spent or revoked one is blacklisted (token_blacklist app); a
# password change revokes them all (originals/models.py). The signing key can differ from SECRET_KEY.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
if "JWT_SIGNING_KEY" in env and len(JWT_SIGNING_KEY.encode()) < 32:  # RFC 7518 3.2: HS256 keys of 256 bits or more
    raise ImproperlyConfigured("JWT_SIGNING_KEY must be at least 32 bytes long (HS256), or unset to use SECRET_KEY")
SIMPLE_JWT = {
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=_positive_int("JWT_ACCESS_TOKEN_SECONDS", 300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=_positive_int("JWT_REFRESH_TOKEN_SECONDS", 86_400)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if LOCAL
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}


def _originals_storage() -> dict[str, object]:
    """Where originals live (originals/store.py): files under DATA_DIR/originals, the embedded default, or an
    S3-compatible bucket through django-storages: STORAGE_URL=s3://<bucket>[/<prefix>]?endpoint_url=…&region_name=…,
    or the usual variables (AWS_STORAGE_BUCKET_NAME or Fly's BUCKET_NAME, AWS_S3_ENDPOINT_URL or AWS_ENDPOINT_URL_S3,
    AWS_S3_REGION_NAME or AWS_REGION, AWS_LOCATION). Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."""
    url = urlsplit(env.str("STORAGE_URL", default=""))
    if url.scheme not in ("", "file", "s3"):
        raise ImproperlyConfigured(
            f"STORAGE_URL must be s3://<bucket>[/<prefix>]?endpoint_url=… or unset, got {url.scheme}://…"
        )
    query = dict(parse_qsl(url.query))
    unknown = set(query) - {"endpoint_url", "region_name", "addressing_style"}
    if unknown:
        raise ImproperlyConfigured(
            f"STORAGE_URL does not take {', '.join(sorted(unknown))}; "
            "it takes endpoint_url, region_name, addressing_style"
        )
    bucket = (
        url.netloc
        if url.scheme == "s3"
        else env.str("AWS_STORAGE_BUCKET_NAME", default="") or env.str("BUCKET_NAME", default="")
    )
    if not bucket:
        return {"BACKEND": "originals.store.ContentAddressedFileSystemStorage"}
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    chunk = _positive_int("AWS_S3_TRANSFER_CHUNK_BYTES", 5 * 2**20, minimum=5 * 2**20)  # S3's smallest part: 5 MiB
    # A managed transfer of parts of `chunk`, one at a time: a 25 MB upload holds a part or two, never the file.
    transfer = TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=1)
    transfer.max_in_memory_upload_chunks = 1
    endpoint = (
        query.get("endpoint_url")
        or env.str("AWS_S3_ENDPOINT_URL", default="")
        or env.str("AWS_ENDPOINT_URL_S3", default="")
    )
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": url.path.strip("/") if url.scheme == "s3" else env.str("AWS_LOCATION", default="").strip("/"),
            "endpoint_url": endpoint or None,
            "region_name": query.get("region_name")
            or env.str("AWS_S3_REGION_NAME", default="")
            or env.str("AWS_REGION", default="")
            or None,
            "addressing_style": query.get("addressing_style") or env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
            "file_overwrite": True,  # names are content addresses: the same name is the same bytes
            "default_acl": None,  # private objects; the service serves them
            "querystring_auth": False,
            "transfer_config": transfer,
            # A store that is away is a 503 within seconds, not a worker stuck for a minute.
            "client_config": Config(
                connect_timeout=_positive_int("AWS_S3_CONNECT_TIMEOUT", 2),
                read_timeout=_positive_int("AWS_S3_READ_TIMEOUT", 20),
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        },
    }


STORAGES["originals"] = _originals_storage()
ORIGINALS_REMOTE = STORAGES["originals"]["BACKEND"] != "originals.store.ContentAddressedFileSystemStorage"


def _results_storage(originals: dict[str, Any]) -> dict[str, object]:
    """The shared result tier (transforms/cache/results.py): the originals' bucket, under `results/` beside them."""
    options = dict(originals["OPTIONS"])
    options["location"] = "/".join(part for part in (options["location"], "results") if part)
    return {"BACKEND": originals["BACKEND"], "OPTIONS": options}


if ORIGINALS_REMOTE:
    STORAGES["results"] = _results_storage(STORAGES["originals"])
STORAGE_RETRY_AFTER = 5  # seconds, in the Retry-After of a 503 while the object store is away
WHITENOISE_USE_FINDERS = LOCAL
WHITENOISE_AUTOREFRESH = LOCAL

# Uploads larger than this spill from memory to a temporary file while they stream in.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "originals.uploads.LimitedUploadHandler",  # counts and refuses; passes the bytes on to:
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "server.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    # ?format= filters originals by image format; renderers are chosen by the Accept header alone.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Darkroom API",
    "DESCRIPTION": "Upload, list, show and delete originals; variants are served from `/image/{id}/?w=…`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # /image/{id}/ is a plain Django view: documented from the operation registry (transforms/openapi.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "transforms.openapi.variant_paths"],
}

# Behind a proxy (Fly, a load balancer): the header that carries the client's IP, trusted for throttling
# and logs. Empty: REMOTE_ADDR as the socket says. Fly sets Fly-Client-IP and X-Forwarded-Proto.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
# The socket peers whose CLIENT_IP_HEADER and X-Forwarded-Proto are believed; server/granian_serve.py sets
# the scheme from this list alone, as server/gunicorn.py has gunicorn's forwarded_allow_ips do (no
# SECURE_PROXY_SSL_HEADER: Django would read X-Forwarded-Proto from any peer).
TRUSTED_PROXIES = _networks("TRUSTED_PROXIES", ["127.0.0.1/32", "::1/128"])
if env.str("FORWARDED_ALLOW_IPS", default=""):
    raise ImproperlyConfigured("FORWARDED_ALLOW_IPS is replaced by TRUSTED_PROXIES (IP networks); unset it")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not LOCAL:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _positive_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", default=False)  # Fly's force_https does it at the edge
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# /metrics: public in the quick start; in production only with `Authorization: Bearer $METRICS_TOKEN`.
METRICS_PUBLIC = _bool("METRICS_PUBLIC", default=LOCAL)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# A request log line costs more than the rest of a cache hit (bench/); hits are counted in /metrics instead.
LOG_CACHE_HITS = _bool("LOG_CACHE_HITS", default=False)
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if LOCAL else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "server.logs.RequestIdFilter"},
        "downgrade_to_warning": {"()": "server.logs.DowngradeToWarning"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {
            "class": "server.logs.RequestTextFormatter",  # adds route, duration, cache tier and bytes to request lines
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},  # refusals are logged once, by darkroom.request
        # A Host outside ALLOWED_HOSTS is the client's mistake (a 400): one WARNING line, no traceback.
        "django.security.DisallowedHost": {"filters": ["downgrade_to_warning"]},
        # So is a body over the limits (answered 413 body_too_large): a WARNING, not an ERROR with a traceback.
        **{
            f"django.security.{name}": {"filters": ["downgrade_to_warning"]}
            for name in ("RequestDataTooBig", "TooManyFieldsSent", "TooManyFilesSent")
        },
    },
}

# Signed variant URLs (transforms/signing.py): off, required, or required except presets and ladder widths.
# Production signs by default ("presets"), with a key derived from SECRET_KEY until URL_SIGNING_KEYS are set;
# the quick start signs only once keys are configured, as imgproxy does.
URL_SIGNING_KEYS = env.list("URL_SIGNING_KEYS", default=[])  # the first signs; all verify (rotation)
URL_SIGNING = env.str("URL_SIGNING", default="presets" if URL_SIGNING_KEYS or not LOCAL else "off")
if URL_SIGNING not in ("off", "required", "presets"):
    raise ImproperlyConfigured(f"URL_SIGNING must be off, required or presets, got {URL_SIGNING!r}")
# thumbor-compatible URLs (/thumbor/…, transforms/thumbor.py): signed with thumbor's key (HMAC-SHA1), as libthumbor
# signs them; unsafe/ URLs are served only where allowed (the quick start), and then only as the unsigned native URL
# they stand for would be under URL_SIGNING.
THUMBOR_SECURITY_KEY = env.str("THUMBOR_SECURITY_KEY", default="")
THUMBOR_ALLOW_UNSAFE = _bool("THUMBOR_ALLOW_UNSAFE", default=LOCAL)
VARIANT_PRESETS: dict[str, str] = env.json(
    "VARIANT_PRESETS",
    default={
        "thumbnail": "w=200&h=200&fit=cover",
        "small": "w=480",
        "medium": "w=960",
        "large": "w=1920",
    },
)
# fmt=auto: the formats it may pick, most preferred first, each when the browser's Accept names it.
AUTO_FORMATS = [name.strip() for name in env.list("AUTO_FORMATS", default=["avif", "webp"])]
if not set(AUTO_FORMATS) <= {"avif", "webp"} or len(set(AUTO_FORMATS)) < len(AUTO_FORMATS):
    raise ImproperlyConfigured(
        f"AUTO_FORMATS must name avif and webp (or one of them, or none), each once, most preferred first, e.g. "
        f"avif,webp; got {','.join(AUTO_FORMATS)!r}"
    )
# Unsigned widths allowed in "presets" mode, for srcset ladders; 32 and 64 for blur-up placeholders and avatars.
WIDTH_LADDER = _int_list("WIDTH_LADDER", [32, 64, 160, 320, 480, 640, 960, 1280, 1600, 1920, 2560])

# Limits on rendering, so one request cannot take the machine.
MAX_CONCURRENT_RENDERS = _positive_int("MAX_CONCURRENT_RENDERS", 2)  # per worker process
RENDER_QUEUE_SECONDS = 10.0  # wait this long for a render slot, then 503 with Retry-After
# Renders (cache misses, not hits) per client and window, as django-ratelimit spells rates: "120/m".
RENDER_RATE = env.str("RENDER_RATE", default="120/m")
if not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", RENDER_RATE):
    raise ImproperlyConfigured(f"RENDER_RATE must look like 120/m (renders per s, m, h, d or 10m), got {RENDER_RATE!r}")
RATELIMIT_FAIL_OPEN = True  # the cache (Redis) down means no throttling, not refusing every render
RENDER_TIME_BUDGET_SECONDS = float(_positive_int("RENDER_TIME_BUDGET_SECONDS", 20))
MAX_VARIANTS_PER_ORIGINAL = _positive_int("MAX_VARIANTS_PER_ORIGINAL", 200)  # stored; LRU beyond it
# Renders run in separate processes (transforms/render_pool.py), killed past the time budget or this RSS.
RENDER_MEMORY_LIMIT = _positive_int("RENDER_MEMORY_LIMIT", 512 * 1024 * 1024)
RENDER_PROCESS_MAX_RENDERS = _positive_int("RENDER_PROCESS_MAX_RENDERS", 500)  # then a fresh process
# Free heap a render process keeps for its next render (faulting it in again costs ~1.25 us a 4 KiB page: 30 ms of a
# 12 MP render); more is given back after the render, and a process still holding more is replaced.
RENDER_PROCESS_KEEP = _positive_int("RENDER_PROCESS_KEEP", 64 * 1024 * 1024, minimum=16 * 1024 * 1024)
# Threads a render's resize may use, of the CPUs idle (transforms/resample.py: 4 bands at most, so more works as 4);
# the bytes do not depend on it.
RENDER_THREADS = _positive_int("RENDER_THREADS", 2)

# The variant cache (DESIGN.md section 6).
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, serve without it this long before trying again
REDIS_VARIANT_TTL = _positive_int("REDIS_VARIANT_TTL", 7 * 24 * 3600)
REDIS_VARIANT_MAX_BYTES = _positive_int("REDIS_VARIANT_MAX_BYTES", 512 * 1024)
# With originals in a bucket, variants of at least this many bytes are kept there too, for every host (0: none).
RESULT_STORE_MIN_BYTES = _positive_int("RESULT_STORE_MIN_BYTES", REDIS_VARIANT_MAX_BYTES + 1, minimum=0)
RENDER_LOCK_SECONDS = 30.0
VARIANT_CACHE_MAX_BYTES = _positive_int("VARIANT_CACHE_MAX_BYTES", 5 * 1024**3)
# Per worker; 0 turns the memory tier off.
VARIANT_MEMORY_CACHE_BYTES = _positive_int("VARIANT_MEMORY_CACHE_BYTES", 32 * 1024 * 1024, minimum=0)
KNOWN_ORIGINALS_SECONDS = 60.0  # how long a worker trusts its in-process map of id -> original facts
