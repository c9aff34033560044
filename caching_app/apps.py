from caching_app.foundation import apps


class CachingConfig(apps.WinkrAppConfig):
    name = "caching_app"
    label = "winkr_caching"
    verbose_name = "Winkr caching and Redis connections"
