"""Real redis-server processes for the test suite: standalone servers and a local cluster."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from caching_app.devservers import RedisServerProcess, find_binary


def wait_replicas_caught_up(primary_port: int, timeout: float = 10.0) -> None:
    """Block until every replica of the server at ``primary_port`` has its whole replication stream.

    WAIT would not do: it only covers writes sent on the connection that calls it.
    """
    primary = redis.Redis(port=primary_port, socket_timeout=2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = primary.info("replication")
        offset = info.get("master_repl_offset", 0)
        replicas = [value for key, value in info.items() if key.startswith("slave") and isinstance(value, dict)]
        if replicas and all(replica.get("offset", -1) >= offset for replica in replicas):
            return
        time.sleep(0.05)
    raise RuntimeError(f"replicas of 127.0.0.1:{primary_port} did not catch up within {timeout}s")


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
                      "--cluster-node-timeout", "2000", "--cluster-replica-validity-factor", "0"],
            )
            self.nodes.append(node.start())
        cli = find_binary("redis-cli")
        subprocess.run(
            [cli, "--cluster", "create", *self.seeds, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        self.wait_ok()
        if self.replicas:
            self._wait_replicas_synced()
        return self

    def _wait_replicas_synced(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = []
            for node in self.nodes:
                info = redis.Redis(port=node.port, socket_timeout=1).info("replication")
                if info.get("role") == "slave":
                    links.append(info.get("master_link_status") == "up")
            if len(links) == self.masters * self.replicas and all(links):
                return
            time.sleep(0.1)
        raise RuntimeError("cluster replicas did not finish their initial sync")

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


class LocalSentinel:
    """A primary, ``replicas`` replicas and ``sentinels`` sentinels (quorum 2) on free ports."""

    def __init__(self, base_dir: Path, replicas: int = 1, sentinels: int = 3, service: str = "winkr-primary"):
        self.base_dir = Path(base_dir)
        self.replica_count = replicas
        self.sentinel_count = sentinels
        self.service = service
        self.primary: RedisServerProcess | None = None
        self.replicas: list[RedisServerProcess] = []
        self.sentinels: list[RedisServerProcess] = []

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.sentinels]

    def start(self) -> LocalSentinel:
        self.primary = RedisServerProcess(self.base_dir / "primary").start()
        for index in range(self.replica_count):
            replica = RedisServerProcess(
                self.base_dir / f"replica{index}", args=["--replicaof", "127.0.0.1", str(self.primary.port)]
            )
            self.replicas.append(replica.start())
        for index in range(self.sentinel_count):
            node_dir = self.base_dir / f"sentinel{index}"
            node_dir.mkdir(parents=True, exist_ok=True)
            sentinel = _SentinelProcess(node_dir, self.service, self.primary.port)
            self.sentinels.append(sentinel.start())
        self.wait_for(lambda: self._sentinels_agree(self.primary.port) and self._replicas_known())
        return self

    def _sentinel_clients(self) -> list[redis.Redis]:
        return [redis.Redis(port=node.port, socket_timeout=1) for node in self.sentinels if node.is_up()]

    def current_primary_port(self) -> int | None:
        for client in self._sentinel_clients():
            try:
                address = client.sentinel_get_master_addr_by_name(self.service)
            except redis.RedisError:
                continue
            if address:
                return int(address[1])
        return None

    def _sentinels_agree(self, port: int) -> bool:
        try:
            return all(
                int(client.sentinel_get_master_addr_by_name(self.service)[1]) == port
                for client in self._sentinel_clients()
            )
        except (redis.RedisError, TypeError):
            return False

    def _replicas_known(self) -> bool:
        try:
            return all(
                len(client.sentinel_slaves(self.service)) >= self.replica_count
                and client.sentinel_master(self.service).get("num-other-sentinels", 0) >= self.sentinel_count - 1
                for client in self._sentinel_clients()
            )
        except redis.RedisError:
            return False

    def wait_for(self, predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise RuntimeError("sentinel set-up did not reach the expected state in time")

    def all_servers(self) -> list[RedisServerProcess]:
        return [node for node in [self.primary, *self.replicas, *self.sentinels] if node is not None]

    def stop(self) -> None:
        for node in self.all_servers():
            node.stop()


class _SentinelProcess(RedisServerProcess):
    """``redis-server --sentinel`` with a config file it may rewrite."""

    def __init__(self, data_dir: Path, service: str, primary_port: int):
        super().__init__(data_dir)
        self.service = service
        self.primary_port = primary_port

    def command(self) -> list[str]:
        config = self.data_dir / "sentinel.conf"
        if not config.exists():
            config.write_text(
                f"port {self.port}\nbind 127.0.0.1\ndir {self.data_dir}\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {self.service} 1000\n"
                f"sentinel failover-timeout {self.service} 5000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
                f"logfile {self.data_dir / 'redis.log'}\n"
            )
        return [self.binary, str(config), "--sentinel"]
