"""Settings for the winkr project, read from the environment (12-factor).

Every variable is listed with its default in the README's settings table. Nothing here
is needed for development: ``python3 dev.py run`` works with an empty environment.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_duration, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core -------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        msg = (
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(for development, `python3 dev.py run` sets DJANGO_DEBUG=true for you)."
        )
        raise ImproperlyConfigured(msg)
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "ratelimit_app.admin_config.ThrottledAdminConfig",  # django.contrib.admin, login under the login throttle
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "servestatic",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "channels",
    "caching_app",
    "sessions_app",
    "sessions_app.jwt",
    "ratelimit_app",
    "realtime_app",
    "health_app",
    "winkr.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sessions_app.jwt.middleware.JWTRevocationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "winkr.urls"
WSGI_APPLICATION = "winkr.wsgi.application"
ASGI_APPLICATION = "winkr.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "winkr" / "templates"],
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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60, conn_health_checks=True
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ModelBackend, finding the account by the one username comparison (NFKC + case fold) that
# registration uses too: ＡＬＩＣＥ logs in as alice, on the API and the admin alike.
AUTHENTICATION_BACKENDS = ["sessions_app.usernames.UsernameBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and Content-Security-Policy ---------------------------------------------------
# daphne serves static files itself through servestatic's async middleware (measured against
# whitenoise's sync one, which costs every request a thread hop under ASGI: README, "Static files").
# Hashed names (manifest) and gzip variants are made by collectstatic (dev.py run, the Docker build);
# with DEBUG on, files come straight from the apps (finders) and are picked up when edited.
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "winkr" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
}
# Only our own origin: no CDN, no inline script. django-csp (not a hand-written middleware) because
# Django 5.2 has no built-in CSP and django-csp gives per-view exceptions (Redoc's inline styles,
# winkr/urls.py) and nonces; Django 6's own CSP can replace it once 5.2 support is dropped.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        # 'self' covers ws:// and wss:// to our own host (CSP Level 3).
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}

# --- Production hardening (on whenever DEBUG is off) --------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_TLS_PROXY") else None
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Probes from the kubelet or Docker speak plain HTTP inside the pod: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^health"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Redis: one configuration, two aliases (caching_app.foundation.connections) --------------------
# "state" holds data that must never be evicted (sessions, revoked tokens, rate limits,
# presence, chat streams); "cache" may be evicted. Both may point at one server.
_REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_alias(prefix: str, url: str, eviction_allowed: bool) -> dict:
    def pick(name: str, reader, default):  # noqa: ANN001
        # REDIS_<NAME> configures both aliases; REDIS_CACHE_<NAME> overrides it for "cache".
        value = reader(f"REDIS_{name}", default)
        return value if prefix == "REDIS_" else reader(f"{prefix}{name}", value)

    return {
        "URL": url,
        "MODE": pick("MODE", env_str, "standalone"),
        "USERNAME": pick("USERNAME", env_str, None),
        "PASSWORD": pick("PASSWORD", env_str, None),
        "DB": pick("DB", env_str, None),
        "SENTINELS": pick("SENTINELS", env_list, []),
        "SENTINEL_SERVICE": pick("SENTINEL_SERVICE", env_str, "mymaster"),
        "SENTINEL_PASSWORD": pick("SENTINEL_PASSWORD", env_str, None),
        "CLUSTER_NODES": pick("CLUSTER_NODES", env_list, []),
        "POOL_SIZE": pick("POOL_SIZE", env_int, 50),
        "MIN_IDLE_CONNECTIONS": pick("MIN_IDLE_CONNS", env_int, 0),
        "MAX_RETRIES": pick("MAX_RETRIES", env_int, 3),
        "DIAL_TIMEOUT": pick("DIAL_TIMEOUT", env_duration, 5.0),
        "READ_TIMEOUT": pick("READ_TIMEOUT", env_duration, 3.0),
        "WRITE_TIMEOUT": pick("WRITE_TIMEOUT", env_duration, 3.0),
        "POOL_TIMEOUT": pick("POOL_TIMEOUT", env_duration, 4.0),
        "HEALTH_CHECK_INTERVAL": pick("HEALTH_CHECK_INTERVAL", env_duration, 30.0),
        "SSL_CA_CERTS": pick("TLS_CA_CERTS", env_str, None),
        "SSL_CERTFILE": pick("TLS_CERTFILE", env_str, None),
        "SSL_KEYFILE": pick("TLS_KEYFILE", env_str, None),
        "EVICTION_ALLOWED": eviction_allowed,
    }


WINKR_REDIS = {
    "state": _redis_alias("REDIS_", _REDIS_URL, eviction_allowed=False),
    "cache": _redis_alias("REDIS_CACHE_", env_str("REDIS_CACHE_URL", _REDIS_URL), eviction_allowed=True),
}

# Django's cache framework (django-redis) on the "cache" alias, through the same layer.
CACHES = {
    "default": {
        # django-redis plus native async methods (caching_app.django_cache).
        "BACKEND": "caching_app.django_cache.RedisCache",
        "LOCATION": "winkr://cache",
        "KEY_PREFIX": env_str("WINKR_KEY_PREFIX", "winkr"),
        "OPTIONS": {
            "CONNECTION_FACTORY": "caching_app.django_redis.ConnectionFactory",
            "CLIENT_CLASS": "caching_app.django_cache.SignedClient",
            # Pickle, so responses, fragments and model instances cache; HMAC-signed, so nothing
            # planted in Redis is ever unpickled (caching_app.signing).
            "SERIALIZER": "caching_app.signing.SignedPickleSerializer",
            "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor",
            # A cache outage degrades to misses instead of 500s.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}

# --- caching_app ----------------------------------------------------------------------------
WINKR_CACHING = {
    "KEY_PREFIX": env_str("WINKR_KEY_PREFIX", "winkr"),
    "TTLS": {
        "user_profile": env_duration("CACHE_USER_PROFILE_TTL", 15 * 60),
        "photo_metadata": env_duration("CACHE_PHOTO_METADATA_TTL", 60 * 60),
        "match_recommendations": env_duration("CACHE_MATCH_RECOMMENDATIONS_TTL", 30 * 60),
        "api_response": env_duration("CACHE_API_RESPONSE_TTL", 5 * 60),
        "geospatial": env_duration("CACHE_GEOSPATIAL_TTL", 10 * 60),
    },
    # The cache API (caching_app.service): serializer, warmers for `manage.py warm_cache`.
    "SERIALIZER": env_str("CACHE_SERIALIZER", "json"),
    # Django's cache (CACHES["default"]) signs its entries with a key derived from this secret
    # (default SECRET_KEY / SECRET_KEY_FALLBACKS); comma-separated fallbacks for rotation.
    "SIGNING_KEY": env_str("CACHE_SIGNING_KEY", "") or None,
    "SIGNING_KEY_FALLBACKS": env_list("CACHE_SIGNING_KEY_FALLBACKS", []) or None,
    "WARMERS": {
        "user_profile": "winkr.demo.warming.ProfileWarmer",
        "photo_metadata": "winkr.demo.warming.PhotoMetadataWarmer",
        "match_recommendations": "winkr.demo.warming.RecommendationsWarmer",
        "geospatial": "winkr.demo.warming.LocationWarmer",
    },
}

# --- sessions_app -------------------------------------------------------------------------
SESSION_COOKIE_AGE = int(env_duration("SESSION_TTL", 14 * 86400))
# Sessions live in Redis ("state" alias) with a per-user device index; see sessions_app.
SESSION_ENGINE = "sessions_app.backends.redis"
# Django's SessionMiddleware plus throttled device activity and a 503 (not a 500) when Redis is down.
MIDDLEWARE[MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware")] = (
    "sessions_app.middleware.SessionMiddleware"
)
WINKR_SESSIONS = {
    "SESSION_TTL": SESSION_COOKIE_AGE,
    "CLEANUP_INTERVAL": env_duration("SESSION_CLEANUP_INTERVAL", 3600),
    "MAX_SESSIONS_PER_USER": env_int("MAX_SESSIONS_PER_USER", 10),
    "ONLINE_WINDOW": env_duration("SESSION_ONLINE_WINDOW", 5 * 60),
    "ACTIVITY_UPDATE_INTERVAL": env_duration("SESSION_ACTIVITY_UPDATE_INTERVAL", 60),
    "LAST_SEEN_PRECISION": env_duration("PRESENCE_LAST_SEEN_PRECISION", 5 * 60),
    "INDEX_BUCKETS": env_int("SESSION_INDEX_BUCKETS", 16),
}

# --- JWT (simplejwt; revocation in sessions_app) -------------------------------------------
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_duration("ACCESS_TOKEN_TTL", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_duration("REFRESH_TOKEN_TTL", 7 * 86400)),
    "ROTATE_REFRESH_TOKENS": True,
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "ALGORITHM": "HS256",
    "UPDATE_LAST_LOGIN": False,
}
# Revocation of JWTs in Redis (sessions_app.jwt); see the README, "JWT logout".
WINKR_JWT = {
    "FAIL_OPEN": env_bool("JWT_FAIL_OPEN", False),
    "USER_CACHE_TTL": int(env_duration("JWT_USER_CACHE_TTL", 60)),
    # Failed logins per IP + username (ratelimit_app); a successful login gives its slot back.
    "LOGIN_THROTTLE_CLASSES": ["ratelimit_app.throttling.LoginRateThrottle"],
    # Reads and checks riding in the revocation round trip (the user's hash tag, one pipeline): the user
    # throttle, the status endpoint's peek, a view's cache entry, the device list's index.
    "PIPELINED_CHECKS": ["ratelimit_app.prefetch.user_throttle", "ratelimit_app.prefetch.status_peek",
                         "caching_app.prefetch.view_cache_entry", "sessions_app.prefetch.session_list"],
}

# --- DRF -----------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sessions_app.jwt.authentication.RedisJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Redis down -> 503 JSON with a code and Retry-After, in every view.
    "EXCEPTION_HANDLER": "caching_app.foundation.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "winkr.schema.WinkrAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's defaults, with a JSON parser that answers 400 (not 500) to over-deep nesting and lone surrogates.
    "DEFAULT_PARSER_CLASSES": ["caching_app.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    # Swagger UI and Redoc from the drf-spectacular-sidecar wheel (pinned in pyproject.toml), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "winkr API",
    "DESCRIPTION": "Redis-backed sessions, caching, rate limits, JWT logout and realtime chat.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The API's contract is JSON: form bodies are still parsed (DRF's default parsers) but not advertised.
    "PARSER_WHITELIST": ["caching_app.parsers.JSONParser"],
    # Request bodies get their own components, so they can state what the server refuses (minLength 1 for
    # non-blank text, patterns: winkr.schema) without constraining what responses may contain.
    "COMPONENT_SPLIT_REQUEST": True,
    "PATH_CONVERTER_OVERRIDES": {"user_id": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}},
}

# --- ratelimit_app ---------------------------------------------------------------------------
# Exact Redis throttles for every DRF view (views opt into endpoint limits with throttle_scope;
# the login view uses ratelimit_app.throttling.LoginRateThrottle). Rates: "100/min", "5/15m";
# several comma-separated rates all apply (burst and sustained).
WINKR_RATELIMIT = {
    "RATES": {
        "anon": env_list("RATELIMIT_ANON", ["20/s", "1000/h"]),
        "user": env_list("RATELIMIT_USER", ["50/s", "5000/h"]),
        "login": env_list("RATELIMIT_LOGIN", ["5/15m", "20/day"]),
    },
    "ALGORITHM": env_str("RATELIMIT_ALGORITHM", "sliding_log"),
    "FAIL_OPEN": env_bool("RATELIMIT_FAIL_OPEN", True),
    "FAIL_CLOSED_SCOPES": env_list("RATELIMIT_FAIL_CLOSED_SCOPES", ["login"]),
    "TRUSTED_PROXIES": env_int("RATELIMIT_TRUSTED_PROXIES", 0),
}
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "ratelimit_app.throttling.AnonRateThrottle",
    "ratelimit_app.throttling.UserRateThrottle",
    "ratelimit_app.throttling.ScopedRateThrottle",
]

# --- realtime_app (Channels) ----------------------------------------------------------------
# The pub/sub layer, measured against RedisChannelLayer in bench/bench_realtime.py (README, realtime_app):
# delivery is at-most-once either way for a socket that is gone, and the chat/notification Streams
# give replay. Hosts come from the WINKR_REDIS aliases named here (one shard per alias).
# The default follows REDIS_MODE: sharded pub/sub (realtime_app.cluster_layer) on a Cluster, channels_redis'
# pub/sub layer on standalone and Sentinel; REALTIME_CHANNEL_LAYER=pubsub|core|cluster overrides it.
_CHANNEL_LAYER_BACKENDS = {
    "pubsub": "realtime_app.layers.RedisPubSubChannelLayer",
    "core": "realtime_app.layers.RedisChannelLayer",
    "cluster": "realtime_app.cluster_layer.ClusterChannelLayer",
}
_CHANNEL_LAYER = env_str("REALTIME_CHANNEL_LAYER",
                         "cluster" if WINKR_REDIS["state"]["MODE"] == "cluster" else "pubsub")
if _CHANNEL_LAYER not in _CHANNEL_LAYER_BACKENDS:
    msg = (
        f"REALTIME_CHANNEL_LAYER must be one of {', '.join(_CHANNEL_LAYER_BACKENDS)}, "
                               f"got {_CHANNEL_LAYER!r}."
    )
    raise ImproperlyConfigured(msg)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _CHANNEL_LAYER_BACKENDS[_CHANNEL_LAYER],
        "CONFIG": {
            "aliases": env_list("REALTIME_LAYER_ALIASES", ["state"]),
            "prefix": f"{env_str('WINKR_KEY_PREFIX', 'winkr')}:asgi",
            # RedisChannelLayer only: per-channel queue bound and message lifetime (s).
            **({"capacity": env_int("REALTIME_LAYER_CAPACITY", 200), "expiry": env_int("REALTIME_LAYER_EXPIRY", 30)}
               if _CHANNEL_LAYER == "core" else {}),
        },
    }
}
WINKR_REALTIME: dict = {
    "MAX_TEXT_LENGTH": env_int("CHAT_MAX_TEXT_LENGTH", 2000),
    "CHAT_STREAM_MAXLEN": env_int("CHAT_STREAM_MAXLEN", 1000),
    "NOTIFICATION_STREAM_MAXLEN": env_int("NOTIFICATION_STREAM_MAXLEN", 200),
    "CHAT_RATE_LIMIT": {"requests": env_int("CHAT_RATE_LIMIT_REQUESTS", 30),
                        "window": env_int("CHAT_RATE_LIMIT_WINDOW", 10)},
    "PRESENCE_TTL": env_int("PRESENCE_TTL", 60),
    "HEARTBEAT_INTERVAL": env_int("PRESENCE_HEARTBEAT_INTERVAL", 20),
    "REPLAY_PAGE_SIZE": env_int("REALTIME_REPLAY_PAGE_SIZE", 100),
    "MAX_OUTGOING_BYTES": env_int("REALTIME_MAX_OUTGOING_BYTES", 2 * 1024 * 1024),
    "FRAME_RATE_LIMIT": {"frames": env_int("REALTIME_FRAME_RATE_FRAMES", 60),
                         "window": env_int("REALTIME_FRAME_RATE_WINDOW", 10)},
    "FRAME_ABUSE_LIMIT": env_int("REALTIME_FRAME_ABUSE_LIMIT", 100),
}

# --- health_app -------------------------------------------------------------------------------
WINKR_HEALTH = {
    "TOKEN": env_str("HEALTH_TOKEN"),
}
