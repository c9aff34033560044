"""The measured inputs of the capacity model (README "Capacity", printed by ``python bench/capacity.py``).

1. Bytes per entity, with ``MEMORY USAGE key SAMPLES 0`` (exact, and it counts the key and Redis' per-key
   overhead) over a generated population of 100,000 users (3,000 with ``--quick``). Django users and
   profiles are ``bulk_create``d (creating them one by one through the ORM would take most of the run);
   everything in Redis is written through winkr's own services, many calls in flight at once on the
   async client (``asyncio.gather`` over chunks) or in their own pipelines (``cache_service.write_many``):
   - logged-in user: ``acreate_session(kind="jwt")`` — session hash, the user's device index, last seen,
     and the user's share of the all-sessions index buckets;
   - device session: a second device for 10 % of the users — its hash, its entry in the device index
     (the index's growth) and one all-sessions bucket entry;
   - online user: ``amark_connection_alive`` (a socket) — the presence set and an online bucket entry;
   - revoked token: ``TokenBlacklist.add_token`` (one marker per access token, lives its remaining TTL);
   - chat message: ``asend_message`` (what the WebSocket consumer calls), with a ``client_id`` as clients
     send, in 400 conversations of 50 messages — the stream's bytes per message, the conversation's fixed cost
     (partner indexes), and the transient client-id key (``CLIENT_ID_TTL``);
   - cached profile: ``cache_service.write_many`` of ``PublicProfileSerializer`` data (+ the user's group key).
   ``used_memory`` growth per phase is reported next to it as a cross-check (it includes allocator and
   dict overhead that ``MEMORY USAGE`` spreads differently).
2. Commands and round trips per request type, on the bench's own redis-server (nothing else talks to it):
   ``INFO commandstats`` deltas (commands executed, including those run inside Lua scripts), the client's
   own command counter (commands sent) and ``total_writes_processed`` deltas (one reply write per round
   trip on loopback; the INFO call's own reply subtracted). Login and authenticated GET run through the
   whole Django stack (``django.test.Client``, JWT); chat and heartbeat through what the consumer calls.

Writes ``bench/out/capacity.json`` (with ``distribution.json`` from bench_distribution, the model's inputs).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bench.bench_distribution import out_dir

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Version/17.1 Mobile/15E148 Safari"
CHUNK = 100  # calls in flight: twice the pool (REDIS_POOL_SIZE 50), so none waits out the pool timeout
SAMPLE = 2000
MESSAGES_PER_CONVERSATION = 50
CONVERSATIONS = 400  # 20,000 messages: bytes per message do not need the whole population talking


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _usage(client: Any, keys: list[str]) -> list[int]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return [value or 0 for value in pipe.execute()]


def _mean_usage(client: Any, keys: list[str]) -> float:
    values = _usage(client, keys)
    return statistics.fmean(values) if values else 0.0


def _used(client: Any) -> int:
    return int(client.info("memory")["used_memory"])


def make_population(count: int) -> list[Any]:
    """``count`` users with a profile, bulk-created (the same password hash for all: it is never checked here)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from winkr.demo.models import Profile

    model = get_user_model()
    password = make_password("bench-capacity-password-1")
    existing = model.objects.filter(username__startswith="cap-").count()
    if existing < count:
        model.objects.bulk_create([model(username=f"cap-{i}", password=password) for i in range(existing, count)],
                                  batch_size=5000)
    users = list(model.objects.filter(username__startswith="cap-").order_by("pk")[:count])
    with_profile = set(Profile.objects.filter(user__in=users).values_list("user_id", flat=True))
    Profile.objects.bulk_create([
        Profile(user=user, display_name=f"Capacity {user.pk}", bio="b" * 200, gender="woman",
                interests=["hiking", "jazz", "chess"]) for user in users if user.pk not in with_profile],
        batch_size=5000)
    return users


async def _gather_chunks(calls: list) -> None:
    for chunk in _chunks(calls):
        await asyncio.gather(*(call() for call in chunk))


@dataclass
class _Population:
    """The generated users and what every phase of :func:`measure_memory` samples them with."""

    users: list[Any]
    client: Any  # the "state" alias' client
    ids: list[Any]
    tags: list[str]
    sample: list[int]  # positions in ids whose keys MEMORY USAGE reads
    rng: random.Random
    timings: dict[str, float] = field(default_factory=dict)

    def bucket_bytes(self, index: Any) -> int:
        return sum(_usage(self.client, index.bucket_keys()))


