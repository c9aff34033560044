"""Per-command counts, errors and latency of every Redis client the connection layer builds.

Figures live in prometheus-client metrics, so they are right across processes when
``PROMETHEUS_MULTIPROC_DIR`` is set (prometheus-client's multiprocess mode) and health_app
can export them as JSON or Prometheus text without a second bookkeeping system.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from caching_app.conf import caching_settings

COMMANDS = Counter("winkr_redis_commands", "Redis commands sent, per alias and command.", ["alias", "command"])
ERRORS = Counter(
    "winkr_redis_command_errors", "Redis commands that failed, per alias, command and error class.",
    ["alias", "command", "error"],
)
LATENCY = Histogram(
    "winkr_redis_command_seconds", "Redis command round-trip time, per alias.", ["alias"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# labels() costs a dict lookup and a lock; children are cached here because this runs
# on every command of every request.
_command_children: dict[tuple[str, str], Counter] = {}
_latency_children: dict[str, Histogram] = {}


def command_name(args: tuple) -> str:
    if not args:
        return "UNKNOWN"
    first = args[0]
    if isinstance(first, bytes):
        first = first.decode("ascii", "replace")
    return str(first).split(" ", 1)[0].upper()


def record(alias: str, command: str, seconds: float, error: BaseException | None = None) -> None:
    if not caching_settings.COMMAND_METRICS:
        return
    key = (alias, command)
    counter = _command_children.get(key)
    if counter is None:
        counter = _command_children[key] = COMMANDS.labels(alias, command)
    counter.inc()
    latency = _latency_children.get(alias)
    if latency is None:
        latency = _latency_children[alias] = LATENCY.labels(alias)
    latency.observe(seconds)
    if error is not None:
        ERRORS.labels(alias, command, type(error).__name__).inc()
