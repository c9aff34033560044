"""Recommendations and likes: the demo's domain logic, kept out of the views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction

from caching_app.service import Prefetched, cache_service

from .models import Like, Profile
from .serializers import PublicProfileSerializer
from .signals import match_created

RECOMMENDATIONS = 20
CANDIDATES = 500


def recommendations(user_id: int, limit: int = RECOMMENDATIONS) -> dict[str, Any]:
    """Profiles the user has not liked yet, most shared interests first (JSON-ready)."""
    mine = Profile.objects.filter(user_id=user_id).values_list("interests", flat=True).first() or []
    liked = Like.objects.filter(from_user_id=user_id).values("to_user_id")
    candidates = list(
        Profile.objects.exclude(user_id=user_id).exclude(user_id__in=liked).order_by("-updated_at")[:CANDIDATES]
    )
    shared = set(mine)
    candidates.sort(key=lambda p: (-len(shared.intersection(p.interests or [])), p.user_id))
    return {"results": PublicProfileSerializer(candidates[:limit], many=True).data}


async def acached_recommendations(user_id: int, prefetched: Prefetched | None = None) -> tuple[dict[str, Any], bool]:
    """The cached recommendations, and whether they came from the cache; only a miss's database read takes a
    thread (the view is async: caching_app.async_views)."""
    return await cache_service.alookup(cache_service.match_recommendations_entry(user_id),
                                       sync_to_async(lambda: recommendations(user_id)), prefetched=prefetched)


@dataclass(frozen=True)
class LikeResult:
    created: bool
    match: bool


def like(from_user_id: int, to_user_id: int) -> LikeResult:
    """Record a like; a mutual like is a match: both users' recommendations are invalidated and
    ``match_created`` is sent once the transaction has committed."""
    with transaction.atomic():
        _, created = Like.objects.get_or_create(from_user_id=from_user_id, to_user_id=to_user_id)
        match = Like.objects.filter(from_user_id=to_user_id, to_user_id=from_user_id).exists()
        if match:
            def on_match() -> None:
                cache_service.invalidate_match_recommendations(to_user_id)
                if created:
                    match_created.send(sender=Like, user_ids=(from_user_id, to_user_id))

            transaction.on_commit(on_match)
    return LikeResult(created=created, match=match)
