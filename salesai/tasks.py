"""Tasks of the house itself."""

from __future__ import annotations

from celery import shared_task

from audit.services import audit_record


@shared_task(name="salesai.worker_heartbeat", ignore_result=True)
def worker_heartbeat(note: str = "") -> None:
    """Proves a worker (and beat) are alive end to end: broker → worker → database. /healthz shows it."""
    audit_record(action="system.worker_heartbeat", data={"note": note} if note else {})
