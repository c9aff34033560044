"""``manage.py revoke_user USERNAME``: kept as an alias of ``manage.py sessions revoke --user U --all``.

Both call :func:`sessions_app.revocation.log_out_everywhere`, so they do exactly the same thing.
"""

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from sessions_app.management.commands.sessions import resolve_user
from sessions_app.revocation import log_out_everywhere


class Command(BaseCommand):
    help = "Log a user out everywhere: every JWT, every device and cookie session, every open socket " \
           "(alias of `sessions revoke --user U --all`)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="username or user id")

    def handle(self, *args, username, **options):
        user = resolve_user(username)
        try:
            count = log_out_everywhere(user.pk)
        except RedisError as exc:
            msg = f"Redis is unreachable ({exc}); the user was not logged out. Try again."
            raise CommandError(msg) from exc
        self.stdout.write(self.style.SUCCESS(f"{username}: all tokens revoked, {count} device session(s) ended."))
