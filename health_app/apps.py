from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health_app"
    label = "winkr_health"
    verbose_name = "Winkr health checks"
    default_auto_field = "django.db.models.BigAutoField"
