"""A real daphne server process serving the whole project on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from caching_app.devservers import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


class DaphneServer:
    def __init__(self, base_dir: Path, redis_url: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.base_dir = base_dir
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{base_dir / 'db.sqlite3'}",
            "REDIS_URL": redis_url,
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def migrate(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True)

    def start(self, timeout: float = 30.0) -> DaphneServer:
        log = open(self.base_dir / f"daphne-{self.port}.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "winkr.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.base_dir / f"daphne-{self.port}.log").read_text()[-3000:])
            try:
                urllib.request.urlopen(f"{self.url}/health/liveness", timeout=1)  # noqa: S310
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("daphne did not start in time")

    def stop(self) -> None:
        stop_process(self.process)


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
    """Start daphne processes of the project against the test Redis (a migrated SQLite file each)."""
    started: list[DaphneServer] = []

    def start(env: dict[str, str] | None = None, base_dir: Path | None = None) -> DaphneServer:
        server = DaphneServer(base_dir or tmp_path, redis_server.url, env)
        if not (server.base_dir / "db.sqlite3").exists():
            server.migrate()
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()
