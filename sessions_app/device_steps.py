"""Device-session operations as Redis steps (caching_app.foundation.twins), shared by the sync and async APIs.

The session hash's field layout is documented once, in :mod:`.records`.

Every script and transaction touches keys of one user only (one Cluster hash tag); the all-users
indexes are sharded (:mod:`.indexes`) and written in plain pipelines, which redis-py splits per
master: no script ever spans two slots.
"""

from __future__ import annotations

import json
from collections import defaultdict

from caching_app.foundation.twins import Call, Op, Pipe

from . import keys as k
from .conf import jwt_session_ttl, sessions_settings
from .devices import MAX_USER_AGENT_LENGTH, clean, describe_device
from .indexes import ONLINE, SESSIONS, ShardedIndex, forget_legacy_state, legacy_present, migrate
from .presence_steps import now_ms, seen_ttl_ms, window_ms
from .records import JWT, KINDS, RECORD_FIELDS, DeviceSession, from_ms, text
from .scripts import LUA_SCRIPTS

Eval = LUA_SCRIPTS.step  # this app's lua/ scripts
MAX_PAGE = 1000
MAX_DELETE_ROUNDS = 20


def _deleted(reply: list) -> list[tuple[str, str, str]]:
    """``(session_id, user_id, kind)`` triples from the delete script's reply."""
    items = [text(item) for item in reply[1:]]
    return [tuple(items[i:i + 3]) for i in range(0, len(items), 3)]  # type: ignore[misc]


def _tag_of(session_id: object) -> str | None:
    parsed = k.parse_session_id(session_id)
    return parsed[0] if parsed else None


def _with_hash_keys(session_ids: list[str]) -> list[tuple[str, str]]:
    """``(session id, Redis key of its hash)`` for the ids that have one (index members are checked, not trusted)."""
    return [(session_id, redis_key) for session_id in session_ids if (redis_key := k.session_key(session_id))]


def create(user_id: object, kind: str, session_id: str | None, ip: str | None, user_agent: str | None,
           device: dict | None, ttl: int | None) -> Op:
    if kind not in KINDS:
        msg = f"kind must be one of {', '.join(KINDS)}, not {kind!r}"
        raise ValueError(msg)
    uid = str(user_id)
    tag = k.user_tag(uid)
    if session_id is None:
        session_id = k.new_session_id(uid)
    elif _tag_of(session_id) != tag:
        msg = "session_id must be a session id issued for this user (sessions_app.keys.new_session_id)"
        raise ValueError(msg)
    if ttl is None:
        ttl = jwt_session_ttl() if kind == JWT else int(sessions_settings.SESSION_TTL)
    ttl_ms = int(ttl * 1000)
    agent = clean(user_agent, MAX_USER_AGENT_LENGTH)
    info = describe_device(agent, device)
    address = clean(ip, 64)
    now = now_ms()
    reply = yield Eval("create_device", [k.require_session_key(session_id), *k.user_keys(tag)], [
        session_id, uid, kind, now, ttl_ms, window_ms(), seen_ttl_ms(), address or "", agent or "",
        json.dumps(info, separators=(",", ":")), str(ttl_ms) if kind == JWT else "",
    ])
    expiry, count, expired = int(reply[0]), int(reply[1]), [text(m) for m in reply[2:]]
    legacy = yield from legacy_present()
    yield Pipe([*SESSIONS.add({session_id: expiry}, legacy=legacy),
                *ONLINE.add({uid: now + window_ms()}, legacy=legacy, gt=True),
                *SESSIONS.remove(expired, legacy=legacy)])
    evicted = yield from _evict(tag, session_id, count)
    record = DeviceSession(
        id=session_id, user_id=uid, kind=kind, created_at=from_ms(now), last_activity=from_ms(now), ip=address,
        user_agent=agent, device=info, expires_at=from_ms(expiry),
    )
    return record, evicted


