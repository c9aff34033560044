from django.apps import AppConfig


class RateLimitConfig(AppConfig):
    name = "ratelimit_app"
    label = "winkr_ratelimit"
    verbose_name = "Winkr rate limits"
    default_auto_field = "django.db.models.BigAutoField"
