"""The house's own table: when a worker last proved it was alive (not the audit trail, which is
append-only and would gain a row a minute, half a million a year)."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row, updated in place by the beat's heartbeat task; ``/healthz`` shows ``seen_at``."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    seen_at = models.DateTimeField()
    worker = models.CharField(max_length=200, blank=True, help_text="The worker that ran it. Example: celery@host-1")
    note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.worker or 'a worker'} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
