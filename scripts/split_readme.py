# ruff: noqa: E501, E741  (a one-off migration script: long Markdown literals)
"""One-off: split the long README.md into docs/ pages (the move of issue 20).

Rerun it on a README that still has the per-app sections (python3 scripts/split_readme.py), then delete it.
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
text = (ROOT / "README.md").read_text()
lines = text.splitlines()

# Top-level (##) sections, outside code fences.
sections, fence, current = {}, False, "_head"
sections[current] = []
for line in lines:
    if line.startswith("```"):
        fence = not fence
    if not fence and line.startswith("## "):
        current = line[3:].strip()
        sections[current] = []
    sections[current].append(line)


def body(name: str) -> list[str]:
    return sections[name][1:]


def demote(block: list[str]) -> list[str]:
    out, fence = [], False
    for line in block:
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"^#{3,6} ", line):
            line = line[1:]
        out.append(line)
    return out


def strip_blank(block):
    while block and not block[0].strip():
        block = block[1:]
    while block and not block[-1].strip():
        block = block[:-1]
    return block


def fix_links(block, depth):
    return [l.replace("[BENCHMARKS.md](BENCHMARKS.md)", "`BENCHMARKS.md` (repository root)").replace("](docs/img/", "](" + ("../" * (depth - 1)) + "img/")
            for l in block]


def section_split(name, sub):
    """(before the ### sub heading, from it on) of section name."""
    block = body(name)
    fence = False
    for i, line in enumerate(block):
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith(f"### {sub}"):
            return block[:i], block[i:]
    raise KeyError(sub)



DOCS = ROOT / "docs"
(DOCS / "apps").mkdir(parents=True, exist_ok=True)
(DOCS / "reference").mkdir(parents=True, exist_ok=True)


def write(rel, parts):
    out = []
    for part in parts:
        if isinstance(part, str):
            part = part.strip("\n").splitlines()
        out.extend(strip_blank(part) + [""])
    path = DOCS / rel
    depth = rel.count("/") + 1
    path.write_text("\n".join(fix_links(out, depth)).rstrip() + "\n")


APPS = {}
APPS["caching_app"] = ("caching_app: the Redis connection layer, keys and caches", """
The one Redis connection layer every other app uses (`caching_app.connections.get_redis(alias)` /
`get_async_redis(alias)`), the key builder (`caching_app.keys.make_key`), Django's cache on the same clients,
and a cache API with per-kind TTLs, group invalidation without SCAN, stampede protection and warming.

## Add it to your project in three steps

1. `INSTALLED_APPS += ["caching_app"]`
2. One setting, the Redis aliases: `WINKR_REDIS = {"state": {"URL": "redis://127.0.0.1:6379/0"},
   "cache": {"URL": "redis://127.0.0.1:6379/0", "EVICTION_ALLOWED": True}}` (winkr's `settings.py` builds it
   from the environment: [Settings](../settings.md)). Optionally `WINKR_CACHING` (below).
3. No URLs. For Django's cache on the same clients: `CACHES = {"default": {"BACKEND":
   "django_redis.cache.RedisCache", "LOCATION": "winkr://cache", "OPTIONS": {"CONNECTION_FACTORY":
   "caching_app.django_redis.ConnectionFactory"}}}`.

## Settings

| `WINKR_CACHING` key | Default | Meaning |
|---|---|---|
| `KEY_PREFIX` | `"winkr"` (`WINKR_KEY_PREFIX`) | First part of every key any app writes. |
| `TTLS` | per kind (`CACHE_*_TTL`) | Fresh lifetime of `user_profile`, `photo_metadata`, `match_recommendations`, `api_response`, `geospatial`. |
| `ENABLED` | `True` | Off: every read is a miss, nothing is written. |
| `ALIAS`, `GEO_ALIAS` | `"cache"` | Aliases of the cache entries and of the GEO index. |
| `SERIALIZER` | `"json"` (`CACHE_SERIALIZER`) | `json` or `msgpack`; never pickle. |
| `COMPRESS_MIN_BYTES`, `COMPRESS_LEVEL` | `2048`, `6` | zlib above this size. |
| `TTL_JITTER` | `0.1` | Downward jitter of fresh lifetimes. |
| `STALE_GRACE` | `30` | Seconds an expired value is still served while one caller recomputes. |
| `LOCK_TIMEOUT`, `LOCK_WAIT` | `10.0`, `2.0` | Stampede lock lifetime; how long others wait for it. |
| `COMMAND_METRICS` | `True` | Per-command counts, errors and latency (prometheus-client). |
| `WARMERS` | `{}` | Kind → dotted path of a `caching_app.warming.Warmer`, for `manage.py warm_cache`. |

The connection keys of each `WINKR_REDIS` alias are listed in [Settings](../settings.md).

## Failure behaviour

Connection errors and timeouts are retried with jittered backoff (`REDIS_MAX_RETRIES`); a restarted Redis is
picked up without restarting Django. On the `cache` alias a Redis error is logged, counted
(`winkr_cache_errors`) and becomes a miss: views answer from the database; writes are best effort. Django's
cache runs with `IGNORE_EXCEPTIONS`. Errors of the `state` alias surface to the app that owns the data (503s).

## Redis keys

Every key is `<prefix>:<namespace>[:{<tag>}]:<part>...`, built only by `make_key`, which escapes user input;
the `{tag}` is the Cluster hash tag for keys used together.

| Key | Alias | What |
|---|---|---|
| `winkr:cache:{<group>}:<kind>:<parts>` | cache | A cached value (TTL: fresh lifetime + `STALE_GRACE`). |
| `winkr:cachegen:{<group>}` | cache | The group's generation token (invalidating a group is one SET). |
| `winkr:cachelock:{<group>}:<kind>:<parts>` | cache | Stampede lock (`LOCK_TIMEOUT`). |
| `winkr:geo:{...}:locations`, `...:updated` | cache | GEO index of user locations and their update times. |
""", ["caching_app: caches, invalidation, warming, geo"], ["caching_app.connections", "caching_app.keys",
      "caching_app.service", "caching_app.decorators", "caching_app.drf", "caching_app.geo", "caching_app.warming"])

APPS["sessions_app"] = ("sessions_app: device sessions, online status and JWT logout", """
Django sessions in Redis that know every device a user is logged in on, online status, and (the nested app
`sessions_app.jwt`) simplejwt tokens whose logout takes effect at once.

## Add it to your project in three steps

1. `INSTALLED_APPS += ["caching_app", "sessions_app", "sessions_app.jwt"]`
2. One setting: `SESSION_ENGINE = "sessions_app.backends.redis"` (with `sessions_app.middleware.SessionMiddleware`
   in place of Django's; for JWT, `sessions_app.jwt.authentication.RedisJWTAuthentication` first in DRF's
   `DEFAULT_AUTHENTICATION_CLASSES` and `sessions_app.jwt.middleware.JWTRevocationMiddleware` after
   `AuthenticationMiddleware`).
3. URLs: `path("api/", include("sessions_app.urls"))` and `path("api/auth/", include("sessions_app.jwt.urls"))`.

## Settings

`WINKR_SESSIONS`: the table at the end of the [reference](#reference) below; `WINKR_JWT`: the table in
[JWT logout](#jwt-logout); environment variables in [Settings](../settings.md).

## Failure behaviour

Redis down: requests that need the session get 503 JSON `{"detail", "code": "session_store_unavailable"}`
(never a 500), and the next request works again once Redis is back. A bearer token cannot be checked: 503
`revocation_unavailable`, or with `JWT_FAIL_OPEN` the request passes on signature and expiry (logged and
counted). Corrupt session data or a tampered cookie gives an empty session.

## Redis keys

All on the `state` alias (must never be evicted):

| Key | What |
|---|---|
| `winkr:session:{<user>}:s:<random>` | A logged-in session's hash (data, expiry, device record). |
| `winkr:session:{<user>}:u` | The user's device index (sorted set, id → expiry). |
| `winkr:presence:{<user>}:c`, `winkr:presence:{<user>}:seen` | Open connections (heartbeats) and last seen. |
| `winkr:session:{global}:all`, `winkr:presence:{global}:online` | All device sessions; online users (sorted sets). |
| `winkr:jwt:{<user>}:t:<jti>`, `:s:<sid>`, `:before` | Revoked token, revoked device session, "everything before T". |
""", ["sessions_app", "JWT logout"], ["sessions_app.services", "sessions_app.backends.redis",
      "sessions_app.jwt.blacklist", "sessions_app.jwt.authentication", "sessions_app.jwt.websocket"])

APPS["ratelimit_app"] = ("ratelimit_app: exact rate limits", """
Exact sliding-window rate limits in Redis as DRF throttles: one Lua script call per check.

## Add it to your project in three steps

1. `INSTALLED_APPS += ["caching_app", "ratelimit_app"]`
2. One setting: `REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["ratelimit_app.throttling.AnonRateThrottle",
   "ratelimit_app.throttling.UserRateThrottle", "ratelimit_app.throttling.ScopedRateThrottle"]` (rates in
   `WINKR_RATELIMIT["RATES"]`).
3. URLs (optional, the status endpoint): `path("api/", include("ratelimit_app.urls"))`.

## Settings

The environment variables and `WINKR_RATELIMIT` keys are in the tables of the [reference](#reference) below.

## Failure behaviour

Redis down: scopes fail open (allowed, logged, counted in `winkr_ratelimit_redis_errors`) except those in
`FAIL_CLOSED_SCOPES` (default `login`), which answer 503 `{"code": "ratelimit_unavailable", "scope"}`.
Recovery needs no restart; scripts reload themselves after `SCRIPT FLUSH` or a restart.

## Redis keys

`winkr:rl:{<client key>}:<endpoint>:<key type>:<algorithm>:<limit>:<window ms>` on the `state` alias: a sorted
set (sliding log, at most `limit` members) or two counters (sliding window), expiring with the window. Every key
of one check shares the client's hash tag.
""", ["ratelimit_app"], ["ratelimit_app.limiter", "ratelimit_app.throttling"])

APPS["realtime_app"] = ("realtime_app: chat and notifications over WebSockets", """
Chat and notifications over Channels, with Redis Streams as the record, so a phone that dropped its
connection gets exactly what it missed.

## Add it to your project in three steps

1. `INSTALLED_APPS += ["channels", "caching_app", "sessions_app", "sessions_app.jwt", "realtime_app"]`
2. One setting, the channel layer on the Redis aliases: `CHANNEL_LAYERS = {"default": {"BACKEND":
   "realtime_app.layers.RedisPubSubChannelLayer", "CONFIG": {"aliases": ["state"]}}}` (and
   `ASGI_APPLICATION` routing `"websocket"` to `realtime_app.routing.websocket_application()`).
3. URLs: `path("api/", include("realtime_app.urls"))` (history and notifications over REST); the sockets are
   `ws/chat/` and `ws/notifications/`.

## Settings

| `WINKR_REALTIME` key | Default (env) | Meaning |
|---|---|---|
| `MAX_TEXT_LENGTH` | `2000` (`CHAT_MAX_TEXT_LENGTH`) | Longest chat message, in characters. |
| `MAX_FRAME_BYTES` | `16384` | Largest client frame. |
| `CHAT_STREAM_MAXLEN`, `CHAT_STREAM_TTL` | `1000` (`CHAT_STREAM_MAXLEN`), 90 d | Messages kept per conversation; expiry without writes. |
| `NOTIFICATION_STREAM_MAXLEN`, `NOTIFICATION_STREAM_TTL` | `200` (`NOTIFICATION_STREAM_MAXLEN`), 30 d | The same per user's notifications. |
| `MAX_PAGE_SIZE` | `100` | Largest REST history page. |
| `SEND_POLICY` | `realtime_app.policies.allow_active_users` | `(sender, recipient) -> bool`: who may message whom. |
| `RECIPIENT_CACHE_TTL` | `5` | Seconds a "may message" answer is remembered in-process. |
| `CLIENT_ID_TTL` | `3600` | How long a `client_id` de-duplicates resends. |
| `CHAT_RATE_LIMIT` | `{"requests": 30, "window": 10}` (`CHAT_RATE_LIMIT_REQUESTS`, `_WINDOW`) | Messages per user per window. |
| `PRESENCE_TTL`, `HEARTBEAT_INTERVAL` | `60`, `20` (`PRESENCE_TTL`, `PRESENCE_HEARTBEAT_INTERVAL`) | Presence heartbeat lifetime and period. |
| `PRESENCE_BACKEND`, `AUTH_MIDDLEWARE` | sessions_app's | Where presence goes; the socket authentication stack. |
| `REDIS_ALIAS` | `"state"` | Alias of the Streams and indexes. |

The channel layer's own variables (`REALTIME_CHANNEL_LAYER`, `REALTIME_LAYER_*`) are in [Settings](../settings.md).

## Failure behaviour

Redis failing under a socket: an `{"type": "error", "code": "unavailable"}` frame, or a close with 1013 when
the channel layer fails; a revoked or anonymous socket is closed with 4401. REST answers 503. Live delivery is
at most once; the Streams replay anything a client missed (`since=<cursor>`), or say
`resync_required` when a capped stream no longer reaches back.

## Redis keys

All on the `state` alias:

| Key | What |
|---|---|
| `winkr:chat:{<a>-<b>}:conversation` | The conversation's capped Stream (sorted pair of user ids as tag). |
| `winkr:chat:{<a>-<b>}:client-id:<sender>:<client id>` | Idempotent send: the stream id of a `client_id` (`CLIENT_ID_TTL`). |
| `winkr:chat:{<user>}:partners` | The user's partners, scored by last message (replay merge). |
| `winkr:notifications:{<user>}` | The user's capped notification Stream. |
| `winkr:asgi...` | The channel layer's channels and groups. |
""", ["realtime_app"], ["realtime_app.chat", "realtime_app.notifications", "realtime_app.pubsub",
      "realtime_app.consumers"])

APPS["health_app"] = ("health_app: health checks and metrics", """
Health endpoints a Kubernetes probe, a load balancer and an on-call engineer can trust, and the Prometheus
metrics of every app.

## Add it to your project in three steps

1. `INSTALLED_APPS += ["caching_app", "health_app"]`
2. One setting: `WINKR_HEALTH = {"TOKEN": os.environ.get("HEALTH_TOKEN")}` (who may read details and metrics).
3. URLs: `path("health", include("health_app.urls"))`.

## Settings

| `WINKR_HEALTH` key | Default | Meaning |
|---|---|---|
| `TOKEN` | `None` (`HEALTH_TOKEN`) | Bearer token that may read details and metrics (24+ characters); staff users may too. |
| `CHECKS` | the five components | Dotted paths of the `HealthCheck` classes `/health` runs; each `name` is its key and URL. |
| `READINESS_CHECKS` | Redis PING + `SELECT 1` | What `/health/readiness` runs. |
| `TIMEOUT` | `3.0` | Seconds the runner waits for one check. |
| `PROBE_SOCKET_TIMEOUT` | `1.0` | Connect/read/write timeout of the probes' own Redis clients. |
| `REDIS_ALIASES` | every alias | Aliases the redis component checks. |
| `MAX_REPLICATION_LAG` | `10` | Seconds of replica lag before `degraded`. |

## Failure behaviour

Every check is bounded by a timeout (`TIMEOUT`, probe clients with `PROBE_SOCKET_TIMEOUT`, no retries), so a
hung or dead Redis turns into a fast 503, never a hung probe. Liveness never touches Redis or the database.

## Redis keys

Probes only, on their own short-lived keys: `winkr:health:cache-probe:<random>` (30 s TTL) and the pub/sub
channel `winkr:health:pubsub-probe:<random>`; the rate-limit probe uses the reserved endpoint
`__winkr_health__` under `winkr:rl:...`.
""", ["health_app"], ["health_app.components.base", "health_app.runner", "health_app.metrics"])

nav_apps = []
for name, (title, header, moved, modules) in APPS.items():
    parts = [f"# {title}", header, "## Reference"]
    for section in moved:
        block = body(section)
        if name == "caching_app":
            block, _demo = section_split(section, "Demo API")
        heading = [] if section == moved[0] else [f"### {section}"]
        parts.append(heading + [l if not re.match(r"^#{3,6} ", l) else "#" + l for l in block])
    parts.append(f"API reference: [{name}](../reference/{name}.md).")
    write(f"apps/{name}.md", parts)
    ref = [f"# {name} API", "Generated by mkdocstrings from the docstrings."]
    for module in modules:
        ref.append(f"## `{module}`\n\n::: {module}\n    options:\n      show_root_heading: false")
    write(f"reference/{name}.md", ref)

# Demo and pages
_before, demo_api = section_split("caching_app: caches, invalidation, warming, geo", "Demo API")
write("demo.md", ["# The demo: pages and API",
                  "What a newcomer opens first: the landing page at `/`, the live demo at `/demo/`, the API docs, "
                  "and the demo API they run on.",
                  demote(body("Pages, static files and the Content-Security-Policy")),
                  demote(demo_api)])
settings_body = body("Settings")
before_sentinel, sentinel = section_split("Settings", "Sentinel, Cluster and TLS")
write("settings.md", ["# Settings", "## Environment variables", before_sentinel, demote(sentinel)])
write("deployment.md", ["# Deployment", demote(body("Deployment"))])
write("benchmarks.md", ["# Benchmarks", demote(body("Benchmarks"))])
write("reliability.md", ["# Reliability", demote(body("Reliability"))])

head = sections["_head"]
index = ["# winkr", head[1:], "![The landing page](img/landing.png)",
         "## Two commands", body("Two commands"), "## Architecture", body("Architecture"),
         """## Where to read on

- Apps, each starting with "add it to your project in three steps", then its settings, failure behaviour and
  Redis keys: [caching_app](apps/caching_app.md), [sessions_app](apps/sessions_app.md) (with JWT logout),
  [ratelimit_app](apps/ratelimit_app.md), [realtime_app](apps/realtime_app.md), [health_app](apps/health_app.md).
- [Settings](settings.md): every environment variable. [The demo](demo.md): pages, static files, CSP and the
  demo API. [Deployment](deployment.md): Docker, Compose, Kubernetes, monitoring, runbook.
  [Benchmarks](benchmarks.md) and [Reliability](reliability.md).
- API reference from the docstrings: [caching_app](reference/caching_app.md),
  [sessions_app](reference/sessions_app.md), [ratelimit_app](reference/ratelimit_app.md),
  [realtime_app](reference/realtime_app.md), [health_app](reference/health_app.md).
"""]
index_lines = []
for part in index:
    index_lines.extend((part.strip("\n").splitlines() if isinstance(part, str) else strip_blank(part)) + [""])
index_text = "\n".join(index_lines).replace("see their sections below", "see their pages in [Apps](#where-to-read-on)")
(DOCS / "index.md").write_text(index_text.rstrip() + "\n")

readme = ["# winkr", head[1:], "## Two commands", body("Two commands"), "## Architecture", body("Architecture"),
          """## Documentation

The reference lives in [`docs/`](docs/index.md) (MkDocs, Material theme; `python3 dev.py docs` serves it on
<http://127.0.0.1:8001/>, `mkdocs build --strict` checks every link and reference):

- The apps, each starting with "add it to your project in three steps": [caching_app](docs/apps/caching_app.md),
  [sessions_app](docs/apps/sessions_app.md) (device sessions, online status, JWT logout),
  [ratelimit_app](docs/apps/ratelimit_app.md), [realtime_app](docs/apps/realtime_app.md),
  [health_app](docs/apps/health_app.md).
- [Settings](docs/settings.md): every environment variable, with its default.
- [The demo](docs/demo.md): the landing page, the live demo, the API docs, static files and the CSP.
- [Deployment](docs/deployment.md) (Docker, Compose, Kubernetes, Prometheus + Grafana, runbook),
  [Benchmarks](docs/benchmarks.md) (figures in [BENCHMARKS.md](BENCHMARKS.md)), [Reliability](docs/reliability.md).
- The API reference generated from the docstrings: [docs/reference/](docs/reference/caching_app.md).

| Landing page | Admin: live sessions | Demo |
|---|---|---|
| ![Landing page](docs/img/landing.png) | ![Admin sessions](docs/img/admin-sessions.png) | ![Demo](docs/img/demo.png) |
"""]
readme_lines = []
for part in readme:
    readme_lines.extend((part.strip("\n").splitlines() if isinstance(part, str) else strip_blank(part)) + [""])
readme_text = "\n".join(readme_lines).replace("see their sections below", "see their pages in [docs/apps/](docs/apps/)")
(ROOT / "README.md").write_text(readme_text.rstrip() + "\n")
