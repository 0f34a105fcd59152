"""Tasks of the house itself."""

from __future__ import annotations

from celery import shared_task

from salesai.heartbeat import record_worker_heartbeat


@shared_task(name="salesai.worker_heartbeat", bind=True, ignore_result=True)
def worker_heartbeat_task(self, note: str = "") -> None:
    """Proves a worker (and beat) are alive end to end: broker → worker → database. /healthz shows it."""
    record_worker_heartbeat(worker=self.request.hostname or "", note=note)
