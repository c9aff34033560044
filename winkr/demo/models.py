"""The demo domain: profiles, photo metadata and likes (a mutual like is a match)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.db.models import F, Q

DISPLAY_NAME_LENGTH = 50


def default_display_name(user: AbstractBaseUser) -> str:
    """A new profile's name: the username, cut to the field's length."""
    return user.get_username()[:DISPLAY_NAME_LENGTH]


class Profile(models.Model):
    class Gender(models.TextChoices):
        WOMAN = "woman", "Woman"
        MAN = "man", "Man"
        NONBINARY = "nonbinary", "Non-binary"
        OTHER = "other", "Other"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=DISPLAY_NAME_LENGTH)
    bio = models.TextField(max_length=500, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=16, choices=Gender.choices, blank=True)
    interests = models.JSONField(default=list, blank=True)
    # The database keeps the last location; the Redis GEO index is derived from it.
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_updated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.display_name} (user {self.user_id})"

    @property
    def age(self) -> int | None:
        if self.birth_date is None:
            return None
        today = date.today()
        return today.year - self.birth_date.year - ((today.month, today.day) < (self.birth_date.month,
                                                                                 self.birth_date.day))


class Photo(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos")
    url = models.URLField(max_length=500)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    caption = models.CharField(max_length=200, blank=True)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "created_at", "id"]

    def __str__(self) -> str:
        return f"photo {self.pk} of user {self.user_id}"


class Like(models.Model):
    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes_given")
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes_received")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_user", "to_user"], name="demo_like_once"),
            models.CheckConstraint(condition=~Q(from_user=F("to_user")), name="demo_like_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.from_user_id} likes {self.to_user_id}"

    @property
    def is_mutual(self) -> bool:
        return Like.objects.filter(from_user_id=self.to_user_id, to_user_id=self.from_user_id).exists()
