"""``manage.py sessions list --user U``, ``sessions revoke --user U (--session ID | --all)`` and
``sessions migrate-indexes [--from-buckets N]``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from redis.exceptions import RedisError

from sessions_app import services
from sessions_app.keys import MAX_INDEX_BUCKETS
from sessions_app.revocation import log_out_everywhere


def resolve_user(value: str) -> Any:
    """The user named ``value`` (username first, then primary key)."""
    users = get_user_model()._default_manager
    user = users.filter(**{users.model.USERNAME_FIELD: value}).first()
    if user is None:
        try:
            user = users.filter(pk=value).first()
        except (ValueError, TypeError, ValidationError):  # e.g. a non-numeric value for an integer pk
            user = None
    if user is None:
        msg = f"No user with username or id {value!r}."
        raise CommandError(msg)
    return user


class Command(BaseCommand):
    help = "List or revoke a user's device sessions (cookie and JWT) stored in Redis."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="list a user's live device sessions")
        listing.add_argument("--user", required=True, help="username or user id")
        revoke = sub.add_parser("revoke", help="log a user out of one device or of all of them")
        revoke.add_argument("--user", required=True, help="username or user id")
        which = revoke.add_mutually_exclusive_group(required=True)
        which.add_argument("--session", help="the session id to revoke (see `sessions list`)")
        which.add_argument("--all", action="store_true", help="revoke every session of the user")
        migrate = sub.add_parser("migrate-indexes", help="move all-sessions and online index entries into their "
                                 "buckets (after upgrading from the single-key indexes, or changing INDEX_BUCKETS)")
        migrate.add_argument("--from-buckets", type=int, metavar="N",
                             help="move from the buckets of INDEX_BUCKETS=N (default: from the single legacy keys)")

    def handle(self, *args: Any, action: str, user: str | None = None, **options: Any) -> None:
        if action == "migrate-indexes":
            return self._migrate(options.get("from_buckets"))
        if user is None:
            msg = f"`sessions {action}` needs a user."
            raise CommandError(msg)
        account = resolve_user(user)
        try:
            if action == "list":
                self._list(account)
            else:
                self._revoke(account, options.get("session"), options.get("all", False))
        except RedisError as exc:
            msg = f"Redis is unavailable ({exc}); check REDIS_URL and try again."
            raise CommandError(msg) from exc

    def _list(self, account: Any) -> None:
        records = services.list_sessions(account.pk)
        if not records:
            self.stdout.write(f"{account} has no live device sessions.")
            return
        for record in records:
            device = record.device
            description = " ".join(str(device[name]) for name in ("device_type", "os", "browser") if device.get(name))
            self.stdout.write(
                f"{record.id}  {record.kind:6}  {description or '-'}  ip={record.ip or '-'}  "
                f"created={record.created_at:%Y-%m-%d %H:%M:%S}  last_activity={record.last_activity:%Y-%m-%d %H:%M:%S}"
            )

    def _revoke(self, account: Any, session_id: str | None, everything: bool) -> None:
        if everything:
            count = log_out_everywhere(account.pk)
            self.stdout.write(self.style.SUCCESS(
                f"Revoked {count} session(s) of {account}; every token and open socket of theirs too."))
            return
        if session_id is None:
            msg = "Name a session id, or --all for every session of the user."
            raise CommandError(msg)
        record = services.get_session(session_id)
        if record is None or record.user_id != str(account.pk):
            msg = f"{account} has no live session {session_id!r} (see `manage.py sessions list`)."
            raise CommandError(msg)
        services.delete_session(session_id, reason="revoked")
        self.stdout.write(self.style.SUCCESS(f"Revoked session {session_id} of {account}."))

    def _migrate(self, from_buckets: int | None) -> None:
        if from_buckets is not None and not 1 <= from_buckets <= MAX_INDEX_BUCKETS:
            msg = f"--from-buckets must be from 1 to {MAX_INDEX_BUCKETS}, got {from_buckets}."
            raise CommandError(msg)
        try:
            moved = services.migrate_indexes(from_buckets)
        except RedisError as exc:
            msg = f"Redis is unavailable ({exc}); check REDIS_URL and try again."
            raise CommandError(msg) from exc
        summary = ", ".join(f"{count} {name} entries" for name, count in moved.items())
        self.stdout.write(self.style.SUCCESS(f"Moved {summary} into their buckets."))
