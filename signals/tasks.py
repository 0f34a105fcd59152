"""Thin Celery wrappers around signals' services."""

from __future__ import annotations

from celery import shared_task

from signals.outbox import requeue_unanalysed_signals


@shared_task(name="signals.requeue_unanalysed_signals", ignore_result=True)
def requeue_unanalysed_signals_task(limit: int = 1000) -> int:
    """The outbox sweep (beat, every minute): announce again signals stored but not analysed
    after ``SALESAI["OUTBOX_GRACE_SECONDS"]``, so a broker outage or a lost task loses nothing."""
    return requeue_unanalysed_signals(limit=limit)
