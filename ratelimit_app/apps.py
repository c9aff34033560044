from caching_app.foundation import apps


class RateLimitConfig(apps.WinkrAppConfig):
    name = "ratelimit_app"
    label = "winkr_ratelimit"
    verbose_name = "Winkr rate limits"
