from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "sessions_app"
    label = "winkr_sessions"
    verbose_name = "Winkr device sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401  (registers the system checks)
        from .receivers import register_cookie_login

        user_logged_in.connect(register_cookie_login, dispatch_uid="winkr_sessions.register_cookie_login")
