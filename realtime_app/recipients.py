"""Who may receive a chat message from whom: the database lookup, and a short in-process memory of "yes".

Every chat frame needs "the recipient exists, is active, and SEND_POLICY allows it". Asking the
database per frame cost a query plus a thread hop (``database_sync_to_async``) on the hot path. A
conversation sends many messages to the same person, so a positive answer is remembered per
(policy, sender, recipient) for ``RECIPIENT_CACHE_TTL`` seconds in this process; refusals are never
remembered (a new match must be able to write at once). A saved or deleted user drops every answer
that mentions them in this process; other processes learn within the TTL, which bounds how long a
deactivated user or a withdrawn permission can still receive messages. ``RECIPIENT_CACHE_TTL = 0``
asks the database every time.

Hand-written rather than cachetools/LocMemCache: no new dependency, no pickling of entries, and the
invalidation by user needs a scan that generic caches do not offer; it is a dict and a lock.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, post_save

from .conf import realtime_settings
from .errors import InvalidInput, NotAllowed, RecipientNotFound

MAX_ENTRIES = 10_000


class RecentPairs:
    """A bounded, thread-safe set of ``(scope, user pk, user pk)`` that expire: "this pair was fine lately".

    Used for allowed (sender, recipient) pairs (scope: the policy) and by chat for partner indexes
    written lately (scope: None).
    """

    def __init__(self, max_entries: int = MAX_ENTRIES, clock: Any = time.monotonic):
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[tuple[Any, str, str], float] = {}
        self._lock = threading.Lock()

    def contains(self, scope: Any, first: str, second: str) -> bool:
        expires = self._entries.get((scope, first, second))
        return expires is not None and expires > self.clock()

    def remember(self, scope: Any, first: str, second: str, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = self.clock()
                self._entries = {k: v for k, v in self._entries.items() if v > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()  # all live: start over rather than grow without bound
            self._entries[(scope, first, second)] = self.clock() + ttl

    def forget_user(self, user_pk: object) -> None:
        pk = str(user_pk)
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if pk not in (k[1], k[2])}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


allowed_recipients = RecentPairs()


# Integer primary keys from clients: 0 to 10**18 - 1 (always fits a signed 64-bit column), written as
# plain ASCII digits. int() alone would also take " 1", "+1", "1_000" and other scripts' digits.
MAX_INTEGER_ID = 10**18 - 1
INTEGER_ID = re.compile(r"[0-9]{1,18}")
INTEGER_PK_TYPES = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
                    "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"}


def integer_user_ids() -> bool:
    """True when the user model's primary key is an integer (the API schema then says integer too)."""
    return get_user_model()._meta.pk.get_internal_type() in INTEGER_PK_TYPES


def clean_user_id(value: object, field: str = "to") -> Any:
    """A user primary key from client input, or :class:`InvalidInput`."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        msg = f"'{field}' must be a user id."
        raise InvalidInput(msg, code="invalid_recipient")
    if integer_user_ids() and not (isinstance(value, int) and 0 <= value <= MAX_INTEGER_ID
                                   or isinstance(value, str) and INTEGER_ID.fullmatch(value)):
        msg = f"'{field}' must be a user id."
        raise InvalidInput(msg, code="invalid_recipient")
    try:
        return get_user_model()._meta.pk.to_python(value)
    except (ValidationError, ValueError, TypeError, OverflowError):
        msg = f"'{field}' must be a user id."
        raise InvalidInput(msg, code="invalid_recipient") from None


def checked_recipient(sender: Any, recipient_id: object) -> tuple[str, bool]:
    """Without the database: ``(recipient pk as str, True)`` when this pair was allowed recently, else
    ``(pk, False)`` and the caller must run :func:`load_recipient`. Raises on malformed or self ids."""
    recipient_pk = str(clean_user_id(recipient_id))
    if recipient_pk == str(sender.pk):
        msg = "You cannot message yourself."
        raise NotAllowed(msg, code="invalid_recipient")
    policy = realtime_settings.SEND_POLICY
    return recipient_pk, allowed_recipients.contains(policy, str(sender.pk), recipient_pk)


def load_recipient(sender: Any, recipient_pk: str) -> str:
    """Sync (database): existence, activity and SEND_POLICY; remembers a yes. Returns the pk as str."""
    policy = realtime_settings.SEND_POLICY
    recipient = get_user_model()._default_manager.filter(pk=recipient_pk, is_active=True).first()
    if recipient is None:
        msg = "No such user."
        raise RecipientNotFound(msg)
    if not policy(sender, recipient):
        msg = "You may not message this user."
        raise NotAllowed(msg)
    allowed_recipients.remember(policy, str(sender.pk), str(recipient.pk),
                                float(realtime_settings.RECIPIENT_CACHE_TTL))
    return str(recipient.pk)


def _forget(sender: Any, instance: Any, **kwargs: Any) -> None:
    allowed_recipients.forget_user(instance.pk)


def connect_invalidation() -> None:
    """A user saved (deactivated, say) or deleted in this process drops their remembered answers."""
    for signal, name in ((post_save, "save"), (post_delete, "delete")):
        signal.connect(_forget, sender=settings.AUTH_USER_MODEL, weak=False,
                       dispatch_uid=f"realtime_app.forget_recipient.{name}")
