"""Parsing and validation of one Redis alias' configuration (``WINKR_REDIS[alias]``).

Pure functions over plain dicts: ``winkr/settings.py`` and the system checks use them
without touching live connections, and every error names the alias and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

MODES = ("standalone", "sentinel", "cluster")
SCHEMES = ("redis", "rediss", "unix")

ALIAS_DEFAULTS: dict[str, Any] = {
    "URL": "redis://127.0.0.1:6379/0",
    "MODE": "standalone",
    "USERNAME": None,
    "PASSWORD": None,
    "DB": None,
    "SENTINELS": [],
    "SENTINEL_SERVICE": "mymaster",
    "SENTINEL_USERNAME": None,
    "SENTINEL_PASSWORD": None,
    "CLUSTER_NODES": [],
    "POOL_SIZE": 50,
    "MIN_IDLE_CONNECTIONS": 0,
    "MAX_RETRIES": 3,
    "DIAL_TIMEOUT": 5.0,
    "READ_TIMEOUT": 3.0,
    "WRITE_TIMEOUT": 3.0,
    "POOL_TIMEOUT": 4.0,
    "HEALTH_CHECK_INTERVAL": 30,
    "SSL_CA_CERTS": None,
    "SSL_CERTFILE": None,
    "SSL_KEYFILE": None,
    "SSL_CERT_REQS": "required",
    # False for stores whose data must never be evicted (sessions, tokens, limits).
    "EVICTION_ALLOWED": False,
}

TLS_KEYS = ("SSL_CA_CERTS", "SSL_CERTFILE", "SSL_KEYFILE")


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RedisAliasConfig:
    """A validated alias: what the connection layer needs to build clients."""

    alias: str
    url: str
    mode: str
    scheme: str
    host: str | None
    port: int | None
    path: str | None
    db: int
    username: str | None
    password: str | None
    sentinels: tuple[Address, ...]
    sentinel_service: str
    sentinel_username: str | None
    sentinel_password: str | None
    cluster_nodes: tuple[Address, ...]
    pool_size: int
    min_idle_connections: int
    max_retries: int
    dial_timeout: float
    read_timeout: float
    write_timeout: float
    pool_timeout: float
    health_check_interval: float
    ssl_ca_certs: str | None
    ssl_certfile: str | None
    ssl_keyfile: str | None
    ssl_cert_reqs: str
    eviction_allowed: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    @property
    def socket_timeout(self) -> float:
        # redis-py has one socket timeout for reads and writes; the larger one wins
        # so neither configured bound is cut short.
        return max(self.read_timeout, self.write_timeout)

    def describe(self) -> str:
        """Where this alias points, without secrets (for logs, health output)."""
        if self.mode == "sentinel":
            return f"sentinel {self.sentinel_service} via {', '.join(map(str, self.sentinels))}"
        if self.mode == "cluster":
            return f"cluster via {', '.join(map(str, self.cluster_nodes))}"
        if self.scheme == "unix":
            return f"unix:{self.path} db {self.db}"
        return f"{self.scheme}://{self.host}:{self.port}/{self.db}"


def _error(alias: str, key: str, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"WINKR_REDIS[{alias!r}][{key!r}]: {message}")


def parse_address(value: str, *, alias: str, key: str, default_port: int) -> Address:
    text = str(value).strip()
    if not text:
        raise _error(alias, key, "empty address")
    if "://" in text:
        text = urlsplit(text).netloc.rsplit("@", 1)[-1]
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port)
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise _error(alias, key, f"bad port in address {value!r}") from None
    if not host or not 0 < number < 65536:
        raise _error(alias, key, f"bad address {value!r} (want host:port)")
    return Address(host, number)


def _number(alias: str, options: dict[str, Any], key: str, cast: type, minimum: float) -> Any:
    value = options[key]
    try:
        number = cast(value)
    except (TypeError, ValueError):
        raise _error(alias, key, f"must be a number, got {value!r}") from None
    if number < minimum:
        raise _error(alias, key, f"must be >= {minimum}, got {value!r}")
    return number


def _addresses(alias: str, options: dict[str, Any], key: str, default_port: int) -> tuple[Address, ...]:
    raw = options[key] or []
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    return tuple(parse_address(item, alias=alias, key=key, default_port=default_port) for item in raw)


@dataclass(frozen=True)
class _Location:
    """Where the URL points: a TCP host and port, or a unix socket path, and its database number."""

    scheme: str
    host: str | None
    port: int | None
    path: str | None
    db: int


def _options(alias: str, raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        msg = f"WINKR_REDIS[{alias!r}] must be a dict of options."
        raise ImproperlyConfigured(msg)
    unknown = sorted(set(raw) - set(ALIAS_DEFAULTS))
    if unknown:
        msg = (
            f"WINKR_REDIS[{alias!r}]: unknown option(s) {', '.join(unknown)}; "
            f"known options are {', '.join(sorted(ALIAS_DEFAULTS))}."
        )
        raise ImproperlyConfigured(msg)
    return {**ALIAS_DEFAULTS, **raw}


def _mode(alias: str, options: dict[str, Any]) -> str:
    mode = str(options["MODE"] or "standalone").lower()
    if mode not in MODES:
        raise _error(alias, "MODE", f"unknown mode {options['MODE']!r}; use one of {', '.join(MODES)}")
    return mode


def _location(alias: str, url: str) -> _Location:
    """The URL's scheme, address and database (``/N`` or ``?db=N``)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise _error(alias, "URL", f"{url!r} must start with redis://, rediss:// or unix://")
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        if not parts.path:
            raise _error(alias, "URL", "unix:// URL needs a socket path")
        return _Location(parts.scheme, None, None, parts.path, _query_db(alias, query))
    try:
        host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    except ValueError:
        raise _error(alias, "URL", f"bad port in {url!r}") from None
    db_text = parts.path.lstrip("/")
    db = _int_or_error(alias, "URL", db_text) if db_text else _query_db(alias, query)
    return _Location(parts.scheme, host, port, None, db)


