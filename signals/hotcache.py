"""The two cache writes of every ingested request, one Redis round trip each, without Django's
per-call client: the rate-limit count and the "analysis queued" claim.

Django's Redis cache builds a new ``redis.Redis`` object on every call (about 65 µs of CPU, more
than the round trip itself); these helpers keep one client per connection pool and use the same
keys and value encoding as ``django.core.cache``, so ``cache.get``/``cache.delete`` elsewhere see
what they wrote. On any other backend (the embedded file cache) they are Django's cache API.

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

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: How long after a failure the cache is left alone before one call tries it again.
RETRY_AFTER_SECONDS = 5.0

_clients: dict[object, object] = {}  # connection pool → the client kept for it
_outage = {"since": None, "retry_at": 0.0}
_outage_lock = threading.Lock()
# What a cache call raises when it cannot be reached: redis-py's errors (which are not OSError) and
# the file cache's OSError.
_UNAVAILABLE = (RedisError, OSError)


def _redis(key: str):
    """``(client, full key)`` when the default cache is Django's Redis backend, else ``(None, key)``."""
    backend = getattr(cache, "_cache", None)
    if backend is None or not hasattr(backend, "get_client"):  # not django.core.cache.backends.redis
        return None, key
    full_key = cache.make_and_validate_key(key)
    pool = backend._get_connection_pool(write=True)
    client = _clients.get(pool)
    if client is None:
        client = _clients[pool] = backend.get_client(full_key, write=True)
    return client, full_key


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
    _clients.clear()


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
