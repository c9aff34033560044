"""Load generation against a server on loopback: wrk when installed, else a small asyncio client.

wrk (Debian package ``wrk``) is the real load generator; the asyncio fallback exists so
``make bench`` still produces load figures on a machine that has only Python. Both are
bounded in time and in connections, and only ever target 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    tool: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class RequestSpec:
    path: str
    headers: dict[str, str]


_WRK_SCRIPT = """
local requests = {}
local counter = 0
local specs = %s
function init(args)
  for i, spec in ipairs(specs) do
    requests[i] = wrk.format("GET", spec.path, spec.headers)
  end
end
function request()
  counter = counter + 1
  return requests[(counter %% #requests) + 1]
end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("WINKR %%d %%d %%f %%f %%f\\n", summary.requests, errors, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def _lua_table(specs: list[RequestSpec]) -> str:
    def lua_str(value: str) -> str:
        return json.dumps(value)  # JSON string escapes are valid Lua string escapes for our ASCII input

    items = []
    for spec in specs:
        headers = ", ".join(f"[{lua_str(k)}] = {lua_str(v)}" for k, v in spec.headers.items())
        items.append(f"{{ path = {lua_str(spec.path)}, headers = {{ {headers} }} }}")
    return "{ " + ", ".join(items) + " }"


def run_wrk(base_url: str, specs: list[RequestSpec], *, seconds: float, connections: int, threads: int = 1
            ) -> LoadResult:
    assert urlsplit(base_url).hostname in ("127.0.0.1", "localhost"), "load tests target loopback only"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % _lua_table(specs))
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, int(seconds))}s", "--timeout", "5s",
         "-s", script.name, base_url],
        capture_output=True, text=True, timeout=seconds + 60,
    )
    Path(script.name).unlink(missing_ok=True)
    match = re.search(r"WINKR (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out.stdout)
    if not match:
        msg = f"wrk output not understood: {out.stdout[-500:]} {out.stderr[-500:]}"
        raise RuntimeError(msg)
    requests, errors, duration, p50, p99 = match.groups()
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    return LoadResult("wrk", int(requests), int(errors) + (int(non_2xx.group(1)) if non_2xx else 0),
                      float(duration), float(p50), float(p99))


async def _client(host: str, port: int, specs: list[RequestSpec], deadline: float, offset: int,
                  latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = offset
    try:
        while time.monotonic() < deadline:
            spec = specs[index % len(specs)]
            index += 1
            head = "".join(f"{k}: {v}\r\n" for k, v in spec.headers.items())
            started = time.perf_counter()
            writer.write(f"GET {spec.path} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode())
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if not status_line.split(b" ")[1].startswith(b"2"):
                errors.append(1)
    finally:
        writer.close()


def run_python(base_url: str, specs: list[RequestSpec], *, seconds: float, connections: int) -> LoadResult:
    parts = urlsplit(base_url)
    assert parts.hostname in ("127.0.0.1", "localhost"), "load tests target loopback only"
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(_client(parts.hostname, parts.port, specs, deadline, i, latencies, errors)
                               for i in range(connections)))
        return time.monotonic() - started

    duration = asyncio.run(main())
    ordered = sorted(latencies) or [0.0]
    return LoadResult("python-asyncio", len(latencies), len(errors), duration, statistics.median(ordered),
                      ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))])


_warned = False


def load_generator() -> str:
    """``"wrk"``, or the fallback's name (said once on stderr: its figures are not comparable)."""
    global _warned
    if shutil.which("wrk"):
        return "wrk"
    if not _warned:
        _warned = True
        print("[bench] wrk not found (apt-get install wrk): load figures come from the asyncio fallback client, "
              "which shares the CPU with the server under test", file=sys.stderr, flush=True)
    return "python-asyncio (wrk not installed)"


def run_load(base_url: str, specs: list[RequestSpec], *, seconds: float, connections: int) -> LoadResult:
    if load_generator() == "wrk":
        return run_wrk(base_url, specs, seconds=seconds, connections=connections)
    return run_python(base_url, specs, seconds=seconds, connections=connections)
