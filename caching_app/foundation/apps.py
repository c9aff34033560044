"""The base AppConfig of every winkr app."""

from __future__ import annotations

from importlib import import_module

from django.apps import AppConfig


class WinkrAppConfig(AppConfig):
    """Registers the app's system checks (its ``checks`` module) when Django is ready, then :meth:`connect`.

    Django's checks register on import (``@register``), so every app must import its ``checks`` module in
    ``ready()``; one base class does it, and apps only add their receivers. Import this module, not the
    class, in an ``apps.py``: Django picks the one AppConfig subclass an ``apps.py`` holds, and two would
    leave it with none.
    """

    default_auto_field = "django.db.models.BigAutoField"
    checks_module: str | None = "checks"

    def ready(self) -> None:
        if self.checks_module:
            import_module(f"{self.name}.{self.checks_module}")
        self.connect()

    def connect(self) -> None:
        """Connect the app's signal receivers (none by default)."""
