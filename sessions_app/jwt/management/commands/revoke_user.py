from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from sessions_app.jwt import devices


class Command(BaseCommand):
    help = "Log a user out everywhere: every JWT issued so far, every device and cookie session."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        try:
            count = devices.end_all(user.pk)
        except RedisError as exc:
            raise CommandError(f"Redis is unreachable ({exc}); the user was not logged out. Try again.") from exc
        self.stdout.write(self.style.SUCCESS(f"{username}: all tokens revoked, {count} device session(s) ended."))
