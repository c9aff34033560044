"""System checks for ``WINKR_RATELIMIT``: bad rates and settings fail ``manage.py check``."""

from __future__ import annotations

import re
from typing import Any

from django.core.checks import Error, Tags, register

from caching_app.foundation.checks import unknown_alias_errors, unknown_key_errors

from .conf import ALGORITHMS, ratelimit_settings
from .rates import InvalidRate, parse_rates

_SCOPE = re.compile(r"^[A-Za-z0-9_.-]+$")


@register(Tags.compatibility)
def check_ratelimit_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    errors += unknown_key_errors(ratelimit_settings, "winkr_ratelimit.E001")
    errors += unknown_alias_errors("WINKR_RATELIMIT['REDIS_ALIAS']", ratelimit_settings.REDIS_ALIAS,
                                   "winkr_ratelimit.E010")
    rates = ratelimit_settings.RATES
    if not isinstance(rates, dict):
        message = "WINKR_RATELIMIT['RATES'] must be a dict of scope -> rate(s)."
        return [*errors, Error(message, id="winkr_ratelimit.E002")]
    for scope, value in rates.items():
        errors += _rate_errors(scope, value)
    return errors + _algorithm_errors() + _number_errors()


def _rate_errors(scope: Any, value: Any) -> list[Error]:
    """The errors of one ``RATES`` entry (scope name, then the rate string or list)."""
    errors: list[Error] = []
    if not isinstance(scope, str) or not _SCOPE.match(scope):
        errors.append(Error(f"WINKR_RATELIMIT['RATES'] scope {scope!r} must be letters, digits, '_', '.' or '-'.",
                            id="winkr_ratelimit.E003"))
    if value is None:
        return errors
    try:
        parsed = parse_rates(value)
    except InvalidRate as exc:
        return [*errors, Error(f"WINKR_RATELIMIT['RATES'][{scope!r}]: {exc}", id="winkr_ratelimit.E004")]
    windows = [rate.window for rate in parsed]
    if len(set(windows)) != len(windows):
        errors.append(Error(f"WINKR_RATELIMIT['RATES'][{scope!r}] has two rates with the same window.",
                            hint="Keep the stricter one.", id="winkr_ratelimit.E005"))
    return errors


def _algorithm_errors() -> list[Error]:
    algorithms = {"ALGORITHM": ratelimit_settings.ALGORITHM,
                  **{f"ALGORITHMS[{scope!r}]": name for scope, name in dict(ratelimit_settings.ALGORITHMS).items()}}
    return [Error(f"WINKR_RATELIMIT[{where}] is {name!r}; use one of {ALGORITHMS}.", id="winkr_ratelimit.E006")
            for where, name in algorithms.items() if name not in ALGORITHMS]


def _number_errors() -> list[Error]:
    """TRUSTED_PROXIES, IPV6_PREFIX and FAIL_CLOSED_SCOPES: the shape of the scalar settings."""
    errors: list[Error] = []
    proxies = ratelimit_settings.TRUSTED_PROXIES
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        errors.append(Error(f"WINKR_RATELIMIT['TRUSTED_PROXIES'] must be an integer >= 0, not {proxies!r}.",
                            id="winkr_ratelimit.E007"))
    prefix = ratelimit_settings.IPV6_PREFIX
    if not isinstance(prefix, int) or not 0 <= prefix <= 128:
        errors.append(Error(f"WINKR_RATELIMIT['IPV6_PREFIX'] must be 0..128, not {prefix!r}.",
                            id="winkr_ratelimit.E008"))
    if not isinstance(ratelimit_settings.FAIL_CLOSED_SCOPES, list | tuple | set | frozenset):
        errors.append(Error("WINKR_RATELIMIT['FAIL_CLOSED_SCOPES'] must be a list of scope names.",
                            id="winkr_ratelimit.E009"))
    return errors
