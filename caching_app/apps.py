from django.apps import AppConfig


class CachingConfig(AppConfig):
    name = "caching_app"
    label = "winkr_caching"
    verbose_name = "Winkr caching and Redis connections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
