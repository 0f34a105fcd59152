"""The hot-path cache writes agree with Django's cache API (file cache here; Redis in the
integration run), so the task's ``cache.delete`` releases what the receiver's claim wrote."""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache

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
