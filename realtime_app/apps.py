from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime_app"
    label = "winkr_realtime"
    verbose_name = "Winkr realtime chat and notifications"
    default_auto_field = "django.db.models.BigAutoField"
