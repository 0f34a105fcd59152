"""The two cache writes of every ingested request, one Redis round trip each, without Django's
per-call client: the rate-limit count and the "analysis queued" claim.

Django's Redis cache builds a new ``redis.Redis`` object on every call, which costs more CPU than the
round trip itself; these helpers use the client kept in the wiring (``salesai.redis``) when Django's
default cache is that same Redis, with the same keys and value encoding as ``django.core.cache``, so
``cache.get``/``cache.delete`` elsewhere see what they wrote. On any other cache (the embedded file
cache, a test's local memory) they are Django's cache API.

Both writes are optimisations, never a reason to refuse a signal (store first, DESIGN.md §1), so
they fail open: when the cache cannot be reached, the count is skipped and the claim is taken as
granted. The first failure logs one ``cache_unavailable`` warning; for the next few seconds the
cache is not tried at all (a stopped or unreachable Redis then costs a request nothing, not a
connection attempt and its retries), after which one call tries again and, if it answers, logs
``cache_available_again``.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache
from redis.exceptions import RedisError

from salesai import redis as kept_redis

logger = logging.getLogger(__name__)

#: How long after a failure the cache is left alone before one call tries it again.
RETRY_AFTER_SECONDS = 5.0
_DJANGO_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"

_outage = {"since": None, "retry_at": 0.0}
_outage_lock = threading.Lock()
# What a cache call raises when it cannot be reached: redis-py's errors (which are not OSError) and
# the file cache's OSError.
_UNAVAILABLE = (RedisError, OSError)


def _redis(key: str) -> tuple[redis.Redis | None, str]:
    """``(kept client, the cache's key)`` when Django's default cache is the Redis of ``REDIS_URL``
    (its first server, where Django writes), else ``(None, key)``."""
    config = settings.CACHES.get(DEFAULT_CACHE_ALIAS) or {}
    if not settings.REDIS_URL or config.get("BACKEND") != _DJANGO_REDIS_CACHE:
        return None, key
    location = config.get("LOCATION") or ""
    servers = location if isinstance(location, list | tuple) else location.replace(";", ",").split(",")
    if not servers or servers[0].strip() != settings.REDIS_URL:
        return None, key
    return kept_redis.client(), cache.make_and_validate_key(key)


def _skipping() -> bool:
    """True while a recent failure says not to try the cache yet."""
    return _outage["since"] is not None and time.monotonic() < _outage["retry_at"]


def _failed(operation: str, exc: BaseException) -> None:
    with _outage_lock:
        first = _outage["since"] is None
        if first:
            _outage["since"] = time.time()
        _outage["retry_at"] = time.monotonic() + RETRY_AFTER_SECONDS
    if first:
        logger.warning(
            "cache_unavailable",
            extra={"operation": operation, "error": type(exc).__name__, "retry_after_s": RETRY_AFTER_SECONDS},
        )


def _answered() -> None:
    if _outage["since"] is None:
        return
    with _outage_lock:
        since, _outage["since"] = _outage["since"], None
    if since is not None:
        logger.info("cache_available_again", extra={"down_for_s": round(time.time() - since, 1)})


def reset_outage() -> None:
    """Forget a remembered outage (tests, and a process that reconfigures its cache)."""
    with _outage_lock:
        _outage["since"], _outage["retry_at"] = None, 0.0
    kept_redis.forget_clients()


def cache_available() -> bool:
    """Whether the cache answered its last call (False during a remembered outage)."""
    return _outage["since"] is None


def add(key: str, value: int, *, timeout: int) -> bool:
    """``cache.add``: set ``key`` unless it exists; True when this call set it, and True when the
    cache cannot be reached (the claim guards against doing work twice, never against doing it)."""
    if _skipping():
        return True
    try:
        client, full_key = _redis(key)
        if client is None:
            added = cache.add(key, value, timeout=timeout)
        else:
            # Django's Redis serializer stores ints as they are, so cache.get(key) reads this back as an int.
            added = bool(client.set(full_key, int(value), nx=True, ex=timeout))
    except _UNAVAILABLE as exc:
        _failed("add", exc)
        return True
    _answered()
    return added


def incr_with_expiry(key: str, *, timeout: int) -> int | None:
    """Count one more under ``key`` (starting at 1) and return the count; the key expires
    ``timeout`` seconds after its first count. On Redis: ``INCR`` + ``EXPIRE NX`` in one round trip.
    None when the cache cannot be reached: nothing was counted."""
    if _skipping():
        return None
    try:
        count = _incr(key, timeout=timeout)
    except _UNAVAILABLE as exc:
        _failed("incr", exc)
        return None
    _answered()
    return count


def _incr(key: str, *, timeout: int) -> int:
    client, full_key = _redis(key)
    if client is None:
        try:
            return cache.incr(key)
        except ValueError:
            if cache.add(key, 1, timeout=timeout):
                return 1
            return cache.incr(key)
    pipe = client.pipeline(transaction=False)
    pipe.incr(full_key)
    pipe.expire(full_key, timeout, nx=True)
    return int(pipe.execute()[0])
