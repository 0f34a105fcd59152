"""The worker heartbeat: broker → worker → database, end to end, once a minute (the beat sends it)."""

from __future__ import annotations

import datetime as dt

from salesai import clock
from salesai.models import WorkerHeartbeat


def record_worker_heartbeat(*, worker: str, note: str = "") -> WorkerHeartbeat:
    """Overwrite the one heartbeat row: only the last one matters, so the table never grows."""
    heartbeat, _created = WorkerHeartbeat.objects.update_or_create(
        singleton=True, defaults={"seen_at": clock.now(), "worker": worker[:200], "note": note[:200]}
    )
    return heartbeat


def worker_last_seen() -> dt.datetime | None:
    return WorkerHeartbeat.objects.values_list("seen_at", flat=True).first()
