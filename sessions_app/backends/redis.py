"""``SESSION_ENGINE = "sessions_app.backends.redis"``: Django sessions in Redis, aware of devices.

Behaves as Django's own backends do (the contract of ``SessionBase``), with these choices:

- One Redis hash per session: field ``d`` holds the session data (Django's SESSION_SERIALIZER,
  JSON), the other fields the device record that sessions_app adds at login. The hash
  expires with the session.
- Loading is one ``HMGET`` (data and last-activity time): one round trip. Saving is one
  EVALSHA (``lua/save.lua``) that writes the data, refreshes the expiry and moves the device
  index entry together; it refuses to resurrect a session deleted meanwhile (UpdateError, as
  the ``db`` backend does), so a revoked browser stays logged out.
- Logged-in sessions get ids carrying their user's tag (:mod:`sessions_app.keys`), so a
  session and its user's index share a Cluster slot. The user_logged_in receiver re-keys the
  session once the user is known.
- Session keys are what Django accepts (any string of 8 or more characters), so Django's own
  ``SessionTestsMixin`` passes unchanged (``tests/sessions/test_django_session_suite.py``). An
  unknown or foreign key loads as an empty session and is never reused; a key without a user
  tag (not minted by us) simply has no device record until login re-keys it.
- Tampered or corrupt data gives an empty session, never an exception.
  Redis being down raises ``RedisError``: :class:`sessions_app.middleware.SessionMiddleware`
  answers 503.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from redis.exceptions import RedisError

from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.twins import Op, Twin, arun, run
from sessions_app import device_steps, keys, scripts, services
from sessions_app.conf import sessions_settings
from sessions_app.metrics import STORE_ERRORS

logger = logging.getLogger(__name__)

MAX_CREATE_ATTEMPTS = 100
KEYS_REFUSED = "Unable to create a new session key: Redis keeps refusing new keys."
SAVE_CREATED, SAVE_EXISTS, SAVE_GONE = 1, 0, -1


class SessionStore(SessionBase):
    """Redis session store; see the module docstring."""

    #: Redis alias; None means WINKR_SESSIONS["REDIS_ALIAS"] (read at call time).
    redis_alias: str | None = None

    if TYPE_CHECKING:
        # SessionBase's private loaders (django/contrib/sessions/backends/base.py), which django-stubs omits.
        def _get_session(self, no_load: bool = False) -> dict[str, Any]: ...
        async def _aget_session(self, no_load: bool = False) -> dict[str, Any]: ...

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        # Last recorded activity (ms) of this device session, read by load(); None for other sessions.
        self.last_activity_ms: int | None = None

    # --- clients and keys ---------------------------------------------------------------------------
    def _alias(self) -> str:
        return self.redis_alias or sessions_settings.REDIS_ALIAS

    def _client(self) -> Any:
        return get_redis(self._alias())

    def _aclient(self) -> Any:
        return get_async_redis(self._alias())

    def _validate_session_key(self, key: Any) -> bool:
        # Django's rule (SessionBase._validate_session_key), plus "is a string": the key reaches
        # Redis only through keys.session_key, which escapes and bounds any text.
        return isinstance(key, str) and len(key) >= 8

    def _owner(self) -> object | None:
        try:
            return self._session_cache.get(SESSION_KEY)
        except AttributeError:
            return None

    def _get_new_session_key(self) -> str:
        # No EXISTS round trip (the base class does one): 32 random characters, and the save
        # with must_create refuses a taken key anyway.
        return keys.new_session_id(self._owner())

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

    @property
    def user_tag(self) -> str | None:
        return keys.session_tag(self.session_key)

    # --- serialization -------------------------------------------------------------------------------
    def _decode_data(self, raw: bytes) -> dict:
        try:
            data = self.serializer().loads(raw)
        except Exception as exc:  # noqa: BLE001 - any garbage in Redis is an empty session, as in Django's decode()
            logger.warning("Session data of %s could not be decoded (%s): starting an empty session",
                           type(self).__name__, exc.__class__.__name__)
            return {}
        return data if isinstance(data, dict) else {}

    def _save_args(self, session_id: str, must_create: bool, data: dict, expiry_age: int
                   ) -> tuple[list[str], list[Any]]:
        tag = keys.session_tag(session_id)
        redis_keys = [keys.require_session_key(session_id)]
        if tag:
            redis_keys.append(keys.user_index_key(tag))
        ttl_ms = int(expiry_age * 1000)  # <= 0: PEXPIRE deletes it at once, as the cache backend does
        payload = self.serializer().dumps(data)
        return redis_keys, [payload, ttl_ms, "1" if must_create else "0", session_id, int(time.time() * 1000)]

    @staticmethod
    def _check_saved(result: int) -> None:
        if result == SAVE_EXISTS:
            raise CreateError
        if result == SAVE_GONE:
            raise UpdateError

    # --- load ------------------------------------------------------------------------------------------
    def load(self) -> dict:
        if self.session_key is None:
            return self._loaded(None, None)
        try:
            raw, active = self._client().hmget(keys.session_key(self.session_key), "d", "a")
        except RedisError:
            STORE_ERRORS.labels("load").inc()
            raise
        return self._loaded(raw, active)

    async def aload(self) -> dict:
        if self.session_key is None:
            return self._loaded(None, None)
        try:
            raw, active = await self._aclient().hmget(keys.session_key(self.session_key), "d", "a")
        except RedisError:
            STORE_ERRORS.labels("load").inc()
            raise
        return self._loaded(raw, active)

    def _loaded(self, raw: bytes | None, active: bytes | None) -> dict:
        if raw is None:
            self._session_key = None
            return {}
        self.last_activity_ms = int(active) if active else None
        return self._decode_data(raw)

    # --- create / save -----------------------------------------------------------------------------------
    def create(self) -> None:
        run(self._create_op(), self._client)

    async def acreate(self) -> None:
        await arun(self._create_op(), self._aclient)

    def _create_op(self) -> Op:
        """A fresh key saved with must_create, retried while Redis says the key is taken (as Django's
        cache backend does); the sync and async ``save`` and key makers are the twin steps."""
        for _ in range(MAX_CREATE_ATTEMPTS):
            self._session_key = yield Twin(self._get_new_session_key, self._aget_new_session_key)
            try:
                yield Twin(self.save, self.asave, kwargs={"must_create": True})
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError(KEYS_REFUSED)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        session_id = self.session_key
        if session_id is None:  # the load just found the key unknown: nothing to lose, start anew
            return self.create()
        redis_keys, args = self._save_args(session_id, must_create, data, self.get_expiry_age())
        client = self._client()
        try:
            result = scripts.script(client, "save")(keys=redis_keys, args=args)
        except RedisError:
            STORE_ERRORS.labels("save").inc()
            raise
        self._check_saved(result)

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        data = await self._aget_session(no_load=must_create)
        session_id = self.session_key
        if session_id is None:
            return await self.acreate()
        redis_keys, args = self._save_args(session_id, must_create, data, await self.aget_expiry_age())
        client = self._aclient()
        try:
            result = await scripts.script(client, "save")(keys=redis_keys, args=args)
        except RedisError:
            STORE_ERRORS.labels("save").inc()
            raise
        self._check_saved(result)

    # --- exists / delete -------------------------------------------------------------------------------
    def exists(self, session_key: str) -> bool:
        redis_key = keys.session_key(session_key)
        return bool(redis_key) and bool(self._client().exists(redis_key))

    async def aexists(self, session_key: str) -> bool:
        redis_key = keys.session_key(session_key)
        return bool(redis_key) and bool(await self._aclient().exists(redis_key))

    def _deletion(self, session_key: str | None) -> tuple[str, str, bool] | None:
        """``(session key, Redis key, logged in)`` of what :meth:`delete` removes; None for nothing."""
        session_key = self.session_key if session_key is None else session_key
        if session_key is None:
            return None
        redis_key = keys.session_key(session_key)
        if redis_key is None:
            return None
        return session_key, redis_key, bool(keys.session_tag(session_key))

    def delete(self, session_key: str | None = None) -> None:
        target = self._deletion(session_key)
        if target is None:
            return
        session_key, redis_key, logged_in = target
        if logged_in:
            # A logged-in session: its device record and index entry go too, and listeners hear of it.
            services.delete_session(session_key, reason="logout")
        else:
            self._client().delete(redis_key)

    async def adelete(self, session_key: str | None = None) -> None:
        target = self._deletion(session_key)
        if target is None:
            return
        session_key, redis_key, logged_in = target
        if logged_in:
            await services.adelete_session(session_key, reason="logout")
        else:
            await self._aclient().delete(redis_key)

    # --- cycle_key ---------------------------------------------------------------------------------------
    def _device_cycle(self, data: dict) -> tuple[str, str] | None:
        """``(session key, user tag)`` when this session belongs to the user its data is logged in as (its
        device record is renamed in place); None when Django's own cycle_key applies."""
        owner, session_id, tag = data.get(SESSION_KEY), self.session_key, self.user_tag
        if owner is None or session_id is None or tag is None or keys.user_tag(owner) != tag:
            return None
        return session_id, tag

    def _cycle_args(self, old: str, new: str, tag: str, data: dict, expiry_age: int) -> tuple[list[str], list[Any]]:
        return (
            [keys.require_session_key(old), keys.require_session_key(new), keys.user_index_key(tag)],
            [old, new, self.serializer().dumps(data), int(expiry_age * 1000), int(time.time() * 1000)],
        )

    def cycle_key(self) -> None:
        """New key, same data; a logged-in session keeps its device record (renamed in place)."""
        data = self._get_session()
        device = self._device_cycle(data)
        if device is None:
            return super().cycle_key()
        run(self._cycle_op(*device, data, self.get_expiry_age()), self._client())

    async def acycle_key(self) -> None:
        """Async twin of :meth:`cycle_key` (the same steps on the event loop's client)."""
        data = await self._aget_session()
        device = self._device_cycle(data)
        if device is None:
            return await super().acycle_key()
        await arun(self._cycle_op(*device, data, await self.aget_expiry_age()), self._aclient())

    def _cycle_op(self, old: str, tag: str, data: dict[str, Any], expiry_age: int) -> Op:
        """Rename the hash to a fresh key of the same user (retrying while a key is taken), then move its
        index entries; this object takes the new key as soon as Redis holds it."""
        owner = data[SESSION_KEY]
        for _ in range(MAX_CREATE_ATTEMPTS):
            new = keys.new_session_id(owner)
            redis_keys, args = self._cycle_args(old, new, tag, data, expiry_age)
            result = yield scripts.LUA_SCRIPTS.step("cycle", redis_keys, args)
            if result:
                break
        else:
            raise RuntimeError(KEYS_REFUSED)
        self._session_key = new
        self._session_cache = data
        self.modified = True
        if result == 2:
            yield from device_steps.reindex(old, new, args[4] + args[3])

    # --- activity ----------------------------------------------------------------------------------------
    def activity_due(self) -> bool:
        """Whether this request should record activity (at most once per ACTIVITY_UPDATE_INTERVAL)."""
        if self.last_activity_ms is None or self.session_key is None:
            return False
        interval_ms = sessions_settings.ACTIVITY_UPDATE_INTERVAL * 1000
        return time.time() * 1000 - self.last_activity_ms >= interval_ms

    def record_activity(self) -> bool:
        self.last_activity_ms = int(time.time() * 1000)
        if self.session_key is None:  # nothing to touch (services would find no device session either)
            return False
        return services.update_session_activity(self.session_key)

    async def arecord_activity(self) -> bool:
        self.last_activity_ms = int(time.time() * 1000)
        if self.session_key is None:
            return False
        return await services.aupdate_session_activity(self.session_key)

    # --- expiry sweeps -----------------------------------------------------------------------------------
    @classmethod
    def clear_expired(cls) -> None:
        # Redis expires the sessions themselves; what is left to sweep are index entries.
        services.clear_expired()

    @classmethod
    async def aclear_expired(cls) -> None:
        await services.aclear_expired()
