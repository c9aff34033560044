"""Static files from daphne itself: API requests are no slower with the static middleware in the stack.

The same project under daphne three ways, alternating, ``rounds`` times each: without a static-files
middleware, with servestatic's (async, the project's choice) and with whitenoise's (sync only: under ASGI
Django runs it, and the rest of the chain, across a thread hop). Workload: a JWT-authenticated
``GET /api/auth/me/`` (revocation check, throttles) and the bare APIView; then a hashed, gzip-compressed
admin stylesheet from the two libraries. Files are collected once, as the Docker build does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_load import login, make_users
from bench.loadgen import RequestSpec, run_load
from caching_app.devservers.asgi_servers import ROOT, AsgiServer

VARIANTS = ("none", "servestatic", "whitenoise")


def variants() -> tuple[str, ...]:
    """whitenoise comes with the ``bench`` extra; without it the comparison runs without that column."""
    try:
        import whitenoise  # noqa: F401
    except ImportError:
        return VARIANTS[:2]
    return VARIANTS


def collect(static_root: Path, env: dict[str, str]) -> str:
    """collectstatic into ``static_root``; the hashed name of the admin's base.css."""
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True,
                   env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings", "DJANGO_STATIC_ROOT": str(static_root)})
    return json.loads((static_root / "staticfiles.json").read_text())["paths"]["admin/css/base.css"]


def run(bench) -> None:
    import os

    seconds = 1 if bench.quick else 4
    rounds = 1 if bench.quick else 3
    connections = 8
    group = "Static files"
    workdir = Path(tempfile.mkdtemp(prefix="winkr-bench-static-"))
    static_root = workdir / "static"
    env = {"REDIS_URL": os.environ["REDIS_URL"], "DATABASE_URL": os.environ["DATABASE_URL"],
           "DJANGO_STATIC_ROOT": str(static_root)}
    stylesheet = "/static/" + collect(static_root, {**os.environ, **env})
    make_users(1)

    names = variants()
    servers = {name: AsgiServer(workdir, {**env, "WINKR_BENCH_STATIC": name}).start() for name in names}
    try:
        headers = {"Authorization": f"Bearer {login(servers['none'].url, 0)}", "Accept": "application/json"}
        api = [RequestSpec("/api/auth/me/", headers)]
        bare = [RequestSpec("/bench/bare/", {"Accept": "application/json"})]
        css = [RequestSpec(stylesheet, {"Accept-Encoding": "gzip"})]
        best: dict[tuple[str, str], float] = {}
        errors = 0
        for _ in range(rounds):
            for name in names:
                for label, specs in (("api", api), ("bare", bare)) + ((("css", css),) if name != "none" else ()):
                    result = run_load(servers[name].url, specs, seconds=seconds, connections=connections)
                    errors += result.errors
                    best[(name, label)] = max(best.get((name, label), 0.0), result.rps)
    finally:
        for server in servers.values():
            server.stop()

    for label, what in (("api", "JWT GET /api/auth/me/"), ("bare", "bare APIView")):
        for name in names:
            bench.figure(group, f"{what}, {name}: requests/s (best of {rounds})", round(best[(name, label)]), "req/s")
    ratio = best[("servestatic", "api")] / best[("none", "api")]
    bench.figure(group, "API requests/s with servestatic / without a static middleware", round(ratio, 2), "x",
                 target=">= 0.95 (no slower, within noise)", met=ratio >= 0.95)
    if "whitenoise" in names:
        bench.figure(group, "API requests/s with whitenoise / without",
                     round(best[("whitenoise", "api")] / best[("none", "api")], 2), "x")
    for name in names[1:]:
        bench.figure(group, f"hashed admin base.css (gzip), {name}: requests/s", round(best[(name, "css")]), "req/s")
    bench.figure(group, "non-2xx or socket errors", errors, "requests", target="0", met=errors == 0)
