from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from sessions_app.jwt.blacklist import blacklist


class Command(BaseCommand):
    help = "Revoke one JWT at once, given the token or its jti (a bare jti needs --user)."

    def add_arguments(self, parser):
        parser.add_argument("token_or_jti")
        parser.add_argument("--user", help="Username owning the jti (required for a bare jti).")
        parser.add_argument("--ttl", type=int, help="Seconds to keep the marker (default: the token's lifetime).")

    def handle(self, *args, token_or_jti, user=None, ttl=None, **options):
        user_id = None
        if user is not None:
            model = get_user_model()
            try:
                user_id = model._default_manager.get_by_natural_key(user).pk
            except model.DoesNotExist as exc:
                msg = f"No user named {user!r}."
                raise CommandError(msg) from exc
        try:
            added = blacklist.add_token(token_or_jti, ttl, user_id=user_id)
        except ValueError as exc:
            msg = f"{exc} Pass the whole token, or the jti with --user <username>."
            raise CommandError(msg) from exc
        except RedisError as exc:
            msg = f"Redis is unreachable ({exc}); nothing was revoked. Try again."
            raise CommandError(msg) from exc
        if added:
            self.stdout.write(self.style.SUCCESS("Token revoked."))
        else:
            self.stdout.write("Token already expired: nothing to revoke.")
