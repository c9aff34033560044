"""Receivers of the demo API: cache invalidation on model changes, and match notifications.

Invalidation runs after the transaction commits, not before: an invalidation inside the transaction
would let a concurrent reader re-cache the old rows (still the only committed ones) under the new
generation.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from redis.exceptions import RedisError

from caching_app.service import cache_service
from realtime_app.errors import Unavailable
from realtime_app.notifications import publish_notification

from .models import Like, Photo, Profile, default_display_name

logger = logging.getLogger(__name__)


def create_profile(sender: type, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    """Every user has a profile from the start (``GET /api/profiles/{id}/`` answers 200 at once).

    Runs inside the user's INSERT transaction when there is one (the register view opens it), so the
    user and the profile are committed together; fixtures (``raw``) bring their own profiles.
    """
    if created and not raw:
        Profile.objects.get_or_create(user=instance, defaults={"display_name": default_display_name(instance)})


def invalidate_user_caches(sender: type, instance: Profile | Photo, **kwargs: Any) -> None:
    """A profile or photo changed: everything cached about its user is out of date."""
    user_id = instance.user_id
    transaction.on_commit(lambda: cache_service.invalidate_user(user_id))


def invalidate_liker_recommendations(sender: type, instance: Like, **kwargs: Any) -> None:
    """Liked users leave the liker's recommendations (and come back when a like is deleted)."""
    user_id = instance.from_user_id
    transaction.on_commit(lambda: cache_service.invalidate_match_recommendations(user_id))


def notify_match(sender: type, user_ids: tuple[Any, Any], **kwargs: Any) -> None:
    """``match_created`` -> a "match" notification to both users (realtime_app's public API).

    A notification that cannot be stored is logged, never raised: the like itself already happened
    (this runs after the commit) and the users still see the match in their recommendations.
    """
    first, second = user_ids
    for user_id, other_id in ((first, second), (second, first)):
        try:
            publish_notification(user_id, "match", "New match!", {"user_id": other_id})
        except (Unavailable, RedisError):
            logger.exception("Could not notify user %s of a match", user_id)
