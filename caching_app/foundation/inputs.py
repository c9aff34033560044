"""Client input, bounded and normalised before it reaches a key, a cache or Redis.

Every app builds keys from client text (usernames, IPs, ids, device fields) and memoises
some key builders. Two attacks follow from doing that with raw input, and this module is
the one place that closes them:

- **memory**: an in-process memo keyed by raw client text keeps whatever a client sends (a
  2.4 MB username, 4096 times over). :func:`bounded_memo` only memoises calls whose text
  arguments are short; longer ones are computed each time and forgotten.
- **encoding**: a JSON body may carry a lone UTF-16 surrogate (``"\\ud800"``), a ``str`` that
  cannot be encoded as UTF-8, so hiredis fails deep inside a view (a 500) or a socket handler.
  :func:`find_unencodable` names where such a string is, for a parser or a frame handler to
  refuse the input first; :func:`reject_unencodable` is the same as a serializer field validator.

:func:`text_key` is the canonical comparison form of human-typed names (NFKC + case fold).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# Longest text argument a memoised key builder keeps (characters). Every memo below keeps at most
# ``maxsize`` entries, so memory is bounded by maxsize * this, whatever clients send.
MAX_MEMO_TEXT = 512
# How deep find_unencodable looks into a parsed body (the JSON parser refuses deeper bodies anyway).
_MAX_DEPTH = 64


_TEXT = (str, bytes)  # a tuple, not ``str | bytes``: that union is built anew at every call


def _all_short(values: tuple | Any, limit: int) -> bool:
    # A plain loop: this runs for every memoised key on the request path (generators cost more than the check).
    for value in values:
        if isinstance(value, _TEXT):
            if len(value) > limit:
                return False
        elif isinstance(value, tuple) and not _all_short(value, limit):
            return False
    return True


def bounded_memo(maxsize: int, max_text: int = MAX_MEMO_TEXT) -> Callable[[F], F]:
    """``functools.lru_cache(maxsize)`` that memoises only calls whose text arguments are short.

    A call with a longer ``str``/``bytes`` argument (or one inside a tuple argument) runs the
    function without caching, so the memo can never hold more than ``maxsize`` short entries.
    """

    def decorate(func: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _all_short(args, max_text) and (not kwargs or _all_short(tuple(kwargs.values()), max_text)):
                return cached(*args, **kwargs)
            return func(*args, **kwargs)

        wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        wrapper.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def is_encodable(text: str) -> bool:
    """True if ``text`` can be encoded as UTF-8 (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_unencodable(value: Any, path: str = "", _depth: int = 0) -> str | None:
    """The path (``"username"``, ``"items[2].text"``, ``"<body>"``) of the first string in a parsed
    JSON value, key or item, that is not valid UTF-8 text; None if there is none."""
    if isinstance(value, str):
        return None if is_encodable(value) else (path or "<body>")
    if _depth > _MAX_DEPTH:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not is_encodable(key):
                return path or "<body>"
            found = find_unencodable(item, name, _depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_unencodable(item, f"{path}[{index}]", _depth + 1)
            if found is not None:
                return found
    return None


def unencodable_message(where: str) -> str:
    """The message every refusal of such text uses (REST 400 and socket error frames alike)."""
    return f"{where} contains a lone UTF-16 surrogate: it is not valid Unicode text."


def reject_unencodable(value: Any) -> None:
    """Serializer/model field validator: refuses text that is not valid UTF-8 (a lone surrogate)."""
    from django.core.exceptions import ValidationError

    if find_unencodable(value) is not None:
        msg = "This text contains a lone UTF-16 surrogate: it is not valid Unicode."
        raise ValidationError(msg, code="invalid_text")


def text_key(value: str) -> str:
    """The comparison form of a human-typed name: NFKC, case-folded, NFKC again (RFC 8265's
    UsernameCaseMapped mapping), so ``ＣＡＲＯＬ``, ``CAROL`` and ``carol`` compare equal."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
