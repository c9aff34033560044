"""``python bench/capacity.py [--out DIR]``: the capacity model, printed as Markdown from measured inputs.

Inputs: ``bench/out/capacity.json`` (bench_capacity: bytes per entity over a 100,000-user population,
commands and round trips per request type) and ``bench/out/distribution.json`` (bench_distribution: how
unevenly the 3-master cluster was loaded). ``make bench`` regenerates both; this script only does the
arithmetic, with every assumption named below, so a reader can change one and re-run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

# --- the activity profile (assumptions, not measurements) -------------------------------------------------
USERS = (1_000_000, 10_000_000)
LOGGED_IN = 0.6  # share of registered users holding a device session (active within SESSION_TTL, 14 days)
DEVICES = 1.5  # device sessions per logged-in user
ONLINE_PEAK = 0.10  # share of registered users with an open socket at the daily peak
REVOKED_ALIVE = 0.02  # revoked-token markers alive at once, per registered user (each lives <= 15 min)
MESSAGES_PER_ACTIVE_DAY = 5  # chat messages a logged-in user sends per day
CHAT_RETENTION_DAYS = 90  # CHAT_STREAM_TTL (streams are also capped at CHAT_STREAM_MAXLEN=1000 messages)
CONVERSATIONS = 10  # conversations per logged-in user (each costs its partner-index entries)
CLIENT_ID_TTL = 3600  # s a chat message's client-id key lives (CLIENT_ID_TTL): messages of the last hour hold one
CACHED_PROFILES = 0.20  # share of registered users whose profile is in the cache (TTL 15 min) at the peak
# Per online user at the peak:
REQUEST_EVERY = 10.0  # s between authenticated GETs
HEARTBEAT_EVERY = 20.0  # s, HEARTBEAT_INTERVAL
MESSAGE_EVERY = 120.0  # s between chat messages sent
REFRESH_EVERY = 900.0  # s, ACCESS_TOKEN_TTL: one refresh per access token lifetime
LOGINS_PER_ACTIVE_DAY = 0.3  # logins (new device or expired session) per logged-in user per day
PEAK_FACTOR = 3.0  # logins/s at the peak against the daily mean
# --- per-master budget (assumptions) ----------------------------------------------------------------------
MEMORY_BUDGET_GB = 25.0  # used_memory per master: a 32 GB host, leaving room for fork copy-on-write and buffers
COMMANDS_BUDGET = 100_000  # executed commands/s per master (Lua-internal ones included), about half of what
# one Redis core runs of such small commands, so a master keeps headroom for a failover's extra load
OVERHEAD = 1.25  # allocator fragmentation and per-key dict overhead over MEMORY USAGE (mem_fragmentation_ratio)


def load(out: Path) -> tuple[dict, dict]:
    capacity = json.loads((out / "capacity.json").read_text())
    distribution = json.loads((out / "distribution.json").read_text())
    return capacity, distribution


def imbalance(distribution: dict) -> float:
    """Busiest master's commands over the mean, measured with the default INDEX_BUCKETS=16."""
    calls = [master["commandstats_calls"] for master in distribution["16"]["masters"]]
    return max(calls) / (sum(calls) / len(calls))


def request(capacity: dict, prefix: str) -> dict:
    return next(value for name, value in capacity["requests"].items() if name.startswith(prefix))


