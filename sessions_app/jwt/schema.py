"""drf-spectacular: document RedisJWTAuthentication as the bearer scheme simplejwt's JWTAuthentication is.

Without it every protected operation listed only the cookie scheme, so clients generated from
/api/schema/ (and schemathesis) did not know a bearer token is accepted.
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class RedisJWTScheme(SimpleJWTScheme):
    target_class = "sessions_app.jwt.authentication.RedisJWTAuthentication"
