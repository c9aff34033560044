"""Pure parts: the rate parser, client-IP extraction and the system checks."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from ratelimit_app.checks import check_ratelimit_settings
from ratelimit_app.client_ip import get_client_ip
from ratelimit_app.rates import InvalidRate, parse_rate, parse_rates


@pytest.mark.parametrize(("text", "requests", "window"), [
    ("100/min", 100, 60), ("5/15m", 5, 900), ("10/s", 10, 1), ("1000/day", 1000, 86400),
    ("3/2h", 3, 7200), ("60/minute", 60, 60), ("7/30sec", 7, 30), (" 2 / hour ", 2, 3600), ("1/D", 1, 86400),
])
def test_rates(text, requests, window):
    rate = parse_rate(text)
    assert (rate.requests, rate.window) == (requests, window)


@pytest.mark.parametrize(("text", "message"), [
    ("100", "expected '<requests>/<window>'"), ("100/fortnight", "unknown unit 'fortnight'"),
    ("0/min", "at least 1"), ("5/0m", "window must be at least"), ("-1/s", "expected"), ("1.5/s", "expected"),
    ("abc/min", "expected"),
])
def test_bad_rates_say_what_is_wrong(text, message):
    with pytest.raises(InvalidRate, match=message):
        parse_rate(text)


def test_several_rates():
    assert [r.window for r in parse_rates("10/s, 1000/day")] == [1, 86400]
    assert [r.window for r in parse_rates(["5/15m", "20/day"])] == [900, 86400]
    with pytest.raises(InvalidRate):
        parse_rates([])


def _ip(proxies=0, remote="198.51.100.1", xff=None, **extra):
    headers = {"REMOTE_ADDR": remote}
    if xff is not None:
        headers["HTTP_X_FORWARDED_FOR"] = xff
    with override_settings(WINKR_RATELIMIT={"TRUSTED_PROXIES": proxies, **extra}):
        return get_client_ip(RequestFactory().get("/", **headers))


def test_client_ip():
    assert _ip() == "198.51.100.1"
    assert _ip(xff="203.0.113.1") == "198.51.100.1", "no trusted proxy: the header is ignored"
    assert _ip(1, "10.0.0.1", "6.6.6.6, 203.0.113.1") == "203.0.113.1"
    assert _ip(2, "10.0.0.2", "6.6.6.6, 203.0.113.1, 10.0.0.1") == "203.0.113.1"
    assert _ip(2, "10.0.0.2", "10.0.0.1") == "10.0.0.2", "chain shorter than the proxies: REMOTE_ADDR"
    assert _ip(1, "10.0.0.1", "not-an-ip") == "10.0.0.1", "garbage in the vouched slot: REMOTE_ADDR"
    assert _ip(remote="2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64", "IPv6 limited per /64"
    assert _ip(remote="2001:db8::1", IPV6_PREFIX=128) == "2001:db8::1"
    assert _ip(remote="::ffff:192.0.2.5") == "192.0.2.5"


def test_checks_accept_the_project_settings():
    assert check_ratelimit_settings() == []


def test_checks_name_the_bad_key():
    bad = {"RATES": {"login": "5/15x", "bad scope": "1/s", "twice": ["1/s", "2/s"]}, "ALGORITHM": "leaky",
           "TRUSTED_PROXIES": -1, "TYPO": 1}
    with override_settings(WINKR_RATELIMIT=bad):
        errors = {error.id: error.msg for error in check_ratelimit_settings()}
    assert set(errors) == {f"winkr_ratelimit.E00{n}" for n in (1, 3, 4, 5, 6, 7)}
    assert "'login'" in errors["winkr_ratelimit.E004"] and "5/15x" in errors["winkr_ratelimit.E004"]
    assert "TYPO" in errors["winkr_ratelimit.E001"]
