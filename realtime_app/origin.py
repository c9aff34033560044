"""The WebSocket Origin check: the whole origin (scheme, host and port), as Django's CSRF check compares it.

Channels' ``AllowedHostsOriginValidator`` only matches the Origin's host against ALLOWED_HOSTS, so a page on
``http://127.0.0.1:1`` (any port, any scheme of an allowed host) could open a socket that rides the user's
session cookie. A browser always sends Origin on a WebSocket handshake; the origin a socket accepts is:

- its own: ``<scheme>://<Host header>``, scheme ``https`` for ``wss`` (daphne's ``--proxy-headers`` sets it
  from ``X-Forwarded-Proto`` behind a TLS-terminating proxy), with the host in ALLOWED_HOSTS;
- or one listed in ``CSRF_TRUSTED_ORIGINS`` (exact, or ``https://*.example.com`` for subdomains), the list
  Django's CSRF check already trusts for cross-origin forms.

A handshake without Origin is refused like Channels' validator does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _trusted(origin: str) -> bool:
    parts = urlsplit(origin)
    for trusted in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        if origin == trusted:
            return True
        wanted = urlsplit(trusted)
        if wanted.netloc.startswith("*.") and parts.scheme == wanted.scheme:
            suffix = wanted.netloc[1:]
            if parts.netloc.endswith(suffix) and len(parts.netloc) > len(suffix):
                return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin = _header(scope, b"origin")
    if not origin:
        return False
    origin = origin.strip().lower()
    if _trusted(origin):
        return True
    host = (_header(scope, b"host") or "").strip().lower()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return origin == f"{scheme}://{host}"


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403) a WebSocket handshake from any other origin."""

    def __init__(self, application: Any):
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
