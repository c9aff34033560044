"""Every user has a profile: create the missing ones (new users get theirs from a post_save receiver)."""

from django.conf import settings
from django.db import migrations

DISPLAY_NAME_LENGTH = 50  # Profile.display_name's max_length when this migration was written


def create_missing_profiles(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Profile = apps.get_model("demo", "Profile")
    database = schema_editor.connection.alias
    username_field = getattr(User, "USERNAME_FIELD", "username")
    missing = User._default_manager.using(database).filter(profile__isnull=True).values_list("pk", username_field)
    Profile.objects.using(database).bulk_create(
        [Profile(user_id=pk, display_name=str(name or "")[:DISPLAY_NAME_LENGTH]) for pk, name in missing.iterator()],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("demo", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # Reversing keeps the profiles: they may have been edited since.
    operations = [migrations.RunPython(create_missing_profiles, migrations.RunPython.noop)]
