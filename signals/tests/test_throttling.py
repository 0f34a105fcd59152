"""Per-source rate limits on an atomic counter (file cache here; Redis in the integration run)."""

from __future__ import annotations

import pytest

from salesai import redis as kept_redis
from signals.tests.helpers import make_source
from signals.throttling import WINDOW_SECONDS, seconds_until_allowed

pytestmark = pytest.mark.django_db


def test_limit_counts_per_source_and_window(settings):
    settings.SALESAI = {**settings.SALESAI, "INGEST_RATE_PER_MINUTE": 3}
    source, _ = make_source("a")
    other, _ = make_source("b")
    now = 1_800_000_000.0  # a window boundary: 30_000_000 minutes
    assert [seconds_until_allowed(source, now=now + 5) for _ in range(3)] == [None, None, None]
    assert seconds_until_allowed(source, now=now + 5) == WINDOW_SECONDS - 5
    assert seconds_until_allowed(other, now=now + 5) is None  # another source has its own budget
    assert seconds_until_allowed(source, now=now + WINDOW_SECONDS) is None  # a new window


def test_source_limit_overrides_the_default():
    source, _ = make_source("tight", rate_limit_per_minute=1)
    now = 1_899_999_980.0  # 20 s into a window
    assert seconds_until_allowed(source, now=now) is None
    assert seconds_until_allowed(source, now=now) == 40


@pytest.mark.integration
def test_redis_counter_is_shared_and_expires(require_redis, settings):
    from django.core.cache import cache

    source, _ = make_source("redis-limited", rate_limit_per_minute=2)
    now = 2_000_000_039.0  # the last second of a window
    results = [seconds_until_allowed(source, now=now) for _ in range(3)]
    assert results[:2] == [None, None] and results[2] == 1
    key = cache.make_and_validate_key(f"ingest-rate:{source.pk}:{source.write_key_hash[:12]}:{int(now // 60)}")
    ttl = kept_redis.client().ttl(key)
    assert 0 < ttl <= 2 * WINDOW_SECONDS