def model(users: int, capacity: dict, skew: float) -> dict:
    memory = capacity["memory"]
    logged_in = users * LOGGED_IN
    online = users * ONLINE_PEAK
    stored_messages = logged_in * MESSAGES_PER_ACTIVE_DAY * CHAT_RETENTION_DAYS
    parts = {
        "sessions": logged_in * memory["logged_in_user"]["bytes"]
        + logged_in * (DEVICES - 1) * memory["device_session"]["bytes"],
        "presence": online * memory["online_user"]["bytes"],
        "revocations": users * REVOKED_ALIVE * memory["revoked_token"]["bytes"],
        "chat": stored_messages * memory["chat_message"]["bytes"]
        + logged_in * CONVERSATIONS * memory["chat_message"]["conversation_fixed_bytes"] / 2
        + online / MESSAGE_EVERY * CLIENT_ID_TTL * memory["chat_message"]["client_id_key_bytes_transient"],
        "cache": users * CACHED_PROFILES * memory["cached_profile"]["bytes"],
    }
    total_bytes = sum(parts.values()) * OVERHEAD
    rates = {  # per second at the peak: (request type prefix, how many per second)
        "GET": (request(capacity, "authenticated GET"), online / REQUEST_EVERY),
        "heartbeat": (request(capacity, "socket heartbeat"), online / HEARTBEAT_EVERY),
        "chat": (request(capacity, "chat message"), online / MESSAGE_EVERY),
        "refresh": (request(capacity, "token refresh"), online / REFRESH_EVERY),
        "login": (request(capacity, "login"), logged_in * LOGINS_PER_ACTIVE_DAY / 86400 * PEAK_FACTOR),
    }
    commands = sum(figures["commands_executed"] * rate for figures, rate in rates.values())
    trips = sum(figures["round_trips"] * rate for figures, rate in rates.values())
    by_memory = math.ceil(total_bytes / (MEMORY_BUDGET_GB * 1e9) * skew)
    by_commands = math.ceil(commands / COMMANDS_BUDGET * skew)
    masters = max(3, by_memory, by_commands)
    index_entries = logged_in * DEVICES
    return {
        "users": users, "parts_gb": {name: value * OVERHEAD / 1e9 for name, value in parts.items()},
        "memory_gb": total_bytes / 1e9, "commands": commands, "round_trips": trips,
        "by_memory": by_memory, "by_commands": by_commands, "masters": masters,
        "memory_per_master_gb": total_bytes / 1e9 / masters * skew,
        "commands_per_master": commands / masters * skew, "round_trips_per_master": trips / masters * skew,
        "largest_bucket_mb": index_entries / 16 * memory["device_session"]["sessions_bucket_entry"] / 1e6,
        "bucket_writes": online / HEARTBEAT_EVERY / 16,
    }


def table(capacity: dict, distribution: dict) -> str:
    skew = imbalance(distribution)
    rows = [model(users, capacity, skew) for users in USERS]
    m = capacity["memory"]
    lines = [
        f"Measured inputs ({m['population_users']:,}-user population; bytes from MEMORY USAGE): logged-in user "
        f"{m['logged_in_user']['bytes']} B, extra device session {m['device_session']['bytes']} B, online user "
        f"{m['online_user']['bytes']} B, revoked token {m['revoked_token']['bytes']} B, chat message "
        f"{m['chat_message']['bytes']} B (+{m['chat_message']['conversation_fixed_bytes']} B per conversation), "
        f"cached profile {m['cached_profile']['bytes']} B. Busiest master / mean on the 3-master cluster: "
        f"{skew:.2f}x.", "",
        "| Redis commands per request | executed (incl. inside Lua) | round trips |", "|---|---|---|",
    ]
    for name, figures in capacity["requests"].items():
        lines.append(f"| {name} | {figures['commands_executed']:g} | {figures['round_trips']:g} |")
    lines += ["", "| | " + " | ".join(f"{row['users']:,} users" for row in rows) + " |",
              "|---|" + "---|" * len(rows)]

    def add(label: str, fmt) -> None:  # noqa: ANN001
        lines.append(f"| {label} | " + " | ".join(fmt(row) for row in rows) + " |")

    add("memory: sessions / presence / revocations / chat / cache (GB)",
        lambda r: " / ".join(f"{value:.2f}" for value in r["parts_gb"].values()))
    add(f"memory in all (GB, x{OVERHEAD} allocator overhead)", lambda r: f"{r['memory_gb']:.1f}")
    add("executed commands/s at the peak (round trips/s)",
        lambda r: f"{r['commands']:,.0f} ({r['round_trips']:,.0f})")
    add(f"masters for memory ({MEMORY_BUDGET_GB:g} GB each) / for commands ({COMMANDS_BUDGET:,}/s each)",
        lambda r: f"{r['by_memory']} / {r['by_commands']}")
    add("**masters needed** (at least 3)", lambda r: f"**{r['masters']}**")
    add("busiest master: memory (GB) / commands/s / round trips/s",
        lambda r: f"{r['memory_per_master_gb']:.1f} / {r['commands_per_master']:,.0f} / "
                  f"{r['round_trips_per_master']:,.0f}")
    add("largest all-sessions index bucket (MB) / ZADDs/s into one online bucket",
        lambda r: f"{r['largest_bucket_mb']:.0f} / {r['bucket_writes']:,.0f}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/capacity.py")
    parser.add_argument("--out", default=str(OUT), help="where capacity.json and distribution.json are")
    options = parser.parse_args()
    try:
        capacity, distribution = load(Path(options.out))
    except FileNotFoundError as exc:
        print(f"missing input ({exc.filename}): run `make bench` (or python -m bench --only capacity "
              "--only distribution) first", file=sys.stderr)
        return 1
    print(table(capacity, distribution), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
