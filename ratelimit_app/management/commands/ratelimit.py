"""``manage.py ratelimit status|reset <scope> <key>``: look at or clear one client's limits."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from ratelimit_app.client_ip import normalize_ip
from ratelimit_app.limiter import KEY_TYPES, ceil_seconds, get_rate_limit_statuses, reset_rate_limit
from ratelimit_app.throttling import LoginRateThrottle, configs_for_scope


def guess_key_type(scope: str, key: str) -> str:
    try:
        ipaddress.ip_network(key, strict=False)
    except ValueError:
        return "custom" if scope == "login" else "user"
    return "ip"


def throttle_key(scope: str, key_type: str, key: str) -> str:
    """The key the throttles count ``key`` under: an IPv6 address by its network, an IPv4-mapped one as
    IPv4, a login's username case-folded. Without this, ``reset`` removes nothing for such clients."""
    if key_type == "ip":
        return normalize_ip(key) or key
    if key_type == "custom" and scope == LoginRateThrottle.scope:
        ip, _, username = key.strip().partition(" ")
        return LoginRateThrottle.make_key(normalize_ip(ip) or ip, username)
    return key


class Command(BaseCommand):
    help = ("Show or reset the rate limits of one client. <key> is an IP, a user id, or for the login "
            "scope '<ip> <username>'.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["status", "reset"])
        parser.add_argument("scope", help="throttle scope, e.g. anon, user, login")
        parser.add_argument("key", help="client key: IP, user id, or '<ip> <username>' for login")
        parser.add_argument("--key-type", choices=KEY_TYPES,
                            help="what the key is (default: ip if it parses as one, custom for login, else user)")

    def handle(self, *args: Any, action: str, scope: str, key: str, key_type: str | None, **options: Any) -> None:
        key_type = key_type or guess_key_type(scope, key)
        key = throttle_key(scope, key_type, key)
        try:
            configs = configs_for_scope(scope, key_type)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if configs is None:
            msg = f"Scope {scope!r} is configured without a limit; nothing to {action}."
            raise CommandError(msg)
        try:
            if action == "reset":
                deleted = reset_rate_limit(configs, key)
                self.stdout.write(f"Reset {scope} for {key_type} {key!r} ({deleted} counter(s) removed).")
                return
            decision = get_rate_limit_statuses(configs, key)
        except RedisError as exc:
            msg = f"Redis is unreachable ({exc}); check REDIS_URL and try again."
            raise CommandError(msg) from exc
        for result in decision.results:
            self.stdout.write(
                f"{scope} {key_type} {key!r}: {result.remaining}/{result.limit} left per {result.window}s, "
                f"{'allowed' if result.allowed else 'BLOCKED'}, reset in {ceil_seconds(result.reset_after)}s"
                + (f", retry in {ceil_seconds(result.retry_after)}s" if result.retry_after else "")
            )
