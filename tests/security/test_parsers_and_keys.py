"""Hypothesis on the code that turns untrusted text into limits and Redis keys.

- ratelimit_app.rates: any text is either a sane Rate or an InvalidRate naming the problem, never another
  exception; every well-formed rate parses to the window it says.
- caching_app.foundation.keys: parts are escaped so different inputs never give the same key, no unescaped
  separator or brace survives, and a part is bounded whatever its length.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from caching_app.foundation.keys import MAX_PART_LENGTH, SEPARATOR, escape_part, make_key
from ratelimit_app.rates import UNITS, InvalidRate, parse_rate, parse_rates

SEPARATORS = ":{}%~\x00\n/|#*?[] "
# Text weighted towards the characters that matter to a key (separators, braces, escapes, controls).
key_text = st.one_of(
    st.text(),
    st.lists(st.sampled_from(list(SEPARATORS) + ["a", "%3A", "%25", "%7B", "é", "🙂"]), max_size=20).map("".join),
    st.text(min_size=150, max_size=3000),
)
EXAMPLES = 400


# --- rates -----------------------------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.integers(1, 10**6), st.one_of(st.none(), st.integers(1, 10**4)), st.sampled_from(sorted(UNITS)),
       st.sampled_from(["", " ", "  "]))
def test_every_well_formed_rate_means_what_it_says(requests, count, unit, space):
    text = f"{space}{requests}{space}/{space}{'' if count is None else count}{unit.upper() if requests % 2 else unit}"
    rate = parse_rate(text)
    assert rate.requests == requests
    assert rate.window == (count or 1) * UNITS[unit]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="0123456789/smhd ,-+.١٢e\n", max_size=20)))
@example("0/s")
@example("5/0m")
@example("5/15fortnights")
@example("١٢/s")
@example("")
def test_any_text_is_a_rate_or_a_clear_error(text):
    try:
        rate = parse_rate(text)
    except InvalidRate as exc:
        assert str(exc)  # names what is wrong
        return
    assert rate.requests >= 1 and rate.window >= 1


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(st.text(), st.integers(), st.none(), st.lists(st.text())))))
def test_rate_lists_of_anything_are_rates_or_a_clear_error(value):
    try:
        rates = parse_rates(value)
    except InvalidRate:
        return
    assert rates and all(rate.requests >= 1 for rate in rates)


# --- keys ------------------------------------------------------------------------------------------


def split_key(key: str) -> list[str]:
    return key.split(SEPARATOR)


@settings(max_examples=EXAMPLES, deadline=None)
@given(key_text)
@example("a:b")
@example("{tag}")
@example("%3A")
@example("x" * 100_000)
def test_a_part_has_no_separator_no_brace_and_is_bounded(part):
    escaped = escape_part(part)
    assert SEPARATOR not in escaped and "{" not in escaped and "}" not in escaped
    assert not any(ord(char) < 32 or ord(char) == 127 for char in escaped)
    assert 1 <= len(escaped) <= MAX_PART_LENGTH


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(key_text, min_size=1, max_size=4), st.one_of(st.none(), key_text))
def test_make_key_keeps_one_segment_per_part(parts, tag):
    key = make_key("sec", *parts, tag=tag)
    segments = split_key(key)
    assert len(segments) == 2 + (tag is not None) + len(parts)
    if tag is not None:
        # One hash tag, and it is the whole tag: Cluster hashes exactly what the caller passed.
        assert key.count("{") == 1 and key.count("}") == 1
        assert segments[2] == "{" + escape_part(tag) + "}"
    else:
        assert "{" not in key and "}" not in key


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(key_text, key_text)
@example("a:b", "a%3Ab")
@example("a", "a\x00")
@example("%", "%25")
def test_different_parts_never_share_a_key(first, second):
    if first == second or "" in (first, second) or "\x00" in (first, second):
        return  # the empty part has its own test below
    assert escape_part(first) != escape_part(second)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(key_text, min_size=1, max_size=3), st.lists(key_text, min_size=1, max_size=3))
def test_different_user_ids_scopes_and_paths_never_share_a_key(first, second):
    """As the throttles and caches use it: (scope, user id, path) -> key."""
    if first == second:
        return
    assume_no_empty = all(part not in ("", "\x00") for part in first + second)
    if assume_no_empty:
        assert make_key("rl", *first) != make_key("rl", *second)


def test_the_empty_part_has_a_key_of_its_own():
    assert escape_part("") != escape_part("\x00")


def test_a_short_part_cannot_spell_a_long_parts_digest():
    long_part = "u" * (MAX_PART_LENGTH + 1)
    forged = escape_part(long_part)  # a 97-character string anyone can compute: prefix + "~" + sha256 prefix
    assert escape_part(forged) != escape_part(long_part)
