"""Redis key builders: the only way winkr apps turn names and user input into keys.

Every part is escaped so that user-controlled text (a username, a path, a device id)
can never forge another key: the separator ``:``, the hash-tag braces ``{}`` and ``%``
itself are percent-encoded, and over-long parts are shortened to a prefix plus a
digest. Keys that one operation touches together pass the same ``tag``, which becomes a
Redis Cluster hash tag (``{...}``), so multi-key commands and Lua scripts stay in one
slot.
"""

from __future__ import annotations

import hashlib
import re

from caching_app.conf import caching_settings

SEPARATOR = ":"
MAX_PART_LENGTH = 200
# "~" marks a shortened part (below), so a literal one is escaped too: no short part can spell
# the shortened form of a long one.
_ESCAPES = {ord("%"): "%25", ord(":"): "%3A", ord("{"): "%7B", ord("}"): "%7D", ord("~"): "%7E"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape_part(part: object) -> str:
    """Make one key part safe: no separators or braces, bounded length, never empty."""
    text = part.decode("utf-8", "backslashreplace") if isinstance(part, bytes) else str(part)
    text = text.translate(_ESCAPES)
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda match: f"%{ord(match.group()):02X}", text)
    if len(text) > MAX_PART_LENGTH:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        text = f"{text[:64]}~{digest}"
    return text or "%"  # a lone "%" is never the escape of a non-empty part


def hash_tag(value: object) -> str:
    """A Cluster hash tag for ``value``: keys sharing it land in one slot."""
    return "{" + escape_part(value) + "}"


def make_key(namespace: str, *parts: object, tag: object | None = None) -> str:
    """``<prefix>:<namespace>[:{tag}]:<part>...`` with every variable part escaped.

    ``namespace`` is code-chosen (``"session"``, ``"rl"``); ``tag`` and ``parts`` may be user input.
    """
    pieces = [caching_settings.KEY_PREFIX, escape_part(namespace)]
    if tag is not None:
        pieces.append(hash_tag(tag))
    pieces.extend(escape_part(part) for part in parts)
    return SEPARATOR.join(pieces)


# Channel-layer group names allow only ASCII letters, digits, "-", "_" and "." and < 100 characters (Channels
# validates this). Plain ids (ints, UUIDs) stay readable; anything else, and every ``secret`` value (a session
# key is a credential, and group names are visible to PUBSUB CHANNELS), becomes a digest of the whole value
# (a cut-off prefix would put two values in one group). Plain parts never hold ".", so "h." marks the digest.
def group_name(namespace: str, value: object, *, secret: bool = False) -> str:
    """The one builder of channel-layer group names (realtime_app's user groups, sessions_app's revocation groups)."""
    text = str(value)
    plain = text and len(text) < 60 and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text)
    if secret or not plain:
        text = "h." + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{namespace}.{text}"
