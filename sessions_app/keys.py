"""Session ids and the Redis keys behind them, built only here.

A device session id is ``<user tag>.<32 random chars>``; an anonymous Django session key we
mint is just the 32 random chars. Any other string Django accepts as a session key (8 or more
characters, e.g. one a project sets itself) is a valid, untagged key too: its hash lives in
its own slot, keyed by the escaped text (:func:`session_key`).

Carrying the user tag in the id is what lets one Lua script (or one MULTI) write a session's
data and its user's device index together on Redis Cluster: every key of one user shares the
Cluster hash tag ``{<user tag>}``, and the tag is known from the cookie alone, so loading
stays one round trip with no lookup first.

The user tag is the user id itself when it is short and made of ``[A-Za-z0-9_-]`` (so keys
and the admin stay readable), else ``~`` + a SHA-256 prefix; ``~`` never appears in a plain
tag, so two users can never share one.
"""

from __future__ import annotations

import hashlib
import re
import string
import zlib
from functools import lru_cache

from django.utils.crypto import get_random_string
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from caching_app.conf import caching_settings
from caching_app.foundation.inputs import bounded_memo
from caching_app.foundation.keys import make_key

RANDOM_CHARS = string.ascii_lowercase + string.digits
RANDOM_LENGTH = 32
_PLAIN_TAG = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HASHED_TAG = re.compile(r"~[0-9a-f]{32}")
_RANDOM = re.compile(rf"[a-z0-9]{{{RANDOM_LENGTH}}}")

NAMESPACE = "session"
PRESENCE = "presence"
GLOBAL_TAG = "global"  # the sweep lock, and the pre-sharding single-key indexes (read until migrated)
SESSIONS_INDEX = "all"  # every device session id, scored by expiry (ms), sharded in buckets
ONLINE_INDEX = "online"  # every online user id, scored by "online until" (ms), sharded in buckets
MAX_INDEX_BUCKETS = 256


def user_tag(user_id: object) -> str:
    text = str(user_id)
    if _PLAIN_TAG.fullmatch(text):
        return text
    return "~" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def new_random() -> str:
    return get_random_string(RANDOM_LENGTH, RANDOM_CHARS)


def new_session_id(user_id: object | None = None) -> str:
    """A fresh session id: tagged with the user when there is one."""
    if user_id is None:
        return new_random()
    return f"{user_tag(user_id)}.{new_random()}"


def parse_session_id(session_id: object) -> tuple[str | None, str] | None:
    """``(user_tag, random)`` for a device session id, ``(None, random)`` for an anonymous one.

    None for anything else (a tampered cookie, a URL segment of the wrong shape), so callers
    never build a key from text they did not make.
    """
    if not isinstance(session_id, str) or len(session_id) > 120:
        return None
    tag, dot, random_part = session_id.rpartition(".")
    if not _RANDOM.fullmatch(random_part):
        return None
    if not dot:
        return None, random_part
    if _PLAIN_TAG.fullmatch(tag) or _HASHED_TAG.fullmatch(tag):
        return tag, random_part
    return None


def session_key(session_id: object) -> str | None:
    """Redis key of the hash holding a session's data (and device record, for tagged ids).

    Any non-empty string has one: an id in our format (tagged or anonymous) as described above,
    anything else under its own escaped text as the hash tag (make_key escapes and bounds it,
    so no text can reach another key). None only for a non-string or empty id.
    """
    tag, random_part = parse_session_id(session_id) or (None, "")
    if tag is None:
        if not isinstance(session_id, str) or not session_id:
            return None
        return make_key(NAMESPACE, "s", tag=session_id)
    # Same text as make_key(NAMESPACE, "s", random_part, tag=tag): the random part is [a-z0-9]
    # (escaping leaves it as is), and the per-user prefix is built by make_key once and reused,
    # because this runs on every request and make_key's escaping costs more than the rest of a load.
    return f"{_user_session_prefix(caching_settings.KEY_PREFIX, tag)}:{random_part}"


def require_session_key(session_id: str) -> str:
    """:func:`session_key` of an id already known to be valid (one we minted, or one that passed a check).

    Raises ValueError for an empty id, which has no key, rather than handing None on to Redis.
    """
    redis_key = session_key(session_id)
    if redis_key is None:
        msg = "a session id is a non-empty string"
        raise ValueError(msg)
    return redis_key


def session_tag(session_id: object) -> str | None:
    """The user tag a session id carries, or None (anonymous, untagged or malformed)."""
    parsed = parse_session_id(session_id)
    return parsed[0] if parsed else None


@bounded_memo(maxsize=4096)
def _user_session_prefix(key_prefix: str, tag: str) -> str:
    return make_key(NAMESPACE, "s", tag=tag)


def user_index_key(tag: str) -> str:
    """Sorted set of one user's device session ids, scored by expiry (ms)."""
    return make_key(NAMESPACE, "u", tag=tag)


def presence_key(tag: str) -> str:
    """Sorted set of one user's liveness sources (``http`` and each socket), scored by "online until" (ms)."""
    return make_key(PRESENCE, "c", tag=tag)


def last_seen_key(tag: str) -> str:
    return make_key(PRESENCE, "seen", tag=tag)


def index_bucket(member: str, buckets: int) -> int:
    """The bucket of an index member (a session id or a user id): CRC-32 of its UTF-8 text, mod ``buckets``.

    Stable across processes and releases (Python's ``hash()`` is salted per process).
    """
    return zlib.crc32(member.encode("utf-8", "surrogatepass")) % buckets


@lru_cache(maxsize=32)
def index_bucket_tags(index: str, buckets: int) -> tuple[str, ...]:
    """Hash tags of an index's buckets, ``<index>.<bucket>.<salt>``, one slot each.

    Bucket ``i``'s slot lies in the ``i``-th ``1/buckets`` of the slot space (the sessions index in the
    first half of that window, the online index in the second, so no two buckets share a slot). Masters
    own contiguous slot ranges (``redis-cli --cluster create`` splits them evenly), so the buckets spread
    over any number of masters up to ``buckets``. The salt is the first one landing in the window:
    searched, not random, so every process computes the same tags. A plain user tag has no ``.``, so no
    user's keys can share a bucket's tag.
    """
    half = 1 if index == ONLINE_INDEX else 0
    tags = []
    for bucket in range(buckets):
        low = bucket * REDIS_CLUSTER_HASH_SLOTS // buckets
        high = (bucket + 1) * REDIS_CLUSTER_HASH_SLOTS // buckets
        middle = (low + high) // 2
        low, high = (middle, high) if half else (low, max(middle, low + 1))
        salt = 0
        while not low <= key_slot(f"{index}.{bucket}.{salt}".encode()) < high:
            salt += 1
        tags.append(f"{index}.{bucket}.{salt}")
    return tuple(tags)


def index_key(index: str, tag: str) -> str:
    namespace = PRESENCE if index == ONLINE_INDEX else NAMESPACE
    return make_key(namespace, index, tag=tag)


def legacy_index_key(index: str) -> str:
    """The single key an index lived in before it was sharded (``{global}``): read until it is migrated."""
    return index_key(index, GLOBAL_TAG)


def cleanup_lock_key() -> str:
    return make_key(NAMESPACE, "cleanup", tag=GLOBAL_TAG)


def user_keys(tag: str) -> list[str]:
    """The per-user keys most scripts take, in the order the scripts expect them."""
    return [user_index_key(tag), presence_key(tag), last_seen_key(tag)]


def presence_hidden_key(tag: str) -> str:
    """Set when the user hides their online status from other users (a setting: no TTL)."""
    return make_key(PRESENCE, "hidden", tag=tag)
