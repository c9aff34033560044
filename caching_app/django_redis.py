"""django-redis connection factory that hands out the connection layer's clients.

Configure a cache with ``"LOCATION": "<alias>"`` and
``"OPTIONS": {"CONNECTION_FACTORY": "caching_app.django_redis.ConnectionFactory"}``:
Django's cache framework then uses the same pool, retries, TLS, Sentinel or Cluster
set-up and command metrics as every other winkr app, configured once in WINKR_REDIS.
"""

from __future__ import annotations

from typing import Any

from django_redis.pool import ConnectionFactory as BaseConnectionFactory

from .foundation.connections import get_redis

SCHEME = "winkr://"


def alias_of(location: str) -> str:
    """The WINKR_REDIS alias a cache LOCATION (``winkr://<alias>``) names."""
    return location.removeprefix(SCHEME)


class ConnectionFactory(BaseConnectionFactory):
    def connect(self, url: str) -> Any:
        return get_redis(alias_of(url))

    def disconnect(self, connection: Any) -> None:
        # The pool belongs to the connection layer and outlives any one cache object.
        return None
