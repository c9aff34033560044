"""Device-session and presence operations as Redis steps (see :mod:`.runner`), shared by sync and async APIs.

Every multi-key step touches keys of one user only (one Cluster hash tag), or the two global
keys (another tag). Steps on different tags are separate round trips: no script ever spans
two slots.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from . import keys as k
from .conf import jwt_session_ttl, sessions_settings
from .devices import MAX_USER_AGENT_LENGTH, clean, describe_device
from .records import JWT, KINDS, RECORD_FIELDS, DeviceSession, from_ms
from .runner import Call, Eval, Op, Pipe

CONNECTION_PREFIX = "c:"
MAX_CONNECTION_ID_LENGTH = 200
MAX_PAGE = 1000
MAX_DELETE_ROUNDS = 20


def now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _deleted(reply: list) -> list[tuple[str, str, str]]:
    """``(session_id, user_id, kind)`` triples from the delete script's reply."""
    items = [_text(item) for item in reply[1:]]
    return [tuple(items[i:i + 3]) for i in range(0, len(items), 3)]  # type: ignore[misc]


def _tag_of(session_id: object) -> str | None:
    parsed = k.parse_session_id(session_id)
    return parsed[0] if parsed else None


def _window_ms() -> int:
    return int(sessions_settings.ONLINE_WINDOW * 1000)


def _seen_ttl_ms() -> int:
    return int(sessions_settings.LAST_SEEN_TTL * 1000)


def create(user_id: object, kind: str, session_id: str | None, ip: str | None, user_agent: str | None,
           device: dict | None, ttl: int | None) -> Op:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    uid = str(user_id)
    tag = k.user_tag(uid)
    if session_id is None:
        session_id = k.new_session_id(uid)
    elif _tag_of(session_id) != tag:
        raise ValueError("session_id must be a session id issued for this user (sessions_app.keys.new_session_id)")
    if ttl is None:
        ttl = jwt_session_ttl() if kind == JWT else int(sessions_settings.SESSION_TTL)
    ttl_ms = int(ttl * 1000)
    agent = clean(user_agent, MAX_USER_AGENT_LENGTH)
    info = describe_device(agent, device)
    address = clean(ip, 64)
    now = now_ms()
    reply = yield Eval("create_device", [k.session_key(session_id), *k.user_keys(tag)], [
        session_id, uid, kind, now, ttl_ms, _window_ms(), _seen_ttl_ms(), address or "", agent or "",
        json.dumps(info, separators=(",", ":")), str(ttl_ms) if kind == JWT else "",
    ])
    expiry, count, expired = int(reply[0]), int(reply[1]), [_text(m) for m in reply[2:]]
    global_calls = [
        Call("zadd", (k.all_sessions_key(), {session_id: expiry})),
        Call("zadd", (k.online_key(), {uid: now + _window_ms()}), {"gt": True}),
    ]
    if expired:
        global_calls.append(Call("zrem", (k.all_sessions_key(), *expired)))
    yield Pipe(global_calls)
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
        members = [_text(m) for m in (yield Call("zrange", (index, 0, -1)))]
        others = [m for m in members if m != keep_id and k.session_key(m)]
        if not others:
            break
        created = yield Pipe([Call("hget", (k.session_key(m), "c")) for m in others])
        # A record with no creation time is a leftover of an expired session: it goes first.
        oldest = min(zip(others, created, strict=True), key=lambda pair: float(pair[1] or 0))[0]
        reply = yield Eval("delete", [index, k.session_key(oldest)], [limit, oldest])
        count = int(reply[0])
        gone = _deleted(reply)
        if gone:
            evicted.extend(gone)
            yield Call("zrem", (k.all_sessions_key(), *[item[0] for item in gone]))
    return evicted


def get(session_id: str) -> Op:
    tag = _tag_of(session_id)
    if not tag:
        return None
    values, expiry = yield Pipe([Call("hmget", (k.session_key(session_id), *RECORD_FIELDS)),
                                 Call("zscore", (k.user_index_key(tag), session_id))], transaction=True)
    return DeviceSession.from_redis(session_id, values, expiry)


