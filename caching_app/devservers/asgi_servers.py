"""The whole project under a real ASGI server process (daphne, uvicorn or granian), for the tests and benchmarks.

Everything binds to 127.0.0.1 on free ports; the child is stopped (SIGTERM, then SIGKILL) by ``stop``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .redis_servers import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]  # the project: manage.py, winkr/


# How each ASGI server is started: one process, one worker, HTTP and WebSockets, access log off where it is
# an option (daphne writes one only at -v 1 and up), the project's own application object.
SERVER_COMMANDS = {
    "daphne": ["-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", "{port}", "winkr.asgi:application"],
    "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1", "--no-access-log",
                "--log-level", "warning", "--ws", "websockets", "winkr.asgi:application"],
    "granian": ["-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
                "--ws", "--log-level", "warning", "--no-access-log", "winkr.asgi:application"],
}


def server_available(kind: str) -> bool:
    """Whether the ``servers`` extra installed this server (daphne is a dependency)."""
    import importlib.util

    return importlib.util.find_spec(kind) is not None


class AsgiServer:
    """The whole project under one server process on a free port, with the given settings module (the
    tests' or the benchmarks', whose URLconf adds a bare view) and environment."""

    def __init__(self, log_dir: Path, env: dict[str, str], kind: str = "daphne", *,
                 settings_module: str = "bench.settings", application: str = "winkr.asgi:application"):
        if kind not in SERVER_COMMANDS:
            msg = f"unknown ASGI server {kind!r}: one of {sorted(SERVER_COMMANDS)}"
            raise ValueError(msg)
        self.kind = kind
        self.application = application
        self.port = free_port()
        self.base_dir = Path(log_dir)
        self.log_path = self.base_dir / f"{kind}-{self.port}.log"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(ROOT), **env}
        self.process: subprocess.Popen | None = None

    def migrate(self) -> None:
        """``manage.py migrate`` with this server's settings and environment (its database)."""
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, timeout: float = 30.0) -> AsgiServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child process keeps it; closed with it
        command = [arg.format(port=self.port) for arg in SERVER_COMMANDS[self.kind][:-1]] + [self.application]
        self.process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"{self.kind} exited: {self.log_path.read_text()[-3000:]}"
                raise RuntimeError(msg)
            try:
                urllib.request.urlopen(f"{self.url}/health/liveness", timeout=1)  # noqa: S310 - loopback
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        msg = f"{self.kind} did not start in time"
        raise RuntimeError(msg)

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server process and its children (granian's worker runs in one).

        Linux /proc only (0.0 elsewhere).
        """
        if self.pid is None:
            return 0.0
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if stat.parent.name == str(self.pid) or fields[1] == str(self.pid):  # fields[1]: the parent pid
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
