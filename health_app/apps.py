from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health_app"
    label = "winkr_health"
    verbose_name = "Winkr health checks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from . import checks  # noqa: F401  (registers the system checks)
        from .probes import reset_probe_clients

        setting_changed.connect(reset_probe_clients, dispatch_uid="winkr_health_reset_probes")
