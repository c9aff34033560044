from caching_app.foundation import apps


class DemoConfig(apps.WinkrAppConfig):
    name = "winkr.demo"
    label = "demo"
    verbose_name = "Winkr demo API"
    checks_module = None

    def connect(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from . import receivers
        from .models import Like, Photo, Profile
        from .signals import match_created

        post_save.connect(receivers.create_profile, sender=get_user_model(), dispatch_uid="demo.create_profile")
        for signal, event in ((post_save, "save"), (post_delete, "delete")):
            for model in (Profile, Photo):
                signal.connect(receivers.invalidate_user_caches, sender=model,
                               dispatch_uid=f"demo.invalidate_user_caches.{model.__name__}.{event}")
            signal.connect(receivers.invalidate_liker_recommendations, sender=Like,
                           dispatch_uid=f"demo.invalidate_liker_recommendations.{event}")
        # The project wires its demo to the reusable realtime_app (never the other way round).
        match_created.connect(receivers.notify_match, dispatch_uid="demo.notify_match")
