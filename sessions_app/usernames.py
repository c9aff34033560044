"""One comparison of usernames, used by registration and by every login (API and admin).

Django stores usernames NFKC-normalised (``AbstractBaseUser.normalize_username``) but its
uniqueness is exact, and ``__iexact`` on the raw input ran before that normalisation, so
``ＣＡＲＯＬ`` (fullwidth) registered beside ``carol``. Here two names are the same when their
:func:`caching_app.foundation.inputs.text_key` (NFKC, case fold, NFKC: RFC 8265's case-mapped profile)
is equal, and :class:`UsernameBackend` makes every ``authenticate()`` find the account by it.

Look-alikes: a name that mixes scripts *and* contains characters confusable with another
script (``cаrol`` with a Cyrillic ``а``) is refused at registration, the rule django-registration
applies, using the Unicode confusables data packaged by ``confusable-homoglyphs``. Single-script
names in any script (``иван``, ``小明``, ``josé``) are welcome; a whole-Cyrillic name that happens
to look Latin is not caught (a skeleton comparison would be; see the README's Security section).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from confusable_homoglyphs import confusables
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from caching_app.foundation.inputs import text_key

canonical = text_key  # the one comparison form; re-exported so callers read "usernames.canonical"


def _field() -> str:
    return get_user_model().USERNAME_FIELD


def find_user(username: str) -> Any | None:
    """The user whose username compares equal to ``username`` (exact match first), or None."""
    if not isinstance(username, str) or not username:
        return None
    model = get_user_model()
    wanted = canonical(username)
    # The database narrows by its own case-insensitive match on the NFKC form; Python then applies
    # the exact comparison (the database's lower() is not Unicode case folding).
    candidates = model._default_manager.filter(
        **{f"{_field()}__iexact": unicodedata.normalize("NFKC", username)}).order_by("pk")[:20]
    matches = [user for user in candidates if canonical(user.get_username()) == wanted]
    for user in matches:
        if user.get_username() == username:
            return user
    return matches[0] if matches else None


def is_taken(username: str) -> bool:
    return find_user(username) is not None


def looks_like_another_script(username: str) -> bool:
    """True for a mixed-script name holding characters confusable with another script."""
    return bool(confusables.is_dangerous(username))


class UsernameBackend(ModelBackend):
    """``ModelBackend`` that finds the account by the canonical comparison (``ＡＬＩＣＥ`` logs in as ``alice``).

    List it in ``AUTHENTICATION_BACKENDS`` instead of ``ModelBackend``; everything else (password
    check, ``is_active``, permissions, the timing defence for unknown names) is Django's.
    """

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        if username is None:
            username = kwargs.get(_field())
        if isinstance(username, str):
            user = find_user(username)
            if user is not None:
                username = user.get_username()
        return super().authenticate(request, username=username, password=password, **kwargs)
