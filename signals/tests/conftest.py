"""Fixtures of the ingestion tests."""

from __future__ import annotations

import pytest

from salesai.processes import free_port
from signals import hotcache
from signals.dispatch import signals_stored


@pytest.fixture
def announced():
    """Every ``signals_stored`` announcement during the test: a list of (signal_ids, account_ids)."""
    calls: list[tuple[list[int], list[int]]] = []

    def receiver(sender, signal_ids, account_ids, **kwargs):
        calls.append((list(signal_ids), list(account_ids)))

    signals_stored.connect(receiver, dispatch_uid="signals-tests-announced")
    yield calls
    signals_stored.disconnect(dispatch_uid="signals-tests-announced")


@pytest.fixture
def redis_down(settings):
    """``REDIS_URL`` and the cache on Django's Redis backend at a port where nothing listens, as if
    Redis had stopped (needs no Redis server, so it runs on the embedded defaults too)."""
    location = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = location
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    hotcache.reset_outage()
    yield
    hotcache.reset_outage()
