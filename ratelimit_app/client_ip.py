"""The client's IP address, trusting X-Forwarded-For only through the configured proxies.

DRF's ``BaseThrottle.get_ident`` trusts the whole X-Forwarded-For header unless
``NUM_PROXIES`` is set, so by default any client can pick its own rate-limit key. Here
``TRUSTED_PROXIES`` defaults to 0 (REMOTE_ADDR only); with N proxies, each appending the
address it received the request from, the client is the N-th address from the right of
``X-Forwarded-For + [REMOTE_ADDR]`` and anything to its left (which the client wrote) is ignored.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .conf import ratelimit_settings


def normalize_ip(address: str) -> str | None:
    """The rate-limit key of one address (IPv4-mapped unwrapped, IPv6 by network), or None if not an IP."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        prefix = ratelimit_settings.IPV6_PREFIX
        if prefix and prefix < 128:
            # One host usually owns a whole /64: limit the network, not each address in it.
            return str(ipaddress.IPv6Network((ip, prefix), strict=False))
    return str(ip)


def get_client_ip(request: Any) -> str:
    """The address to rate-limit ``request`` by (``request.META`` of a Django or DRF request)."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    proxies = int(ratelimit_settings.TRUSTED_PROXIES or 0)
    if proxies > 0:
        forwarded = [part for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        chain = [*forwarded, remote]
        # Shorter than the proxies we expect: the request did not come through them, so
        # nothing in the header is vouched for.
        if len(chain) > proxies:
            client = normalize_ip(chain[-(proxies + 1)])
            if client:
                return client
    return normalize_ip(remote) or remote or "unknown"
