from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime_app"
    label = "winkr_realtime"
    verbose_name = "Winkr realtime chat and notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .recipients import connect_invalidation

        connect_invalidation()