def measure_memory(users: list[Any]) -> dict[str, Any]:
    from caching_app.foundation.connections import get_redis
    from sessions_app import keys

    client = get_redis("state")
    client.flushall()
    ids = [user.pk for user in users]
    rng = random.Random(17)
    sample = rng.sample(range(len(ids)), min(SAMPLE, len(ids)))
    population = _Population(users, client, ids, [keys.user_tag(pk) for pk in ids], sample, rng)
    out: dict[str, Any] = {"population_users": len(ids)}
    out["logged_in_user"], hash_bytes, index_one = _logged_in_users(population)
    out["device_session"] = _second_devices(population, hash_bytes, index_one)
    out["online_user"] = _online_users(population)
    out["revoked_token"] = _revoked_tokens(population)
    out["chat_message"] = _chat_messages(population)
    out["cached_profile"] = _cached_profiles(population)
    out["population_seconds"] = {name: round(value, 1) for name, value in population.timings.items()}
    return out


def _logged_in_users(population: _Population) -> tuple[dict[str, Any], float, float]:
    """Logged-in users: one JWT device session each. Also returns the mean session hash and device index bytes."""
    from sessions_app import keys, services
    from sessions_app.indexes import SESSIONS

    client, ids, tags, sample = population.client, population.ids, population.tags, population.sample
    started, before = time.monotonic(), _used(client)
    sessions = [None] * len(ids)

    async def login(position: int) -> None:
        sessions[position] = (await services.acreate_session(ids[position], kind="jwt", ip="10.0.0.1",
                                                             user_agent=UA)).id

    asyncio.run(_gather_chunks([lambda p=p: login(p) for p in range(len(ids))]))
    population.timings["sessions"] = time.monotonic() - started
    grown_login = (_used(client) - before) / len(ids)
    hash_bytes = _mean_usage(client, [keys.session_key(sessions[p]) for p in sample])
    index_one = _mean_usage(client, [keys.user_index_key(tags[p]) for p in sample])
    seen = _mean_usage(client, [keys.last_seen_key(tags[p]) for p in sample])
    http_presence = _mean_usage(client, [keys.presence_key(tags[p]) for p in sample])
    sessions_bucket_share = population.bucket_bytes(SESSIONS) / len(ids)
    figures = {
        "bytes": round(hash_bytes + index_one + seen + sessions_bucket_share),
        "session_hash": round(hash_bytes), "device_index": round(index_one), "last_seen": round(seen),
        "sessions_bucket_share": round(sessions_bucket_share, 1),
        "presence_http_window_transient": round(http_presence),
        "used_memory_growth_per_login": round(grown_login),
    }
    return figures, hash_bytes, index_one


def _second_devices(population: _Population, hash_bytes: float, index_one: float) -> dict[str, Any]:
    """A second device for 10 % of the users: what one more device session costs."""
    from sessions_app import keys, services
    from sessions_app.indexes import SESSIONS

    client, ids, tags = population.client, population.ids, population.tags
    seconds = [p for p in range(0, len(ids), 10)]
    before_buckets = population.bucket_bytes(SESSIONS)
    asyncio.run(_gather_chunks([lambda p=p: services.acreate_session(ids[p], kind="jwt", user_agent=UA)
                                for p in seconds]))
    second_sample = seconds[:SAMPLE]
    index_two = _mean_usage(client, [keys.user_index_key(tags[p]) for p in second_sample])
    index_one_same = index_one  # the same users held one entry before (the sample above is representative)
    bucket_entry = (population.bucket_bytes(SESSIONS) - before_buckets) / len(seconds)
    return {
        "bytes": round(hash_bytes + (index_two - index_one_same) + bucket_entry),
        "session_hash": round(hash_bytes), "device_index_entry": round(index_two - index_one_same),
        "sessions_bucket_entry": round(bucket_entry, 1),
    }


def _online_users(population: _Population) -> dict[str, Any]:
    """Online users: one open socket each (the presence set then holds the socket and the http source)."""
    from sessions_app import keys, services
    from sessions_app.indexes import ONLINE

    client, ids, tags = population.client, population.ids, population.tags
    client.delete(*ONLINE.bucket_keys())  # measure the online index from empty
    for chunk in _chunks([keys.presence_key(tag) for tag in tags], 5000):
        client.delete(*chunk)
    started, before = time.monotonic(), _used(client)
    asyncio.run(_gather_chunks([lambda pk=pk: services.amark_connection_alive(pk, f"ws-{pk}", ttl=3600)
                                for pk in ids]))
    population.timings["online"] = time.monotonic() - started
    presence = _mean_usage(client, [keys.presence_key(tags[p]) for p in population.sample])
    online_share = population.bucket_bytes(ONLINE) / len(ids)
    return {"bytes": round(presence + online_share), "presence_set": round(presence),
            "online_bucket_share": round(online_share, 1),
            "used_memory_growth": round((_used(client) - before) / len(ids))}


