import json

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from sessions_app.jwt.stats import collect


class Command(BaseCommand):
    help = "Count the JWT revocation markers in Redis and the memory each kind uses."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, **options):
        try:
            stats = collect()
        except RedisError as exc:
            msg = f"Redis is unreachable ({exc}). Try again."
            raise CommandError(msg) from exc
        if options["json"]:
            self.stdout.write(json.dumps(stats))
            return
        for name, value in stats.items():
            if name != "bytes_per_key":
                per_key = stats["bytes_per_key"].get(name)
                self.stdout.write(f"{name}: {value}" + (f" (~{per_key} bytes each)" if per_key else ""))
