"""A URL converter for user ids that fit a database integer.

Django's ``<int:...>`` matches any number of digits; an id beyond 64 bits reached the database and
raised OverflowError (a 500). At most 18 digits always fits a signed 64-bit column; longer is a 404.
SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"] documents the bound in /api/schema/.
"""

from __future__ import annotations

from django.urls.converters import IntConverter

MAX_DIGITS = 18


class UserIdConverter(IntConverter):
    regex = f"[0-9]{{1,{MAX_DIGITS}}}"
