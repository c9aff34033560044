from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "sessions_app"
    label = "winkr_sessions"
    verbose_name = "Winkr device sessions"
    default_auto_field = "django.db.models.BigAutoField"
