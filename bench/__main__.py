"""``python -m bench [--quick] [--only NAME] [--out DIR]``: run every bench/bench_*.py module.

Starts its own redis-server (PATH or the embedded wheel) and a fresh SQLite database, so
the figures never depend on whatever else a developer's Redis holds.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_modules(bench: Any, only: list[str]) -> list[str]:
    """Run every bench/bench_*.py module (or those named in ``only``); the failures, one line each."""
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    if only:
        names = [n for n in names if n.removeprefix("bench_") in only]
    failures = []
    for name in names:
        print(f"[bench] {name}", flush=True)
        started = time.monotonic()
        try:
            importlib.import_module(f"bench.{name}").run(bench)
        except Exception as exc:  # noqa: BLE001 - one broken module must not hide the others' figures
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"[bench] {name} FAILED: {exc!r}", flush=True)
            traceback.print_exc()
        bench.flush()
        print(f"[bench] {name} took {time.monotonic() - started:.1f}s", flush=True)
    return failures


def report_header(quick: bool, redis_version: str, load_before: tuple[float, ...], run_started: float) -> str:
    """What the run ran on, and how to read it."""
    return (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC{' (quick mode)' if quick else ''} on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"redis-server {redis_version} on loopback, "
        f"{'wrk' if shutil.which('wrk') else 'asyncio load client (wrk not installed)'} for the load test. "
        f"Load average (1 min) {load_before[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end: the "
        f"machine is shared, so absolute figures are noisy; ratios of ours against an anchor timed alternately "
        f"in the same run are the figures to read. Took {time.monotonic() - run_started:.0f} s. "
        f"Regenerate with `make bench`."
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small runs (used by the test suite)")
    parser.add_argument("--only", action="append", default=[], help="run only bench_<NAME>.py (repeatable)")
    parser.add_argument("--out", default=str(ROOT), help="where BENCHMARKS.md and charts/ go")
    options = parser.parse_args()

    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the finally blocks stop redis-server and daphne.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    from caching_app.devservers.redis_servers import RedisServerProcess

    run_started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="winkr-bench-"))
    server = RedisServerProcess(workdir / "redis").start()
    os.environ["REDIS_URL"] = server.url
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"  # never a caller's (e.g. the test suite's)
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)

        from bench.harness import Bench
        from caching_app.foundation.connections import get_redis

        out_dir = Path(options.out)
        charts = out_dir / "charts"
        charts.mkdir(parents=True, exist_ok=True)
        bench = Bench(redis_url=server.url, out_dir=charts, quick=options.quick)
        client = get_redis("state")
        client.ping()
        ping = bench.compare("Floor", "redis-py PING round trip", ours=client.ping, number=2000)
        bench.floor_us = ping.ours_median

        load_before = os.getloadavg()
        failures = run_modules(bench, options.only)
        header = report_header(options.quick, client.info("server").get("redis_version"), load_before, run_started)
        text = bench.report(header)
        if failures:
            text += "\n## Failed modules\n\n" + "\n".join(f"- {f}" for f in failures) + "\n"
        (out_dir / "BENCHMARKS.md").write_text(text)
        print(f"[bench] wrote {out_dir / 'BENCHMARKS.md'}")
        return 1 if failures else 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
