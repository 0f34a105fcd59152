"""Celery tasks of the engine: thin wrappers taking ids, calling one service each."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from recommendations import drafts, services

TRANSIENT = (OperationalError, InterfaceError)


def queued_key(account_id: int) -> str:
    return f"analyze:queued:{account_id}"


@shared_task(
    name="recommendations.analyze_account",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT,
    max_retries=5,
    retry_backoff=True,
    retry_backoff_max=60,
)
def analyze_account(account_id: int, force: bool = False) -> None:
    """Analyse one account. The coalescing key is released first, so signals arriving while this runs
    queue exactly one more analysis."""
    cache.delete(queued_key(account_id))
    services.analyze_account(account_id=account_id, force=force)


@shared_task(name="recommendations.sweep_due_accounts", ignore_result=True, acks_late=True)
def sweep_due_accounts() -> None:
    """Beat: analyse the accounts whose next_check_at has passed; expire and wake recommendations."""
    services.sweep_due_accounts()


@shared_task(
    name="recommendations.polish_draft",
    ignore_result=True,
    autoretry_for=TRANSIENT,
    max_retries=3,
)
def polish_draft(recommendation_id: int, version: int) -> None:
    drafts.polish_recommendation_draft(recommendation_id=recommendation_id, version=version)


@shared_task(name="recommendations.echo", ignore_result=False)
def echo(value: int = 0) -> int:
    """An empty task: the broker + worker round trip that ``bench/bench_engine.py`` compares with."""
    return value
