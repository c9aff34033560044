from caching_app.foundation import apps


class JWTConfig(apps.WinkrAppConfig):
    name = "sessions_app.jwt"
    label = "winkr_jwt"
    verbose_name = "Winkr JWT revocation"

    def connect(self) -> None:
        from . import receivers, schema  # noqa: F401  (the receivers and the schema extension)

        receivers.connect()
