"""Cache invalidation on model changes, run after the transaction commits.

After commit, not before: an invalidation inside the transaction would let a concurrent
reader re-cache the old rows (still the only committed ones) under the new generation.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from caching_app.service import cache_service

from .models import Like, Photo, Profile


def invalidate_user_caches(sender: type, instance: Profile | Photo, **kwargs: Any) -> None:
    """A profile or photo changed: everything cached about its user is out of date."""
    user_id = instance.user_id
    transaction.on_commit(lambda: cache_service.invalidate_user(user_id))


def invalidate_liker_recommendations(sender: type, instance: Like, **kwargs: Any) -> None:
    """Liked users leave the liker's recommendations (and come back when a like is deleted)."""
    user_id = instance.from_user_id
    transaction.on_commit(lambda: cache_service.invalidate_match_recommendations(user_id))