def list_for_user(user_id: object) -> Op:
    uid = str(user_id)
    tag = k.user_tag(uid)
    index = k.user_index_key(tag)
    now = now_ms()
    expired, _, live = yield Pipe([
        Call("zrangebyscore", (index, "-inf", now)),
        Call("zremrangebyscore", (index, "-inf", now)),
        Call("zrangebyscore", (index, f"({now}", "+inf"), {"withscores": True}),
    ], transaction=True)
    live = [(_text(member), score) for member, score in live]
    values = yield Pipe([Call("hmget", (k.session_key(member), *RECORD_FIELDS)) for member, _ in live])
    if expired:
        yield Call("zrem", (k.all_sessions_key(), *[_text(m) for m in expired]))
    records = [DeviceSession.from_redis(member, reply, score) for (member, score), reply in zip(live, values,
                                                                                                strict=True)]
    found = [record for record in records if record is not None and record.user_id == uid]
    return sorted(found, key=lambda record: record.last_activity, reverse=True)


def touch(session_id: str, force: bool = False) -> Op:
    tag = _tag_of(session_id)
    if not tag:
        return False
    now = now_ms()
    reply = yield Eval("touch", [k.session_key(session_id), *k.user_keys(tag)], [
        now, int(sessions_settings.ACTIVITY_UPDATE_INTERVAL * 1000), _window_ms(), _seen_ttl_ms(),
        "1" if force else "0", session_id,
    ])
    if not reply:
        return False
    user, expiry, written = _text(reply[0]), int(reply[1]), int(reply[2])
    if written:
        yield Pipe([
            Call("zadd", (k.all_sessions_key(), {session_id: expiry})),
            Call("zadd", (k.online_key(), {user: now + _window_ms()}), {"gt": True}),
        ])
    return bool(written)


def delete(session_id: str) -> Op:
    tag = _tag_of(session_id)
    if not tag:
        return []
    reply = yield Eval("delete", [k.user_index_key(tag), k.session_key(session_id)], [-1, session_id])
    gone = _deleted(reply)
    if gone:
        yield Call("zrem", (k.all_sessions_key(), session_id))
    return gone


def delete_all(user_id: object) -> Op:
    tag = k.user_tag(user_id)
    index = k.user_index_key(tag)
    gone: list[tuple[str, str, str]] = []
    for _ in range(MAX_DELETE_ROUNDS):
        members = [_text(m) for m in (yield Call("zrange", (index, 0, -1)))]
        members = [m for m in members if k.session_key(m)]
        if not members:
            break
        reply = yield Eval("delete", [index, *[k.session_key(m) for m in members]], [-1, *members])
        gone.extend(_deleted(reply))
        yield Call("zrem", (k.all_sessions_key(), *members))
        if int(reply[0]) == 0:
            break
    return gone


def sweep(batch: int = 500, max_batches: int | None = None) -> Op:
    """Drop expired entries from the per-user indexes, the global index and the online list."""
    removed = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        now = now_ms()
        candidates = [_text(m) for m in (yield Call(
            "zrangebyscore", (k.all_sessions_key(), "-inf", now), {"start": 0, "num": batch}))]
        if not candidates:
            break
        by_tag: dict[str, list[str]] = defaultdict(list)
        orphans = []
        for member in candidates:
            tag = _tag_of(member)
            (by_tag[tag].append(member) if tag else orphans.append(member))
        calls = []
        for tag, members in by_tag.items():
            calls.append(Call("zremrangebyscore", (k.user_index_key(tag), "-inf", now)))
            calls.append(Call("zmscore", (k.user_index_key(tag), members)))
        replies = yield Pipe(calls)
        alive: dict[str, float] = {}
        dead = list(orphans)
        for (_tag, members), scores in zip(by_tag.items(), replies[1::2], strict=True):
            for member, score in zip(members, scores, strict=True):
                # Still indexed with a later expiry: the session was extended since the global index saw it.
                if score is not None and score > now:
                    alive[member] = score
                else:
                    dead.append(member)
        updates = []
        if alive:
            updates.append(Call("zadd", (k.all_sessions_key(), alive)))
        if dead:
            updates.append(Call("zrem", (k.all_sessions_key(), *dead)))
        yield Pipe(updates)
        removed += len(dead)
        if len(candidates) < batch:
            break
    yield Call("zremrangebyscore", (k.online_key(), "-inf", now_ms()))
    return removed


