"""Per-source rate limits: a fixed one-minute window counted with an atomic increment.

On Redis (``REDIS_URL`` set) the count is one round trip: ``INCR`` + ``EXPIRE NX`` in a pipeline, so
concurrent web processes on many machines share it. On the embedded default (file cache) the
count is per installation and close enough for one machine. DRF's ``SimpleRateThrottle`` keeps a
list of timestamps per key (racy, and grows with the rate), hence this small one.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from signals.models import Source

WINDOW_SECONDS = 60


def limit_for(source: Source) -> int:
    return source.rate_limit_per_minute or settings.SALESAI["INGEST_RATE_PER_MINUTE"]


_redis_clients: dict[int, object] = {}


def _redis_client(backend, key: str):
    """Django's Redis cache builds a new client object per call (costly on a hot path); keep one
    per connection pool instead."""
    pool_index = backend._get_connection_pool_index(write=True)
    client = _redis_clients.get(pool_index)
    if client is None:
        client = _redis_clients[pool_index] = backend.get_client(key, write=True)
    return client


def _count(key: str) -> int:
    backend = getattr(cache, "_cache", None)
    if backend is not None and hasattr(backend, "get_client"):  # django.core.cache.backends.redis
        full_key = cache.make_and_validate_key(key)
        client = _redis_client(backend, full_key)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, WINDOW_SECONDS * 2, nx=True)
        return int(pipe.execute()[0])
    try:
        return cache.incr(key)
    except ValueError:
        if cache.add(key, 1, timeout=WINDOW_SECONDS * 2):
            return 1
        return cache.incr(key)


def seconds_until_allowed(source: Source, *, now: float | None = None) -> int | None:
    """Count one request for ``source``; None while under its limit, else seconds until the
    next window opens (for ``Retry-After``)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    # The hash makes the key unique across databases that reuse source ids (tests, re-installs).
    key = f"ingest-rate:{source.pk}:{source.write_key_hash[:12]}:{window}"
    if _count(key) <= limit_for(source):
        return None
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


def check_source_rate(source: Source) -> None:
    """Raise DRF's ``Throttled`` (→ 429 with ``Retry-After`` in our error shape) when over the limit."""
    wait = seconds_until_allowed(source)
    if wait is not None:
        raise Throttled(wait=wait, detail=f"Rate limit of {limit_for(source)} requests per minute exceeded.")


class SourceRateThrottle(BaseThrottle):
    """DRF throttle for views that authenticate a source (``request.auth`` is the Source)."""

    def __init__(self) -> None:
        self.wait_seconds: int | None = None

    def allow_request(self, request, view) -> bool:
        source = request.auth if isinstance(request.auth, Source) else None
        if source is None:
            return True
        self.wait_seconds = seconds_until_allowed(source)
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds
