"""The two cache writes of every ingested request, one Redis round trip each, without Django's
per-call client: the rate-limit count and the "analysis queued" claim.

Django's Redis cache builds a new ``redis.Redis`` object on every call (about 65 µs of CPU, more
than the round trip itself); these helpers keep one client per connection pool and use the same
keys and value encoding as ``django.core.cache``, so ``cache.get``/``cache.delete`` elsewhere see
what they wrote. On any other backend (the embedded file cache) they are Django's cache API.
"""

from __future__ import annotations

from django.core.cache import cache

_clients: dict[object, object] = {}  # connection pool → the client kept for it


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


def add(key: str, value: int, *, timeout: int) -> bool:
    """``cache.add``: set ``key`` unless it exists; True when this call set it."""
    client, full_key = _redis(key)
    if client is None:
        return cache.add(key, value, timeout=timeout)
    # Django's Redis serializer stores ints as they are, so cache.get(key) reads this back as an int.
    return bool(client.set(full_key, int(value), nx=True, ex=timeout))


def incr_with_expiry(key: str, *, timeout: int) -> int:
    """Count one more under ``key`` (starting at 1) and return the count; the key expires
    ``timeout`` seconds after its first count. On Redis: ``INCR`` + ``EXPIRE NX`` in one round trip."""
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