def count_active() -> Op:
    return (yield Call("zcount", (k.all_sessions_key(), f"({now_ms()}", "+inf")))


# --- presence -----------------------------------------------------------------------------------------


def is_online(user_id: object) -> Op:
    found = yield Call("zrangebyscore", (k.presence_key(k.user_tag(user_id)), f"({now_ms()}", "+inf"),
                       {"start": 0, "num": 1})
    return bool(found)


def online_users(offset: int, limit: int) -> Op:
    if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or not 0 < limit <= MAX_PAGE:
        raise ValueError(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}")
    now = now_ms()
    users = yield Call("zrevrangebyscore", (k.online_key(), "+inf", f"({now}"), {"start": offset, "num": limit})
    return [_text(user) for user in users]


def count_online() -> Op:
    return (yield Call("zcount", (k.online_key(), f"({now_ms()}", "+inf")))


def last_seen(user_id: object) -> Op:
    return from_ms((yield Call("get", (k.last_seen_key(k.user_tag(user_id)),))))


def _connection_member(connection_id: object) -> str:
    text = clean(connection_id, MAX_CONNECTION_ID_LENGTH)
    if not text:
        raise ValueError("connection_id must be a non-empty string")
    return CONNECTION_PREFIX + text


def connection_alive(user_id: object, connection_id: object, ttl: float | None) -> Op:
    ttl = sessions_settings.CONNECTION_TTL if ttl is None else ttl
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    uid = str(user_id)
    tag = k.user_tag(uid)
    until = yield Eval("connection_alive", [k.presence_key(tag), k.last_seen_key(tag)],
                       [_connection_member(connection_id), now_ms(), int(ttl * 1000), _seen_ttl_ms()])
    yield Call("zadd", (k.online_key(), {uid: int(until)}), {"gt": True})
    return None


def connection_closed(user_id: object, connection_id: object) -> Op:
    uid = str(user_id)
    tag = k.user_tag(uid)
    now = now_ms()
    until = int((yield Eval("connection_closed", [k.presence_key(tag), k.last_seen_key(tag)],
                            [_connection_member(connection_id), now, _seen_ttl_ms()])))
    # Not GT: the user may go offline now. A heartbeat of another socket racing this write is
    # repaired by that socket's next heartbeat; is_user_online reads the per-user set and is exact.
    if until > now:
        yield Call("zadd", (k.online_key(), {uid: until}))
    else:
        yield Call("zrem", (k.online_key(), uid))
    return None


def browse(offset: int, limit: int) -> Op:
    """All live device sessions, latest expiry first (the admin's list): paged over the global index."""
    now = now_ms()
    members = [_text(m) for m in (yield Call(
        "zrevrangebyscore", (k.all_sessions_key(), "+inf", f"({now}"), {"start": offset, "num": limit}))]
    members = [m for m in members if k.session_key(m)]
    replies = yield Pipe([Call("hmget", (k.session_key(m), *RECORD_FIELDS)) for m in members])
    records = [DeviceSession.from_redis(m, reply) for m, reply in zip(members, replies, strict=True)]
    return [record for record in records if record is not None]


def online_flags(user_ids: list[str]) -> Op:
    """``{user_id: online}`` for several users in one round trip."""
    now = now_ms()
    replies = yield Pipe([Call("zrangebyscore", (k.presence_key(k.user_tag(uid)), f"({now}", "+inf"),
                               {"start": 0, "num": 1}) for uid in user_ids])
    return {uid: bool(found) for uid, found in zip(user_ids, replies, strict=True)}