def _revoked_tokens(population: _Population) -> dict[str, Any]:
    """Revoked access tokens: one marker each."""
    from sessions_app.jwt.blacklist import TokenBlacklist, token_key

    client, ids = population.client, population.ids
    blacklist = TokenBlacklist()
    started, before = time.monotonic(), _used(client)
    jtis = [f"{population.rng.getrandbits(128):032x}" for _ in ids]
    for pk, jti in zip(ids, jtis, strict=True):
        blacklist.add_token(jti, ttl=900, user_id=pk)
    population.timings["revoked"] = time.monotonic() - started
    return {"bytes": round(_mean_usage(client, [token_key(ids[p], jtis[p]) for p in population.sample])),
            "used_memory_growth": round((_used(client) - before) / len(ids))}


def _chat_messages(population: _Population) -> dict[str, Any]:
    """Chat: conversations of MESSAGES_PER_CONVERSATION messages between neighbours."""
    from django.conf import settings
    from django.test.utils import override_settings

    from realtime_app import keys as chat_keys
    from realtime_app.chat import asend_message

    client, users = population.client, population.users
    conversations = min(CONVERSATIONS, max(1, len(population.ids) // MESSAGES_PER_CONVERSATION))
    pairs = [(users[2 * i], users[2 * i + 1]) for i in range(min(conversations, len(users) // 2))]
    realtime = {**settings.WINKR_REALTIME, "CHAT_RATE_LIMIT": {"requests": 10 ** 9, "window": 10}}
    started, before = time.monotonic(), _used(client)

    async def talk(a: Any, b: Any) -> None:
        for n in range(MESSAGES_PER_CONVERSATION):
            sender, recipient = (a, b) if n % 2 == 0 else (b, a)
            await asend_message(sender, recipient.pk, f"message {n}: " + "x" * 40, client_id=f"c{n}")

    with override_settings(WINKR_REALTIME=realtime):
        asyncio.run(_gather_chunks([lambda a=a, b=b: talk(a, b) for a, b in pairs]))
    population.timings["chat"] = time.monotonic() - started
    messages = len(pairs) * MESSAGES_PER_CONVERSATION
    chat_sample = pairs[:SAMPLE]
    stream = sum(_usage(client, [chat_keys.conversation_key(a.pk, b.pk) for a, b in chat_sample]))
    partners = sum(_usage(client, [chat_keys.partners_key(u.pk) for a, b in chat_sample for u in (a, b)]))
    client_ids = _mean_usage(client, [chat_keys.client_id_key(a.pk, b.pk, "c0") for a, b in chat_sample])
    return {
        "bytes": round(stream / (len(chat_sample) * MESSAGES_PER_CONVERSATION)),
        "messages_per_conversation": MESSAGES_PER_CONVERSATION, "text_chars": len("message 0: " + "x" * 40),
        "conversation_fixed_bytes": round(partners / len(chat_sample)),
        "client_id_key_bytes_transient": round(client_ids),
        "used_memory_growth_per_message": round((_used(client) - before) / messages), "messages": messages,
    }


def _cached_profiles(population: _Population) -> dict[str, Any]:
    """Cached profiles (the cache alias: the same server in the bench)."""
    from caching_app.foundation.connections import get_redis
    from caching_app.service import cache_service
    from winkr.demo.models import Profile
    from winkr.demo.serializers import PublicProfileSerializer

    ids = population.ids
    cache_client = get_redis("cache")
    profiles = {p.user_id: p for p in Profile.objects.filter(user__in=population.users)}
    started, before = time.monotonic(), _used(cache_client)
    for chunk in _chunks(ids, 2000):
        cache_service.write_many([(cache_service.user_profile_entry(pk), PublicProfileSerializer(profiles[pk]).data)
                                  for pk in chunk])
    population.timings["profiles"] = time.monotonic() - started
    entries = [cache_service.user_profile_entry(ids[p]) for p in population.sample]
    value_bytes = _mean_usage(cache_client, [entry.key for entry in entries])
    group_bytes = _mean_usage(cache_client, [entry.gen_key for entry in entries if entry.gen_key])
    return {"bytes": round(value_bytes + group_bytes), "entry": round(value_bytes),
            "group_key": round(group_bytes),
            "used_memory_growth": round((_used(cache_client) - before) / len(ids))}


class Counts:
    """Server-side counters of the bench's redis-server, read on a connection of their own."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)

    def snapshot(self) -> tuple[int, int]:
        info = self.client.info("all")
        calls = sum(int(value["calls"]) for name, value in info.items()
                    if name.startswith("cmdstat_") and name not in ("cmdstat_info", "cmdstat_config|resetstat"))
        return calls, int(info["total_writes_processed"])


def _measured(counts: Counts, action: Any, times: int) -> dict[str, float]:
    """Commands executed and sent, and round trips, per call of ``action(n)`` for n in ``range(times)``."""
    from bench.bench_sessions import commands_sent

    calls, writes = counts.snapshot()
    sent = commands_sent()
    for n in range(times):
        action(n)
    calls_after, writes_after = counts.snapshot()
    return {"commands_executed": round((calls_after - calls) / times, 2),
            "commands_sent": round((commands_sent() - sent) / times, 2),
            "round_trips": round((writes_after - writes - 1) / times, 2)}


def measure_requests(users: list[Any], redis_url: str, repetitions: int) -> dict[str, Any]:
    from caching_app.foundation.connections import get_redis

    get_redis("state").flushall()
    counts = Counts(redis_url)
    return {**_http_requests(users, counts, repetitions), **_realtime_requests(users, counts, repetitions)}


def _http_requests(users: list[Any], counts: Counts, repetitions: int) -> dict[str, Any]:
    """Login, authenticated GET and refresh through the whole Django stack (JWT)."""
    from django.test import Client

    web = Client()
    logins = users[:repetitions * 2]

    def login(user: Any) -> dict:
        reply = web.post("/api/auth/token/", {"username": user.username, "password": "bench-capacity-password-1"},
                         content_type="application/json")
        assert reply.status_code == 200, reply.content
        return reply.json()

    pairs = [login(user) for user in logins[repetitions:]]  # warm-up logins (scripts loaded, pools open)
    result: dict[str, Any] = {
        "login (POST /api/auth/token/)": _measured(counts, lambda n: login(logins[n]), repetitions)}
    target = users[-1].pk

    def get(n: int) -> None:
        reply = web.get(f"/api/profiles/{target}/", HTTP_AUTHORIZATION=f"Bearer {pairs[n]['access']}")
        assert reply.status_code == 200, reply.content

    for n in range(repetitions):
        get(n)  # fills the profile cache and each user's cached row: the measured GETs are the steady state
    result["authenticated GET /api/profiles/{id}/ (cache hit)"] = _measured(counts, get, repetitions)

    def refresh(n: int) -> None:
        reply = web.post("/api/auth/token/refresh/", {"refresh": pairs[n]["refresh"]},
                         content_type="application/json")
        assert reply.status_code == 200, reply.content

    result["token refresh (every ACCESS_TOKEN_TTL, 15 min, per active device)"] = _measured(
        counts, refresh, repetitions)
    return result


def _realtime_requests(users: list[Any], counts: Counts, repetitions: int) -> dict[str, Any]:
    """A chat message and a socket heartbeat, through what the WebSocket consumer calls."""
    from django.conf import settings
    from django.test.utils import override_settings

    from realtime_app.chat import asend_message
    from realtime_app.presence import SessionsPresence

    result: dict[str, Any] = {}
    a, b = users[0], users[1]
    realtime = {**settings.WINKR_REALTIME, "CHAT_RATE_LIMIT": {"requests": 10 ** 9, "window": 10}}
    loop = asyncio.new_event_loop()
    try:
        with override_settings(WINKR_REALTIME=realtime):
            loop.run_until_complete(asend_message(a, b.pk, "hello", client_id="warm"))
            result["chat message (WebSocket path: rate limit, append, deliver)"] = _measured(
                counts, lambda n: loop.run_until_complete(asend_message(a, b.pk, f"message {n}", client_id=f"m{n}")),
                repetitions)
        presence = SessionsPresence()
        loop.run_until_complete(presence.aconnection_alive(a.pk, "ws-a"))
        result["socket heartbeat (every HEARTBEAT_INTERVAL, 20 s)"] = _measured(
            counts, lambda n: loop.run_until_complete(presence.aconnection_alive(a.pk, "ws-a")), repetitions)
    finally:
        loop.close()
    return result


def run(bench) -> None:
    count = 3000 if bench.quick else 100_000
    started = time.monotonic()
    users = make_population(count)
    made = time.monotonic() - started
    memory = measure_memory(users)
    memory["population_seconds"]["django_bulk_create"] = round(made, 1)
    requests = measure_requests(users, bench.redis_url, 10 if bench.quick else 50)
    data = {"memory": memory, "requests": requests}
    out_dir(bench).mkdir(parents=True, exist_ok=True)
    (out_dir(bench) / "capacity.json").write_text(json.dumps(data, indent=2) + "\n")

    group = f"Capacity inputs ({count:,} users)"
    for name in ("logged_in_user", "device_session", "online_user", "revoked_token", "chat_message",
                 "cached_profile"):
        parts = ", ".join(f"{k} {v}" for k, v in memory[name].items() if k != "bytes")
        bench.figure(group, f"bytes per {name.replace('_', ' ')} (MEMORY USAGE)", memory[name]["bytes"],
                     f"bytes ({parts})")
    for name, figures in requests.items():
        bench.figure(group, name, f"{figures['commands_executed']} / {figures['commands_sent']} / "
                                  f"{figures['round_trips']}", "commands executed / sent / round trips")
    bench.figure(group, "population build time (s)", json.dumps(memory["population_seconds"]), "s")
