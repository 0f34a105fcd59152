"""Per-source rate limits: a fixed one-minute window counted with an atomic increment.

On Redis (``REDIS_URL`` set) the count is one round trip: ``INCR`` + ``EXPIRE NX`` in a pipeline, so
concurrent web processes on many machines share it. On the embedded default (file cache) the
count is per installation and close enough for one machine. DRF's ``SimpleRateThrottle`` keeps a
list of timestamps per key (racy, and grows with the rate), hence this small one.

While the cache is unreachable the limit is not enforced (``signals.hotcache`` fails open and logs
it): refusing every signal because a counter is down would break "store first".
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from rest_framework.exceptions import Throttled

from signals import hotcache
from signals.models import Source

WINDOW_SECONDS = 60


def limit_for(source: Source) -> int:
    return source.rate_limit_per_minute or settings.SALESAI["INGEST_RATE_PER_MINUTE"]


def seconds_until_allowed(source: Source, *, now: float | None = None) -> int | None:
    """Count one request for ``source``; None while under its limit (or when nothing could count),
    else seconds until the next window opens (for ``Retry-After``)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    # The hash makes the key unique across databases that reuse source ids (tests, re-installs).
    key = f"ingest-rate:{source.pk}:{source.write_key_hash[:12]}:{window}"
    count = hotcache.incr_with_expiry(key, timeout=WINDOW_SECONDS * 2)
    if count is None or count <= limit_for(source):
        return None
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


def check_source_rate(source: Source) -> None:
    """Raise DRF's ``Throttled`` (→ 429 with ``Retry-After`` in our error shape) when over the limit."""
    wait = seconds_until_allowed(source)
    if wait is not None:
        raise Throttled(wait=wait, detail=f"Rate limit of {limit_for(source)} requests per minute exceeded.")
