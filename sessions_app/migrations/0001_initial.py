from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="LiveSession",
            fields=[("id", models.CharField(max_length=120, primary_key=True, serialize=False))],
            options={"verbose_name": "session", "verbose_name_plural": "sessions", "managed": False},
        ),
    ]
