from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime_app"
    label = "winkr_realtime"
    verbose_name = "Winkr realtime chat and notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from . import checks  # noqa: F401  (registers the system checks)
        from .layers import reset_layers_on_redis_change
        from .recipients import connect_invalidation

        connect_invalidation()
        setting_changed.connect(reset_layers_on_redis_change, dispatch_uid="winkr_realtime.reset_layers")