def _evict(tag: str, keep_id: str, count: int) -> Op:
    """Delete the user's oldest device sessions (never ``keep_id``) until MAX_SESSIONS_PER_USER holds."""
    limit = int(sessions_settings.MAX_SESSIONS_PER_USER)
    index = k.user_index_key(tag)
    evicted: list[tuple[str, str, str]] = []
    rounds = 0
    while limit and count > limit and rounds < MAX_DELETE_ROUNDS:
        rounds += 1
        members = [text(m) for m in (yield Call("zrange", (index, 0, -1)))]
        others = _with_hash_keys([m for m in members if m != keep_id])
        if not others:
            break
        created = yield Pipe([Call("hget", (redis_key, "c")) for _, redis_key in others])
        # A record with no creation time is a leftover of an expired session: it goes first.
        oldest, oldest_key = min(zip(others, created, strict=True), key=lambda pair: float(pair[1] or 0))[0]
        reply = yield Eval("delete", [index, oldest_key], [limit, oldest])
        count = int(reply[0])
        gone = _deleted(reply)
        if gone:
            evicted.extend(gone)
            yield from _unindex([item[0] for item in gone])
    return evicted


def get(session_id: str) -> Op:
    tag = _tag_of(session_id)
    if not tag:
        return None
    values, expiry = yield Pipe([Call("hmget", (k.require_session_key(session_id), *RECORD_FIELDS)),
                                 Call("zscore", (k.user_index_key(tag), session_id))], transaction=True)
    return DeviceSession.from_redis(session_id, values, expiry)


def index_read(user_id: object) -> Call:
    """The read a listing starts from: the user's whole device index with its expiries (also sent ahead in
    the JWT revocation round trip, sessions_app.prefetch)."""
    return Call("zrange", (k.user_index_key(k.user_tag(str(user_id))), 0, -1), {"withscores": True})


def list_for_user(user_id: object, entries: list[tuple[bytes, float]] | None = None) -> Op:
    """The user's live sessions; ``entries`` is the reply of :func:`index_read` when already read
    (sessions_app.prefetch), else it is read here."""
    uid = str(user_id)
    read = index_read(uid)
    index = read.args[0]
    now = now_ms()
    # The whole index in one plain read, split here by expiry (its score): a user has few entries, and a
    # MULTI of read, trim and read again cost a transaction on every listing for a trim that is rarely
    # needed. The trim removes by score, so an entry still live when it runs is never taken.
    if entries is None:
        entries = yield read
    expired = [text(member) for member, score in entries if score <= now]
    live = [(text(member), score) for member, score in entries if score > now]
    values = (yield Pipe([Call("hmget", (k.session_key(member), *RECORD_FIELDS)) for member, _ in live])) \
        if live else []
    if expired:
        yield Call("zremrangebyscore", (index, "-inf", now))
        yield from _unindex(expired)
    records = [DeviceSession.from_redis(member, reply, score) for (member, score), reply in zip(live, values,
                                                                                                strict=True)]
    found = [record for record in records if record is not None and record.user_id == uid]
    return sorted(found, key=lambda record: record.last_activity, reverse=True)


def touch(session_id: str, force: bool = False) -> Op:
    tag = _tag_of(session_id)
    if not tag:
        return False
    now = now_ms()
    reply = yield Eval("touch", [k.require_session_key(session_id), *k.user_keys(tag)], [
        now, int(sessions_settings.ACTIVITY_UPDATE_INTERVAL * 1000), window_ms(), seen_ttl_ms(),
        "1" if force else "0", session_id,
    ])
    if not reply:
        return False
    user, expiry, written = text(reply[0]), int(reply[1]), int(reply[2])
    if written:
        legacy = yield from legacy_present()
        yield Pipe([*SESSIONS.add({session_id: expiry}, legacy=legacy),
                    *ONLINE.add({user: now + window_ms()}, legacy=legacy, gt=True)])
    return bool(written)


def _unindex(session_ids: list[str]) -> Op:
    """Drop device sessions from the all-sessions index."""
    legacy = yield from legacy_present()
    yield Pipe(SESSIONS.remove(session_ids, legacy=legacy))


def reindex(old_id: str, new_id: str, expiry_ms: int) -> Op:
    """A device session renamed in place (the session engine's cycle_key): same entry, new id."""
    legacy = yield from legacy_present()
    yield Pipe([*SESSIONS.remove([old_id], legacy=legacy), *SESSIONS.add({new_id: expiry_ms}, legacy=legacy)])


def delete(session_id: str) -> Op:
    tag = _tag_of(session_id)
    if not tag:
        return []
    reply = yield Eval("delete", [k.user_index_key(tag), k.require_session_key(session_id)], [-1, session_id])
    gone = _deleted(reply)
    if gone:
        yield from _unindex([session_id])
    return gone


