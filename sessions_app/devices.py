"""Device information from a request: what the client says, else what ua-parser reads in the User-Agent."""

from __future__ import annotations

from typing import Any

from ua_parser import parse

from caching_app.foundation.inputs import bounded_memo

from .conf import sessions_settings

MAX_FIELD_LENGTH = 200
MAX_USER_AGENT_LENGTH = 512
DEVICE_FIELDS = ("device_id", "device_type", "os", "browser", "location")
_TABLETS = ("ipad", "tablet", "kindle", "nexus 7", "nexus 9", "nexus 10", "galaxy tab")
_MOBILE_OSES = ("ios", "android", "windows phone", "blackberry os", "kaios")
_DESKTOP_OSES = ("windows", "mac os x", "linux", "ubuntu", "chrome os", "fedora", "debian", "freebsd")


def clean(value: object, limit: int = MAX_FIELD_LENGTH) -> str | None:
    """Client-sent text, bounded and stripped of control characters; None when empty."""
    if value is None:
        return None
    text = "".join(ch for ch in str(value) if ch.isprintable())[:limit].strip()
    return text or None


def _device_type(os_family: str, device_family: str, agent: str) -> str:
    # ua-parser names the device and the OS but not its class; this small mapping is ours.
    device, os_name, lowered = device_family.lower(), os_family.lower(), agent.lower()
    if device == "spider":
        return "bot"
    if any(word in device for word in _TABLETS) or ("android" in lowered and "mobile" not in lowered):
        return "tablet"
    if os_name in _MOBILE_OSES or "mobile" in lowered:
        return "mobile"
    if os_name in _DESKTOP_OSES or os_name.startswith("windows"):
        return "desktop"
    return "unknown"


@bounded_memo(maxsize=1024)
def parse_user_agent(user_agent: str) -> dict[str, str | None]:
    """``device_type``, ``os`` and ``browser`` read from a User-Agent (cached: parsing costs ~0.1 ms)."""
    if not user_agent:
        return {"device_type": "unknown", "os": None, "browser": None}
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else None
    os_family = result.os.family if result.os else ""
    device_family = result.device.family if result.device else ""
    version = f" {result.os.major}" if result.os and result.os.major else ""
    return {
        "device_type": _device_type(os_family, device_family, user_agent),
        "os": f"{os_family}{version}" if os_family and os_family != "Other" else None,
        "browser": browser if browser and browser != "Other" else None,
    }


def describe_device(user_agent: str | None, sent: dict[str, Any] | None = None) -> dict[str, str | None]:
    """The device dict: fields the client sent win; the rest come from the User-Agent."""
    info: dict[str, str | None] = {name: None for name in DEVICE_FIELDS}
    info.update(parse_user_agent(clean(user_agent, MAX_USER_AGENT_LENGTH) or ""))
    for name, value in (sent or {}).items():
        if name in DEVICE_FIELDS and clean(value):
            info[name] = clean(value)
    return info


def device_sent_by(request: Any) -> dict[str, str | None]:
    """What the client says about its device in the optional ``X-Device-*`` headers (DEVICE_HEADERS)."""
    meta = getattr(request, "META", {})
    sent = {name: clean(meta.get(header)) for name, header in sessions_settings.DEVICE_HEADERS.items()}
    return {name: value for name, value in sent.items() if value}


def client_ip(request: Any) -> str | None:
    """REMOTE_ADDR: behind a proxy, configure it to set REMOTE_ADDR (we never trust X-Forwarded-For blindly)."""
    return clean(getattr(request, "META", {}).get("REMOTE_ADDR"), 64)