def _query_db(alias: str, query: dict[str, list[str]]) -> int:
    return _int_or_error(alias, "URL", query["db"][0]) if "db" in query else 0


def _db(alias: str, options: dict[str, Any], mode: str, where: _Location) -> int:
    db = where.db if options["DB"] in (None, "") else _int_or_error(alias, "DB", options["DB"])
    if db < 0:
        raise _error(alias, "DB", "must be >= 0")
    if mode == "cluster" and db != 0:
        raise _error(alias, "DB", f"Redis Cluster only has database 0, got {db}")
    if mode == "cluster" and where.scheme == "unix":
        raise _error(alias, "URL", "cluster mode needs TCP seed nodes, not a unix socket")
    return db


def _cert_reqs(alias: str, options: dict[str, Any], scheme: str) -> str:
    tls_set = [key for key in TLS_KEYS if options[key]]
    if tls_set and scheme != "rediss":
        raise _error(alias, tls_set[0], "TLS options are set but the URL does not use rediss://")
    cert_reqs = str(options["SSL_CERT_REQS"] or "required").lower()
    if cert_reqs not in ("required", "optional", "none"):
        raise _error(alias, "SSL_CERT_REQS", "use required, optional or none")
    return cert_reqs


def _topology(alias: str, options: dict[str, Any], mode: str,
              where: _Location) -> tuple[tuple[Address, ...], tuple[Address, ...]]:
    """Sentinel and Cluster seed addresses; a cluster without seeds is seeded from the URL."""
    sentinels = _addresses(alias, options, "SENTINELS", 26379)
    if mode == "sentinel" and not sentinels:
        raise _error(alias, "SENTINELS", "sentinel mode needs at least one sentinel address")
    if mode == "sentinel" and not options["SENTINEL_SERVICE"]:
        raise _error(alias, "SENTINEL_SERVICE", "sentinel mode needs the monitored service name")
    cluster_nodes = _addresses(alias, options, "CLUSTER_NODES", 6379)
    if mode == "cluster" and not cluster_nodes:
        cluster_nodes = (Address(where.host or "127.0.0.1", where.port or 6379),)
    return sentinels, cluster_nodes


def _pool(alias: str, options: dict[str, Any]) -> tuple[int, int]:
    pool_size = _number(alias, options, "POOL_SIZE", int, 1)
    min_idle = _number(alias, options, "MIN_IDLE_CONNECTIONS", int, 0)
    if min_idle > pool_size:
        raise _error(alias, "MIN_IDLE_CONNECTIONS", f"{min_idle} is more than POOL_SIZE {pool_size}")
    return pool_size, min_idle


def parse_alias(alias: str, raw: dict[str, Any]) -> RedisAliasConfig:
    """Validate one alias' options and fill in defaults; raise ImproperlyConfigured on bad input."""
    options = _options(alias, raw)
    mode = _mode(alias, options)
    url = str(options["URL"] or "")
    where = _location(alias, url)
    db = _db(alias, options, mode, where)
    cert_reqs = _cert_reqs(alias, options, where.scheme)
    sentinels, cluster_nodes = _topology(alias, options, mode, where)
    pool_size, min_idle = _pool(alias, options)
    parts = urlsplit(url)
    return RedisAliasConfig(
        alias=alias, url=url, mode=mode, scheme=where.scheme, host=where.host, port=where.port, path=where.path,
        db=db,
        username=options["USERNAME"] or (unquote(parts.username) if parts.username else None),
        password=options["PASSWORD"] or (unquote(parts.password) if parts.password else None),
        sentinels=sentinels,
        sentinel_service=str(options["SENTINEL_SERVICE"]),
        sentinel_username=options["SENTINEL_USERNAME"],
        sentinel_password=options["SENTINEL_PASSWORD"],
        cluster_nodes=cluster_nodes,
        pool_size=pool_size,
        min_idle_connections=min_idle,
        max_retries=_number(alias, options, "MAX_RETRIES", int, 0),
        dial_timeout=_number(alias, options, "DIAL_TIMEOUT", float, 0.001),
        read_timeout=_number(alias, options, "READ_TIMEOUT", float, 0.001),
        write_timeout=_number(alias, options, "WRITE_TIMEOUT", float, 0.001),
        pool_timeout=_number(alias, options, "POOL_TIMEOUT", float, 0.001),
        health_check_interval=_number(alias, options, "HEALTH_CHECK_INTERVAL", float, 0),
        ssl_ca_certs=options["SSL_CA_CERTS"],
        ssl_certfile=options["SSL_CERTFILE"],
        ssl_keyfile=options["SSL_KEYFILE"],
        ssl_cert_reqs=cert_reqs,
        eviction_allowed=bool(options["EVICTION_ALLOWED"]),
    )


def _int_or_error(alias: str, key: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _error(alias, key, f"database number must be an integer, got {value!r}") from None
