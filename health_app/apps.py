from caching_app.foundation import apps


class HealthConfig(apps.WinkrAppConfig):
    name = "health_app"
    label = "winkr_health"
    verbose_name = "Winkr health checks"

    def connect(self) -> None:
        from django.core.signals import setting_changed

        from .probes import reset_probe_clients

        setting_changed.connect(reset_probe_clients, dispatch_uid="winkr_health_reset_probes")
