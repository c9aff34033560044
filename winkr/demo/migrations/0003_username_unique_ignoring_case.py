"""Usernames unique ignoring case, in the database, so two registrations racing as "Alice" and "alice"
cannot both succeed (the register view's check compares with ``iexact``, i.e. ``UPPER()`` on PostgreSQL
and ASCII-only ``LIKE`` on SQLite; an index on ``UPPER(username)`` agrees with it on both).

Only for Django's own ``auth.User``: a custom user model owns its constraints.
"""

from django.conf import settings
from django.db import migrations

INDEX = "demo_auth_user_username_upper_uniq"


def _applies(schema_editor) -> bool:
    return settings.AUTH_USER_MODEL == "auth.User" and schema_editor.connection.vendor in ("postgresql", "sqlite")


def create_index(apps, schema_editor):
    if _applies(schema_editor):
        schema_editor.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {INDEX} ON auth_user (UPPER(username))")


def drop_index(apps, schema_editor):
    if _applies(schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("demo", "0002_profiles_for_existing_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