def delete_all(user_id: object) -> Op:
    tag = k.user_tag(user_id)
    index = k.user_index_key(tag)
    gone: list[tuple[str, str, str]] = []
    for _ in range(MAX_DELETE_ROUNDS):
        members = [text(m) for m in (yield Call("zrange", (index, 0, -1)))]
        found = _with_hash_keys(members)
        if not found:
            break
        members = [member for member, _ in found]
        reply = yield Eval("delete", [index, *[redis_key for _, redis_key in found]], [-1, *members])
        gone.extend(_deleted(reply))
        yield from _unindex(members)
        if int(reply[0]) == 0:
            break
    return gone


def sweep(batch: int = 500, max_batches: int | None = None) -> Op:
    """Drop expired entries from the per-user indexes, the all-sessions index and the online index.

    Every bucket (and the legacy key) is read in one pipeline per round; the legacy keys' live
    entries are then moved into their buckets (:func:`.indexes.migrate`). Returns how many device
    sessions were dropped.
    """
    removed = 0
    batches = 0
    sources = SESSIONS.read_keys()
    while sources and (max_batches is None or batches < max_batches):
        batches += 1
        now = now_ms()
        replies = yield Pipe([Call("zrangebyscore", (key, "-inf", now), {"start": 0, "num": batch})
                              for key in sources])
        found = {key: [text(m) for m in reply] for key, reply in zip(sources, replies, strict=True)}
        alive, dead = yield from _check_expired({member for members in found.values() for member in members}, now)
        updates = SESSIONS.add(alive, legacy=False)
        for key, members in found.items():
            # An extended session moves to its bucket's entry (above); from elsewhere (legacy) it goes.
            stale = [m for m in members if m in dead or (m in alive and SESSIONS.key_for(m) != key)]
            if stale:
                updates.append(Call("zrem", (key, *stale)))
        yield Pipe(updates)
        removed += len(dead)
        sources = [key for key in sources if len(found[key]) == batch]
    for index in (SESSIONS, ONLINE):
        yield from migrate_index(index, [index.legacy_key], batch, max_batches)
    yield Pipe([Call("zremrangebyscore", (key, "-inf", now_ms())) for key in ONLINE.read_keys()])
    return removed


def _check_expired(candidates: set[str], now: int) -> Op:
    """``(alive, dead)``: index entries past their expiry, checked against their user's own index.

    Alive maps the session id to the later expiry its user's index holds (it was extended since the
    all-sessions index saw it).
    """
    by_tag: dict[str, list[str]] = defaultdict(list)
    dead: set[str] = set()
    for member in candidates:
        tag = _tag_of(member)
        (by_tag[tag].append(member) if tag else dead.add(member))
    calls = []
    for tag, members in by_tag.items():
        calls.append(Call("zremrangebyscore", (k.user_index_key(tag), "-inf", now)))
        calls.append(Call("zmscore", (k.user_index_key(tag), members)))
    replies = yield Pipe(calls)
    alive: dict[str, float] = {}
    for (_tag, members), scores in zip(by_tag.items(), replies[1::2], strict=True):
        for member, score in zip(members, scores, strict=True):
            if score is not None and score > now:
                alive[member] = score
            else:
                dead.add(member)
    return alive, dead


def migrate_index(index: ShardedIndex, sources: list[str], batch: int = 500, max_batches: int | None = None
                  ) -> Op:
    """Move the entries of ``sources`` into ``index``'s buckets; forgets the legacy state when done."""
    moved = yield from migrate(index, sources, batch, max_batches)
    if moved:
        forget_legacy_state()
    return moved


def count_active() -> Op:
    return (yield from SESSIONS.count(now_ms()))


def browse(offset: int, limit: int) -> Op:
    """All live device sessions, latest expiry first (the admin's list): a merged page of the index buckets."""
    members = yield from SESSIONS.page(offset, limit, now_ms())
    found = _with_hash_keys(members)
    replies = yield Pipe([Call("hmget", (redis_key, *RECORD_FIELDS)) for _, redis_key in found])
    records = [DeviceSession.from_redis(m, reply) for (m, _), reply in zip(found, replies, strict=True)]
    return [record for record in records if record is not None]
