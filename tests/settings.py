"""Test settings: the project's own settings, as production would run them, plus a test key.

The Redis aliases are pointed at the throwaway servers the suite spawns
(``tests/conftest.py``), never at a server a developer is using.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-0123456789abcdef0123456789abcdef")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

from winkr.settings import *  # noqa: E402,F403

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests only

# Without collectstatic (in-process tests, most daphne servers) templates link the apps' own files; a
# server given a collected DJANGO_STATIC_ROOT (the browser tests, tests/conftest.py collected_static) runs the
# project's manifest storage with hashed names, exactly as production does.
if not os.environ.get("DJANGO_STATIC_ROOT"):
    STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# DATABASE_URL picks the engine (winkr.settings): SQLite by default, PostgreSQL in CI's second leg
# (.ci/run). pytest-django creates and drops the test database; on a server it is named after the
# configured one plus "_test", so a throwaway name (winkr_ci_...) stays recognisable.
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['NAME']}_test"}  # noqa: F405
