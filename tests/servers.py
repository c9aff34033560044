"""Real redis-server processes for the test suite: standalone servers and a local cluster."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from caching_app.embedded import RedisServerProcess, find_binary


class LocalCluster:
    """A Redis Cluster of ``masters`` masters (and ``replicas`` replicas each) on free ports."""

    def __init__(self, base_dir: Path, masters: int = 3, replicas: int = 0):
        self.base_dir = Path(base_dir)
        self.masters = masters
        self.replicas = replicas
        self.nodes: list[RedisServerProcess] = []

    @property
    def seeds(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.nodes]

    def start(self) -> LocalCluster:
        for index in range(self.masters * (1 + self.replicas)):
            node = RedisServerProcess(
                self.base_dir / f"node{index}",
                args=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                      "--cluster-node-timeout", "2000"],
            )
            self.nodes.append(node.start())
        cli = find_binary("redis-cli")
        subprocess.run(
            [cli, "--cluster", "create", *self.seeds, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        self.wait_ok()
        return self

    def wait_ok(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for node in self.nodes:
                if not node.is_up():
                    continue
                try:
                    info = redis.Redis(port=node.port, socket_timeout=1).cluster("info")
                except redis.RedisError:
                    states.append(False)
                    continue
                text = info if isinstance(info, str) else (
                    info.decode() if isinstance(info, bytes) else str(info))
                states.append("cluster_state:ok" in text or (isinstance(info, dict) and
                                                              info.get("cluster_state") == "ok"))
            if states and all(states):
                return
            time.sleep(0.1)
        raise RuntimeError("local cluster did not reach cluster_state:ok")

    def flush(self) -> None:
        for node in self.nodes:
            if node.is_up():
                try:
                    redis.Redis(port=node.port, socket_timeout=2).flushall()
                except redis.ResponseError:
                    pass  # replicas are read-only

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
