"""The installation's Redis (``settings.REDIS_URL``) as one kept ``redis.Redis`` client per process.

Django's Redis cache builds a new client object on every call; the few hot paths that talk to Redis
on every request (``signals.hotcache``) keep this one instead. redis-py's client is thread-safe and
holds its own connection pool, so one per URL serves the whole process. Without ``REDIS_URL`` (the
embedded default) there is no client, and callers use Django's cache API.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def client() -> redis.Redis | None:
    """The kept client of ``settings.REDIS_URL``, or None when it is not set. Nothing is connected
    until the first command; redis-py raises ``redis.RedisError`` when Redis cannot be reached."""
    url = settings.REDIS_URL
    if not url:
        return None
    kept = _clients.get(url)
    if kept is None:
        with _lock:
            kept = _clients.get(url)
            if kept is None:
                kept = _clients[url] = redis.Redis.from_url(url)
    return kept


def forget_clients() -> None:
    """Close and forget the kept clients (tests, and a process that reconfigures Redis)."""
    with _lock:
        for kept in _clients.values():
            kept.close()
        _clients.clear()
