"""A short-lived copy of the user row beside the revocation markers (same hash tag).

The revocation MGET fetches it in the same round trip, so an authenticated request
needs no SQL query, while ``request.user`` stays a real model instance (foreign keys,
``has_perm`` and custom fields keep working, unlike simplejwt's ``TokenUser``).

Correctness: ``post_save``/``post_delete`` of the user model replace the copy with a
short tombstone (and again on commit), and refills use ``SET NX``, so a request that
read the old row just before the change cannot write it back. Deactivation and
deletion are therefore seen on the next request. Changes that bypass signals
(``QuerySet.update``) are seen within ``USER_CACHE_TTL``. The password hash is never
copied: it is a deferred field loaded from SQL only if code reads it.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, router, transaction
from redis.exceptions import RedisError
from rest_framework_simplejwt.settings import api_settings

from caching_app.foundation.connections import get_async_redis, get_redis

from .blacklist import user_row_key
from .conf import jwt_settings

logger = logging.getLogger(__name__)

TOMBSTONE = b"-"
_CONVERTED_TYPES = {"DateTimeField", "DateField", "TimeField", "UUIDField", "DecimalField", "DurationField"}
NEVER_CACHED = {"password"}


class UserNotFound(Exception):
    """The token's user id names no user (deleted, or a malformed id)."""


@lru_cache(maxsize=4)
def _layout(model: type[models.Model]) -> tuple[list[str], dict[str, Any]]:
    """Cached field names (attnames) and the converters of fields JSON cannot carry as is."""
    fields = [f for f in model._meta.concrete_fields if f.name not in NEVER_CACHED]
    converters = {f.attname: f.to_python for f in fields if f.get_internal_type() in _CONVERTED_TYPES}
    return [f.attname for f in fields], converters


def serialize(user: models.Model) -> bytes:
    names, _ = _layout(type(user))
    return json.dumps([getattr(user, name) for name in names], cls=DjangoJSONEncoder,
                      separators=(",", ":")).encode()


def deserialize(row: bytes) -> models.Model | None:
    """A user instance from a cached row (``password`` deferred), or None if unusable."""
    model = get_user_model()
    names, converters = _layout(model)
    try:
        values = json.loads(row)
    except ValueError:
        return None
    if not isinstance(values, list) or len(values) != len(names):
        return None  # the model changed since the row was written: treat as a miss
    if converters:
        for index, name in enumerate(names):
            if name in converters and values[index] is not None:
                values[index] = converters[name](values[index])
    return model.from_db(router.db_for_read(model), names, values)


def _lookup(user_id: str) -> dict[str, Any]:
    model = get_user_model()
    field = model._meta.get_field(api_settings.USER_ID_FIELD)
    if not isinstance(field, models.Field):  # a reverse relation or generic key holds no id
        msg = f"USER_ID_FIELD {api_settings.USER_ID_FIELD!r} is not a concrete field of the user model."
        raise ImproperlyConfigured(msg)
    try:
        value = field.to_python(user_id)
    except ValidationError as exc:
        raise UserNotFound(user_id) from exc
    return {api_settings.USER_ID_FIELD: value}


def fetch_user(user_id: str) -> AbstractBaseUser:
    """The user from SQL (the miss path)."""
    model = get_user_model()
    try:
        return model.objects.get(**_lookup(user_id))
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise UserNotFound(user_id) from exc


async def afetch_user(user_id: str) -> AbstractBaseUser:
    model = get_user_model()
    try:
        return await model.objects.aget(**_lookup(user_id))
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise UserNotFound(user_id) from exc


def _cacheable(user_id: str, user: models.Model) -> bool:
    # Only rows keyed by primary key are cached: the key's tag is the token's user id.
    return str(getattr(user, api_settings.USER_ID_FIELD)) == user_id


def remember(user_id: str, user: models.Model) -> None:
    ttl = jwt_settings.USER_CACHE_TTL
    if ttl and _cacheable(user_id, user):
        get_redis(jwt_settings.ALIAS).set(user_row_key(user_id), serialize(user), ex=int(ttl), nx=True)


async def aremember(user_id: str, user: models.Model) -> None:
    ttl = jwt_settings.USER_CACHE_TTL
    if ttl and _cacheable(user_id, user):
        await get_async_redis(jwt_settings.ALIAS).set(user_row_key(user_id), serialize(user), ex=int(ttl), nx=True)


def forget(user_id: object) -> None:
    """Replace the cached row with a tombstone (refills refused until it expires)."""
    ttl = max(1, int(jwt_settings.USER_CACHE_TOMBSTONE_TTL))
    get_redis(jwt_settings.ALIAS).set(user_row_key(user_id), TOMBSTONE, ex=ttl)


def on_user_changed(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """post_save / post_delete receiver: drop the copy now and once the transaction commits."""
    user_id = getattr(instance, api_settings.USER_ID_FIELD, None)
    if user_id is None or kwargs.get("created"):  # a new user has no cached row yet
        return
    _safe_forget(user_id)
    transaction.on_commit(lambda: _safe_forget(user_id), using=kwargs.get("using"))


def _safe_forget(user_id: object) -> None:
    try:
        forget(user_id)
    except RedisError:  # a Redis outage must not fail the save; USER_CACHE_TTL bounds staleness
        logger.exception("Could not invalidate the cached user row of user %s", user_id)
