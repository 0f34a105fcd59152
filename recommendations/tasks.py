"""Celery tasks of the recommendations app: thin wrappers taking ids, each calling one service.

The registered names (``jobs``) are a contract: queued messages and django-celery-beat rows carry
them, so they stay as they are whatever the functions are called."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from recommendations import jobs
from recommendations.learning import training
from recommendations.services import analysis, drafts, execution, notifications
from salesai import clock

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    name=jobs.ANALYZE_ACCOUNT,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT,
    max_retries=5,
    retry_backoff=True,
    retry_backoff_max=60,
)
def analyze_account_task(account_id: int, force: bool = False) -> None:
    """Analyse one account. The coalescing key is released first, so signals arriving while this runs
    queue exactly one more analysis."""
    cache.delete(analysis.queued_key(account_id))
    analysis.analyze_account(account_id=account_id, force=force)


@shared_task(name=jobs.SWEEP_DUE_ACCOUNTS, ignore_result=True, acks_late=True)
def sweep_due_accounts_task() -> None:
    """Beat: analyse the accounts whose next_check_at has passed; expire and wake recommendations."""
    analysis.sweep_due_accounts()


@shared_task(name=jobs.POLISH_DRAFT, ignore_result=True, autoretry_for=TRANSIENT, max_retries=3)
def polish_draft_task(recommendation_id: int, version: int) -> None:
    """The LLM's rewrite of one recommendation version's draft; then trust decides on it."""
    drafts.polish_recommendation_draft(recommendation_id=recommendation_id, version=version)


@shared_task(
    name=jobs.EXECUTE_RECOMMENDATION,
    autoretry_for=(execution.NothingSent,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    reject_on_worker_lost=True,
)
def execute_recommendation_task(recommendation_id: int, autonomous: bool = False, user_id: int | None = None) -> None:
    """Perform one approved (or autonomous) action, once; retried only when nothing provably left."""
    execution.execute_recommendation(recommendation_id=recommendation_id, autonomous=autonomous, user_id=user_id)


@shared_task(name=jobs.EXECUTE_DUE_ACTIONS, acks_late=True)
def execute_due_actions_task() -> int:
    """Beat: perform the scheduled actions whose undo window has passed."""
    return execution.execute_due_actions()


@shared_task(name=jobs.SEND_DUE_DIGESTS, acks_late=True)
def send_due_digests_task() -> int:
    """Beat (every 15 minutes): the morning digests that are due."""
    return notifications.send_due_digests()


@shared_task(
    name=jobs.NOTIFY_URGENT,
    acks_late=True,
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def notify_urgent_task(recommendation_id: int) -> bool:
    """Tell the owner of one urgent recommendation at once (once)."""
    return notifications.notify_urgent(recommendation_id=recommendation_id)


@shared_task(name=jobs.RETRAIN_LEARNING, ignore_result=True, acks_late=True)
def retrain_learning_task() -> None:
    """Beat: close outcome windows and retrain confidence, fit and contact choice (new versions only
    when something changed)."""
    training.retrain(now=clock.now())


@shared_task(name=jobs.LEARN_FROM_REVIEW, ignore_result=True)
def learn_from_review_task(playbook: str, wrong_contact: bool = False) -> int:
    """After a review of a playbook with few labels, or a wrong-contact rejection: retrain what it
    teaches and refresh the playbook's pending cards."""
    return training.after_review(playbook=playbook, now=clock.now(), wrong_contact=wrong_contact)


@shared_task(name=jobs.ECHO, ignore_result=False)
def echo_task(value: int = 0) -> int:
    """An empty task: the broker + worker round trip that ``bench/bench_engine.py`` compares with."""
    return value
