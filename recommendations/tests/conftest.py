"""Fixtures of the recommendations tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """A cache of this test's own: the coalescing claims ("analysis queued for account N") must not
    leak between tests (account ids repeat after rollbacks) or between concurrent test runs."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rec-tests"}}
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
