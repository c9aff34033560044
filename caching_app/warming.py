"""Cache warming: the contract a warmer implements and how ``manage.py warm_cache`` finds them.

caching_app does not know the project's models, so each warmable kind names a
:class:`Warmer` subclass in ``WINKR_CACHING["WARMERS"]`` (``{kind: "dotted.Path"}``);
the demo API registers its own in ``winkr/settings.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import ImproperlyConfigured

from .conf import caching_settings


class Warmer:
    """Fill one cache kind from its source of truth.

    Contract: warming is idempotent (running it twice leaves the same entries); ``batches``
    writes one batch at a time and yields how many entries it wrote, so a caller can show
    progress; a cache it cannot write raises :class:`caching_app.service.CacheUnavailable`.
    """

    kind: str = ""

    def count(self, limit: int | None) -> int:
        raise NotImplementedError

    def batches(self, limit: int | None, batch_size: int) -> Iterator[int]:
        raise NotImplementedError


def get_warmers() -> dict[str, Warmer]:
    """Configured warmers by kind, instantiated; ImproperlyConfigured names a bad entry."""
    configured = caching_settings.WARMERS  # imported by the settings object
    if not isinstance(configured, dict):
        msg = "WINKR_CACHING['WARMERS'] must be a dict of kind -> dotted path."
        raise ImproperlyConfigured(msg)
    return {kind: warmer_class() for kind, warmer_class in configured.items()}
