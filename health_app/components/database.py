"""The database component (readiness): every configured database answers a trivial query."""

from __future__ import annotations

from typing import Any

from django.db import connections

from .base import HealthCheck


class DatabaseCheck(HealthCheck):
    name = "database"

    def run(self) -> dict[str, Any]:
        for alias in connections:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        return {"databases": list(connections)}
