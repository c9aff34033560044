from django.apps import AppConfig


class RateLimitConfig(AppConfig):
    name = "ratelimit_app"
    label = "winkr_ratelimit"
    verbose_name = "Winkr rate limits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
