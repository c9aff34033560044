from django.apps import AppConfig


class JWTConfig(AppConfig):
    name = "sessions_app.jwt"
    label = "winkr_jwt"
    verbose_name = "Winkr JWT revocation"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (registers checks and signal receivers)

        receivers.connect()
