"""Benchmark settings: the project's settings as production runs them (DEBUG off)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789abcdef")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
# Throttles stay in the stack (their cost is part of every figure) with rates a benchmark never reaches.
os.environ.setdefault("RATELIMIT_ANON", "1000000/s,100000000/h")
os.environ.setdefault("RATELIMIT_USER", "1000000/s,100000000/h")

from winkr.settings import *  # noqa: E402,F403

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
ROOT_URLCONF = "bench.urls"  # the project's URLs plus the load test's bare DRF view

# bench/bench_static.py serves the same project with the static-files middleware swapped or removed.
_STATIC_VARIANT = os.environ.get("WINKR_BENCH_STATIC", "servestatic")
if _STATIC_VARIANT != "servestatic":
    MIDDLEWARE = [m for m in MIDDLEWARE if m != "servestatic.middleware.ServeStaticMiddleware"]  # noqa: F405
    if _STATIC_VARIANT == "whitenoise":
        MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
