"""The hot-path cache writes agree with Django's cache API (file cache here; Redis in the
integration run), so the task's ``cache.delete`` releases what the receiver's claim wrote."""

from __future__ import annotations

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
