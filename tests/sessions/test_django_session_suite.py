"""Django's own session contract, ``SessionTestsMixin``, run unchanged against our engine.

The mixin comes from ``tests/sessions_tests/tests.py`` in the sdist of the installed Django,
fetched at test time (:mod:`tests.djangosuite`); nothing of it is copied or overridden here.
Our own contract suite (``test_store_contract.py``) sits beside it.
"""

from __future__ import annotations

import inspect

from django.test import SimpleTestCase

from sessions_app.backends.redis import SessionStore
from tests.djangosuite import load_django_tests, with_test_app

django_sessions_tests = load_django_tests("sessions_tests")
SessionTestsMixin = django_sessions_tests.SessionTestsMixin


@with_test_app("sessions_tests")
class RedisSessionDjangoContractTests(SessionTestsMixin, SimpleTestCase):
    backend = SessionStore


def test_the_mixin_runs_whole_and_unchanged():
    """Every test of the mixin is collected from it as it is: none overridden, none skipped here."""
    mixin_tests = {name for name in vars(SessionTestsMixin) if name.startswith("test")}
    assert len(mixin_tests) >= 65  # Django 5.2 has 65; a later Django may add some
    ours = RedisSessionDjangoContractTests
    assert not {name for name in vars(ours) if name.startswith("test")}
    for name in mixin_tests:
        method = getattr(ours, name)
        assert inspect.getmodule(method) is django_sessions_tests
        assert not getattr(method, "__unittest_skip__", False)
