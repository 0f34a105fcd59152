"""The hot-path cache writes agree with Django's cache API (file cache here; Redis in the
integration run), so the task's ``cache.delete`` releases what the receiver's claim wrote."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.core.cache import cache

from salesai import redis as kept_redis
from signals import hotcache


def test_add_claims_once_and_is_released_by_django_s_cache():
    key = f"test-hotcache:{uuid.uuid4().hex}"
    assert hotcache.add(key, 1, timeout=10) is True
    assert hotcache.add(key, 1, timeout=10) is False
    assert cache.get(key) == 1
    cache.delete(key)
    assert hotcache.add(key, 1, timeout=10) is True
    cache.delete(key)


def test_counts_start_at_one_and_are_read_back_by_django_s_cache():
    key = f"test-hotcache:{uuid.uuid4().hex}"
    assert [hotcache.incr_with_expiry(key, timeout=10) for _ in range(3)] == [1, 2, 3]
    assert cache.get(key) == 3
    cache.delete(key)


def test_an_unreachable_cache_fails_open_says_so_once_and_is_tried_again(redis_down, settings, caplog, tmp_path):
    key = f"test-hotcache:{uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO, logger="signals.hotcache"):
        assert hotcache.incr_with_expiry(key, timeout=10) is None  # nothing counted, nothing raised
        assert hotcache.add(key, 1, timeout=10) is True  # the claim is taken as granted
        assert not hotcache.cache_available()
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
        }
        assert hotcache.incr_with_expiry(key, timeout=10) is None  # not tried again yet
        hotcache._outage["retry_at"] = 0.0  # the retry delay has passed
        assert hotcache.incr_with_expiry(key, timeout=10) == 1
    assert hotcache.cache_available()
    events = [r.getMessage() for r in caplog.records if r.name == "signals.hotcache"]
    assert events == ["cache_unavailable", "cache_available_again"]


@pytest.mark.integration
def test_on_redis_the_writes_go_through_the_one_client_kept_in_the_wiring(require_redis):
    """Without Django's private cache internals: the client is ``salesai.redis``'s, one per process,
    and what it writes is under the key Django's cache reads."""
    key = f"test-hotcache:{uuid.uuid4().hex}"
    assert hotcache.add(key, 1, timeout=10) is True
    assert hotcache.incr_with_expiry(f"{key}:n", timeout=10) == 1
    client = kept_redis.client()
    assert client is kept_redis.client()
    assert client.get(cache.make_and_validate_key(key)) == b"1"
    assert 0 < client.ttl(cache.make_and_validate_key(f"{key}:n")) <= 10
    assert (cache.get(key), cache.get(f"{key}:n")) == (1, 1)
    cache.delete_many([key, f"{key}:n"])
