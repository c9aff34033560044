from caching_app.foundation import apps


class SessionsConfig(apps.WinkrAppConfig):
    name = "sessions_app"
    label = "winkr_sessions"
    verbose_name = "Winkr device sessions"

    def connect(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save

        from .receivers import register_cookie_login
        from .revocation import on_user_deleted, on_user_saved

        user_logged_in.connect(register_cookie_login, dispatch_uid="winkr_sessions.register_cookie_login")
        # Deactivated or deleted anywhere (admin, shell, another process): logged out everywhere.
        user_model = get_user_model()
        post_save.connect(on_user_saved, sender=user_model, dispatch_uid="winkr_sessions.user_saved")
        post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid="winkr_sessions.user_deleted")
