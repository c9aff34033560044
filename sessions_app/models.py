"""No tables: device sessions live in Redis. One unmanaged model gives the admin its Sessions page
and Django's permissions (``view_livesession`` to list, ``delete_livesession`` to revoke)."""

from django.db import models


class LiveSession(models.Model):
    id = models.CharField(primary_key=True, max_length=120)

    class Meta:
        managed = False
        verbose_name = "session"
        verbose_name_plural = "sessions"

    def __str__(self) -> str:
        return self.id
