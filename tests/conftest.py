"""Fixtures: real redis-server processes spawned for the test session, never a stand-in.

- ``redis_server``: the standalone server both aliases ("state", "cache") point at;
  flushed before every test.
- ``redis_cluster``: a local 3-master cluster, started on first use.
- ``spawn_redis``: extra servers a test may kill and restart (fault tests).
- ``cluster_with_replicas`` (3+3) and ``redis_sentinel`` (primary, replica, 3 sentinels):
  fresh per test, for failover tests.
- ``use_redis``: point the apps at another server or the cluster for one test.
- ``daphne_factory``: the whole project under real daphne processes against the test Redis;
  ``collected_static``: collectstatic once, for servers that serve static files the production way.
"""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test.utils import override_settings

from caching_app.devservers.asgi_servers import ROOT, AsgiServer
from caching_app.devservers.redis_servers import LocalCluster, LocalSentinel, RedisServerProcess, find_binary
from caching_app.foundation.connections import redis_connections


def pytest_report_header(config):
    return f"redis-server: {find_binary() or 'NOT FOUND'}"


_PROJECT_REDIS = copy.deepcopy(settings.WINKR_REDIS)
_SESSION_URL = ["redis://127.0.0.1:6379/0"]  # replaced by the spawned server's URL


def redis_settings(url: str | None = None, **options) -> dict:
    """The project's WINKR_REDIS with both aliases at ``url`` and ``options`` (shorter timeouts for tests)."""
    base = copy.deepcopy(_PROJECT_REDIS)
    for alias_options in base.values():
        alias_options["URL"] = url or _SESSION_URL[0]
        alias_options.update({"DIAL_TIMEOUT": 2.0, "READ_TIMEOUT": 2.0, "WRITE_TIMEOUT": 2.0, "MAX_RETRIES": 2})
        alias_options.update(options)
    return base


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServerProcess(tmp_path_factory.mktemp("redis-main")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _apps_use_test_redis(redis_server):
    _SESSION_URL[0] = redis_server.url
    # The channel layer derives its hosts from WINKR_REDIS, so this one override moves it too.
    override = override_settings(WINKR_REDIS=redis_settings(redis_server.url))
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _flush_redis(redis_server):
    import redis

    # Restart only a server that exited (a fault test killed it): a PING that is merely slow on a loaded machine
    # started a second process that could not bind, and the first one was left running after the session.
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    redis.Redis(port=redis_server.port).flushall()
    _forget_in_process_caches()
    yield
    _forget_in_process_caches()


def _forget_in_process_caches() -> None:
    """Primary keys are reused from test to test: no remembered answer about a user crosses tests."""
    from health_app.runner import anonymous_status, readiness_status
    from realtime_app.chat import indexed_partners
    from realtime_app.recipients import allowed_recipients
    from sessions_app.indexes import forget_legacy_state

    allowed_recipients.clear()
    indexed_partners.clear()
    anonymous_status.clear()
    readiness_status.clear()
    forget_legacy_state()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_with_replicas(tmp_path):
    """3 masters + 3 replicas, fresh for one (fault) test because the test breaks it."""
    cluster = LocalCluster(tmp_path / "cluster", masters=3, replicas=1).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_sentinel(tmp_path):
    """A primary, one replica and three sentinels, fresh for one (fault) test."""
    sentinel = LocalSentinel(tmp_path / "sentinel").start()
    yield sentinel
    sentinel.stop()


@pytest.fixture
def spawn_redis(tmp_path):
    """Start extra redis-server processes; all are stopped after the test."""
    started: list[RedisServerProcess] = []

    def spawn(*args: str, binary: str | None = None) -> RedisServerProcess:
        server = RedisServerProcess(tmp_path / f"redis{len(started)}", binary=binary, args=list(args))
        started.append(server.start())
        return server

    yield spawn
    for server in started:
        server.stop()


@pytest.fixture
def use_redis():
    """``with use_redis(url=..., MODE=..., CLUSTER_NODES=...):`` points both aliases elsewhere."""
    stack = contextlib.ExitStack()

    def use(url: str | None = None, **options):
        stack.enter_context(override_settings(WINKR_REDIS=redis_settings(url, **options)))
        return redis_connections

    yield use
    stack.close()


def project_server(base_dir: Path, redis_url: str, env: dict[str, str] | None = None) -> AsgiServer:
    """The project under daphne with the test settings, a SQLite file in ``base_dir`` and ``redis_url``."""
    return AsgiServer(base_dir, {"DATABASE_URL": f"sqlite:///{base_dir / 'db.sqlite3'}", "REDIS_URL": redis_url,
                                 **(env or {})}, settings_module="tests.settings")


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """collectstatic once per run (hashed names, gzip variants), as the Docker build does; pass it to a
    server as ``DJANGO_STATIC_ROOT`` to serve static files the production way."""
    root = tmp_path_factory.mktemp("static")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DJANGO_STATIC_ROOT": str(root),
           "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return root


@pytest.fixture
def daphne_factory(tmp_path, redis_server):
    """Start daphne processes of the project against the test Redis, or ``redis_url`` (a migrated SQLite
    file per ``base_dir``)."""
    started: list[AsgiServer] = []

    def start(env: dict[str, str] | None = None, base_dir: Path | None = None, redis_url: str | None = None
              ) -> AsgiServer:
        base_dir = base_dir or tmp_path
        base_dir.mkdir(parents=True, exist_ok=True)
        server = project_server(base_dir, redis_url or redis_server.url, env)
        if not (server.base_dir / "db.sqlite3").exists():
            server.migrate()
        started.append(server.start())
        return server

    start.started = started  # type: ignore[attr-defined]  # read by pytest_runtest_makereport below
    yield start
    for server in started:
        server.stop()


# How much of each server's log a failed test's report shows (its end: the part that explains the failure).
SERVER_LOG_TAIL = 6000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran daphne processes reports their logs: a CI run shows what the servers saw."""
    report = yield
    factory = getattr(item, "funcargs", {}).get("daphne_factory")
    if report.failed and report.when == "call" and factory is not None:
        for server in factory.started:
            text = server.log_path.read_text(errors="replace") if server.log_path.exists() else "(no log)"
            report.sections.append((f"{server.kind} on port {server.port}, log", text[-SERVER_LOG_TAIL:]))
    return report
