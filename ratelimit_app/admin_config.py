"""``INSTALLED_APPS`` entry for the admin with its password forms under the login throttle.

Its own module (not ``apps.py``): an ``apps.py`` holding two AppConfig classes would make
Django guess which one is ratelimit_app's.
"""

from django.contrib.admin.apps import AdminConfig


class ThrottledAdminConfig(AdminConfig):
    """Replaces ``"django.contrib.admin"``: ``admin.site`` is a :class:`~ratelimit_app.forms.ThrottledAdminSite`
    (login and password change under the API's failed-login policy)."""

    default_site = "ratelimit_app.forms.ThrottledAdminSite"
