"""``manage.py warm_cache [--kind K] [--limit N]``: fill caches ahead of traffic."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from redis.exceptions import RedisError
from tqdm import tqdm

from caching_app.conf import caching_settings
from caching_app.foundation.connections import get_redis
from caching_app.service import CacheUnavailable
from caching_app.warming import get_warmers


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Fill the caches from the database. Idempotent: safe to rerun, e.g. after a Redis restart."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", help="Warm only this cache kind (default: every configured kind).")
        parser.add_argument("--limit", type=positive_int, help="Warm at most this many entries per kind.")
        parser.add_argument("--batch-size", type=positive_int, default=500, help="Entries per Redis round trip.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw progress bars.")

    def handle(self, *args: Any, kind: str | None = None, limit: int | None = None, batch_size: int = 500,
               no_progress: bool = False, **options: Any) -> None:
        try:
            warmers = get_warmers()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if not warmers:
            msg = "Nothing to warm: WINKR_CACHING['WARMERS'] names no warmer."
            raise CommandError(msg)
        if kind is not None and kind not in warmers:
            msg = f"Cannot warm {kind!r}: warmable kinds are {', '.join(sorted(warmers))}."
            raise CommandError(msg)
        alias = caching_settings.ALIAS
        try:
            get_redis(alias).ping()
        except RedisError as exc:
            msg = (
                f"Redis alias {alias!r} is unreachable ({exc}); nothing was warmed. "
                "Start Redis or fix REDIS_CACHE_URL and rerun (warming is idempotent)."
            )
            raise CommandError(msg) from exc
        # tqdm draws with carriage returns on the raw stream; Django's OutputWrapper would add newlines.
        stream = getattr(self.stderr, "_out", sys.stderr)
        for name in [kind] if kind else sorted(warmers):
            warmer = warmers[name]
            done = 0
            with tqdm(total=warmer.count(limit), desc=name, unit="entries", file=stream, disable=no_progress) as bar:
                try:
                    for written in warmer.batches(limit, batch_size):
                        done += written
                        bar.update(written)
                except CacheUnavailable as exc:
                    msg = (
                        f"Warming {name!r} failed after {done} entries: {exc}. "
                        "Rerun when Redis is back (warming is idempotent)."
                    )
                    raise CommandError(msg) from exc
            self.stdout.write(f"{name}: warmed {done} entries")
