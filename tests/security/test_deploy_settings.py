"""Production settings (DEBUG off): secure cookies and HSTS on, and ``manage.py check --deploy`` clean."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOWN = ["DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SECURE_HSTS_SECONDS",
         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_SSL_REDIRECT", "SECURE_CONTENT_TYPE_NOSNIFF",
         "X_FRAME_OPTIONS"]


def production_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "REDIS_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "winkr.settings", "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "DJANGO_ALLOWED_HOSTS": "winkr.example.com",
            "REDIS_URL": "redis://127.0.0.1:1/0",  # never contacted: checks do not dial Redis
            "PYTHONPATH": str(ROOT), **extra}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_settings_turn_on_secure_cookies_and_hsts():
    code = f"import django, json; django.setup(); from django.conf import settings as s; " \
           f"print(json.dumps({{k: getattr(s, k) for k in {SHOWN!r}}}))"
    result = run("-c", code, env=production_env())
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "DEBUG": False, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_HSTS_SECONDS": 31536000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SECURE_SSL_REDIRECT": True, "SECURE_CONTENT_TYPE_NOSNIFF": True, "X_FRAME_OPTIONS": "DENY",
    }


def test_check_deploy_is_clean_with_production_settings():
    result = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = run("manage.py", "check", env=env)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set" in result.stderr


def test_a_weak_secret_key_fails_the_deploy_check():
    result = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_env(DJANGO_SECRET_KEY="x"))
    assert result.returncode != 0 and "security.W009" in result.stdout + result.stderr
