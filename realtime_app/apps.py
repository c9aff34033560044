from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime_app"
    label = "winkr_realtime"
    verbose_name = "Winkr realtime chat and notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .signals import connect_match_signal

        # The demo app's signal may not exist (a project without it): then there is nothing to connect.
        connect_match_signal()
