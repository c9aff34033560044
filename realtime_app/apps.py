from caching_app.foundation import apps


class RealtimeConfig(apps.WinkrAppConfig):
    name = "realtime_app"
    label = "winkr_realtime"
    verbose_name = "Winkr realtime chat and notifications"

    def connect(self) -> None:
        from django.core.signals import setting_changed

        from .layers import reset_layers_on_redis_change
        from .recipients import connect_invalidation

        connect_invalidation()
        setting_changed.connect(reset_layers_on_redis_change, dispatch_uid="winkr_realtime.reset_layers")
