"""Run health checks concurrently, each in its own thread with a deadline.

redis-py has no per-call deadline for a whole operation (connect + retries + reads), and a
sync Django view cannot cancel blocking I/O, so each check runs in a daemon thread that the
runner stops waiting for at the deadline. The probe clients' short socket timeouts make sure
the abandoned thread ends soon after.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import connections

from .components.base import HEALTHY, UNHEALTHY, HealthCheck, worst
from .conf import health_settings, import_checks
from .singleflight import SingleFlight

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _spawn(func: Callable[[], Any], name: str) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``func`` in a daemon thread; its value or exception lands in the returned dict."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func()
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which reports or re-raises it
            outcome["error"] = exc
        finally:
            connections.close_all()  # this thread's own DB connections, if the check opened any

    thread = threading.Thread(target=target, name=f"winkr-health-{name}", daemon=True)
    thread.start()
    return thread, outcome


def call_with_deadline(func: Callable[[], T], timeout: float, name: str = "call") -> T:
    """Return ``func()``, or raise TimeoutError if it has not finished after ``timeout`` seconds."""
    thread, outcome = _spawn(func, name)
    thread.join(timeout)
    if thread.is_alive():
        msg = f"no answer within {timeout:g}s"
        raise TimeoutError(msg)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _result(check: HealthCheck, elapsed: float, details: Any, error: BaseException | None) -> dict[str, Any]:
    if error is not None:
        logger.warning("Health check %s failed: %s", check.name, _describe_error(error))
        body: dict[str, Any] = {"status": UNHEALTHY, "error": _describe_error(error)}
    else:
        details = dict(details or {})
        body = {"status": details.pop("status", HEALTHY), **details}
    body["duration_ms"] = round(elapsed * 1000, 2)
    return body


def run_checks(checks: Iterable[HealthCheck]) -> dict[str, dict[str, Any]]:
    """Run ``checks`` in parallel; each result is ``{"status": ..., ...details, "duration_ms": ...}``."""
    default_timeout = float(health_settings.TIMEOUT)
    pending = []
    for check in checks:
        timeout = check.timeout if check.timeout is not None else default_timeout
        started = time.monotonic()
        thread, outcome = _spawn(check.run, check.name)
        pending.append((check, thread, outcome, started, timeout))

    results: dict[str, dict[str, Any]] = {}
    for check, thread, outcome, started, timeout in pending:
        thread.join(max(0.0, started + timeout - time.monotonic()))
        if thread.is_alive():
            error: BaseException | None = TimeoutError(f"no answer within {timeout:g}s")
        else:
            error = outcome.get("error")
        results[check.name] = _result(check, time.monotonic() - started, outcome.get("value"), error)
    return results


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def health_report(names: Iterable[str] | None = None) -> dict[str, Any]:
    """The original design's document: ``{"status", "timestamp", "components": {...}}``."""
    classes = import_checks("CHECKS")
    if names is not None:
        wanted = set(names)
        classes = [cls for cls in classes if cls.name in wanted]
    components = run_checks(cls() for cls in classes)
    return {
        "status": worst(result["status"] for result in components.values()),
        "timestamp": timestamp(),
        "components": components,
    }


def _anonymous_status() -> dict[str, Any]:
    report = health_report()
    return {"status": report["status"], "timestamp": report["timestamp"]}


# One per process: the status every anonymous caller of /health gets (see singleflight.py).
anonymous_status = SingleFlight(_anonymous_status, lambda: float(health_settings.ANONYMOUS_STATUS_INTERVAL or 0))


def readiness_report() -> dict[str, Any]:
    components = run_checks(cls() for cls in import_checks("READINESS_CHECKS"))
    return {
        "status": worst(result["status"] for result in components.values()),
        "timestamp": timestamp(),
        "components": components,
    }


def _readiness_statuses() -> dict[str, Any]:
    report = readiness_report()
    # Statuses only: the endpoint is open, and errors name hosts and ports.
    return {"status": report["status"], "timestamp": report["timestamp"],
            "components": {name: result["status"] for name, result in report["components"].items()}}


# Readiness is open and polled too: shared the same way.
readiness_status = SingleFlight(_readiness_statuses, lambda: float(health_settings.ANONYMOUS_STATUS_INTERVAL or 0))


def check_names() -> list[str]:
    return [cls.name for cls in import_checks("CHECKS")]
