"""Source credentials: write keys are shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from signals.models import Source


def hash_write_key(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create_source(*, name: str, kind: str, event_map: dict | None = None) -> tuple[Source, str]:
    """Create a source and return it with its write key (the only time the key exists in clear)."""
    write_key = f"sk_{secrets.token_urlsafe(24)}"
    source = Source.objects.create(
        name=name,
        kind=kind,
        write_key_hash=hash_write_key(write_key),
        write_key_prefix=write_key[:10],
        signing_secret=new_signing_secret(),
        event_map=event_map or {},
    )
    return source, write_key


def source_for_write_key(write_key: str | None) -> Source | None:
    """The active source this write key belongs to, or None (constant-time compare on the hash)."""
    if not write_key:
        return None
    digest = hash_write_key(write_key)
    source = Source.objects.filter(write_key_hash=digest, active=True).first()
    if source is None or not hmac.compare_digest(source.write_key_hash, digest):
        return None
    return source


def rotate_write_key(*, source: Source) -> str:
    """Give a source a new write key (the old one stops working at once); returns it, shown once."""
    write_key = f"sk_{secrets.token_urlsafe(24)}"
    source.write_key_hash = hash_write_key(write_key)
    source.write_key_prefix = write_key[:10]
    source.save(update_fields=["write_key_hash", "write_key_prefix"])
    return write_key


_CACHE_SECONDS = 5.0
_recent: dict[str, tuple[float, Source]] = {}


def source_for_write_key_cached(write_key: str | None) -> Source | None:
    """``source_for_write_key`` remembered for 5 seconds per process: the ingestion hot path then
    skips a query per request. A deactivated or rotated key keeps working for at most those 5 s;
    unknown keys are never remembered."""
    if not write_key:
        return None
    digest = hash_write_key(write_key)
    now = time.monotonic()
    hit = _recent.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    source = source_for_write_key(write_key)
    if source is not None:
        if len(_recent) > 1000:
            _recent.clear()
        _recent[digest] = (now + _CACHE_SECONDS, source)
    else:
        _recent.pop(digest, None)
    return source
