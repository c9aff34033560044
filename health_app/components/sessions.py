"""The sessions component: active device sessions and online users (sessions_app's services)."""

from __future__ import annotations

from typing import Any

from .base import HealthCheck


class SessionsCheck(HealthCheck):
    name = "sessions"

    def run(self) -> dict[str, Any]:
        try:
            from sessions_app import services
        except ImportError:
            return {"note": "sessions_app services not installed"}
        return {
            "online_users": services.count_online_users(),
            "active_sessions": services.count_active_sessions(),
        }
