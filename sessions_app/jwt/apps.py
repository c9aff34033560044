from django.apps import AppConfig


class JWTConfig(AppConfig):
    name = "sessions_app.jwt"
    label = "winkr_jwt"
    verbose_name = "Winkr JWT revocation"

    def ready(self) -> None:
        from . import checks, receivers, schema  # noqa: F401  (registers checks, receivers, the schema extension)

        receivers.connect()
