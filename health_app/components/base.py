"""The contract every component check follows (after django-health-check v4's ``HealthCheck``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

HEALTHY = "healthy"
DEGRADED = "degraded"
UNHEALTHY = "unhealthy"
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}


def worst(statuses: Iterable[str]) -> str:
    """The most severe of ``statuses`` (healthy when there are none)."""
    return max(statuses, key=_RANK.__getitem__, default=HEALTHY)


class HealthCheckError(Exception):
    """Raised by a check to report its component unhealthy with a message for on-call."""


class HealthCheck:
    """Probe one component.

    ``run()`` returns the component's details as a JSON-serialisable dict; it may include
    ``"status": "degraded"`` (or ``"unhealthy"``) when the component answers but something is
    wrong. Raising any exception reports the component unhealthy with the exception as the
    ``error``. ``run()`` should bound its own I/O (the probe clients of
    :mod:`health_app.probes` have short socket timeouts); the runner also abandons a check that
    is still running at its deadline, so a hung dependency never hangs the endpoint.
    """

    name: ClassVar[str] = ""
    # Seconds before the runner gives up on this check; None: WINKR_HEALTH["TIMEOUT"].
    timeout: ClassVar[float | None] = None

    def run(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        # Never print configuration (URLs may carry passwords) in reprs or logs.
        return f"<{type(self).__name__} {self.name!r}>"
