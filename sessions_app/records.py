"""The device-session record the service API returns, and the one description of the session hash.

Every session lives in one Redis hash, ``winkr:session:{<user tag>}:s:<random>`` (sessions_app.keys),
which the Django session engine and the device-session service share. Its fields:

===== ==================================================================================
``d`` Django's serialized session data (``SessionStore`` load/save; ``lua/save.lua``)
``u`` user id (device sessions only: a hash without ``u`` is an anonymous session)
``k`` kind: ``cookie`` or ``jwt``
``c`` created at, ms since the epoch
``a`` last activity, ms (written at most every ``ACTIVITY_UPDATE_INTERVAL``; ``lua/touch.lua``)
``ip`` client IP at login; ``ua`` User-Agent (bounded); ``dev`` device description (JSON)
``t`` JWT sessions: their sliding lifetime in ms, renewed by activity (``lua/create_device.lua``, ``touch.lua``)
===== ==================================================================================

The hash expires with the session; the user's device index (a sorted set, session id -> expiry ms)
and the sharded all-sessions index (:mod:`.indexes`) point at it. :data:`RECORD_FIELDS` are the
fields a :class:`DeviceSession` is built from, in ``HMGET`` order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

RECORD_FIELDS = ("u", "k", "c", "a", "ip", "ua", "dev")
COOKIE = "cookie"
JWT = "jwt"
KINDS = (COOKIE, JWT)


@overload
def from_ms(value: float) -> datetime: ...


@overload
def from_ms(value: bytes | str | float | None) -> datetime | None: ...


def from_ms(value: bytes | str | float | None) -> datetime | None:
    if value is None or value in (b"", ""):
        return None
    return datetime.fromtimestamp(int(float(value)) / 1000, tz=UTC)


def text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


@dataclass(frozen=True)
class DeviceSession:
    """One logged-in device: a cookie session or a JWT session."""

    id: str
    user_id: str
    kind: str
    created_at: datetime
    last_activity: datetime
    ip: str | None = None
    user_agent: str | None = None
    device: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None

    @classmethod
    def from_redis(cls, session_id: str, values: list, expiry_ms: bytes | str | float | None = None
                   ) -> DeviceSession | None:
        """Build from ``HMGET`` replies of :data:`RECORD_FIELDS`; None if the record is gone."""
        user, kind, created, active, ip, agent, device = values
        created_at = from_ms(created)
        if user is None or created_at is None:
            return None
        try:
            device_info = json.loads(device) if device else {}
        except ValueError:
            device_info = {}
        return cls(
            id=session_id, user_id=text(user), kind=text(kind), created_at=created_at,
            last_activity=from_ms(active) or created_at, ip=text(ip) or None,
            user_agent=text(agent) or None, device=device_info if isinstance(device_info, dict) else {},
            expires_at=from_ms(expiry_ms),
        )

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (what ``GET /api/sessions/`` lists).

        Built field by field: ``dataclasses.asdict`` deep-copies every value, a tenth of that listing's CPU.
        """
        return {
            "id": self.id, "user_id": self.user_id, "kind": self.kind, "created_at": self.created_at.isoformat(),
            "last_activity": self.last_activity.isoformat(), "ip": self.ip, "user_agent": self.user_agent,
            "device": dict(self.device),  # flat: names to strings (devices.describe_device)
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
