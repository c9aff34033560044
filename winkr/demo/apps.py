from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "winkr.demo"
    label = "demo"
    verbose_name = "Winkr demo API"
    default_auto_field = "django.db.models.BigAutoField"
