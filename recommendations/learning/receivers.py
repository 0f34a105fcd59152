"""Receivers that keep outcome records current (connected in ``RecommendationsConfig.ready()``).

They hook onto rows the review and execution services already write (Review, Execution) and onto the
stored-signals announcement, so ``services/review.py`` and ``services/execution.py`` stay as they are.
A failure here is logged and never undoes the review, the send or the ingestion (each runs in its own
savepoint)."""

from __future__ import annotations

import logging

from django.db import transaction

from recommendations import jobs
from recommendations.learning import outcomes, training

logger = logging.getLogger(__name__)


def on_review_saved(sender, instance, created: bool, **kwargs) -> None:
    if not created or kwargs.get("raw"):
        return
    try:
        outcome = outcomes.record_review(review=instance)
    except Exception:
        logger.exception("outcome_review_failed", extra={"recommendation_id": instance.recommendation_id})
        return
    if outcome.reviewed_at is None:
        return
    wrong_contact = outcome.reject_reason == "wrong_contact"
    if wrong_contact or training.young(outcome.playbook):
        transaction.on_commit(lambda: _learn_from_review(outcome.playbook, wrong_contact))


def _learn_from_review(playbook: str, wrong_contact: bool) -> None:
    """Queue the quick retrain (:func:`training.after_review`). Best effort: the hourly retrain catches up
    if the broker (or, when tasks run eagerly, the retrain itself) fails, and the review has committed
    either way."""
    try:
        jobs.enqueue_on_commit(jobs.LEARN_FROM_REVIEW, playbook, wrong_contact=wrong_contact)
    except Exception:
        logger.exception("learn_from_review_failed", extra={"playbook": playbook})


def on_execution_saved(sender, instance, **kwargs) -> None:
    if kwargs.get("raw") or instance.status != instance.Status.SUCCEEDED:
        return
    try:
        outcomes.record_sent(execution=instance)
    except Exception:
        logger.exception("outcome_sent_failed", extra={"recommendation_id": instance.recommendation_id})


def on_signals_stored(sender, signal_ids: list[int], account_ids: list[int], **kwargs) -> None:
    try:
        outcomes.record_followups(signal_ids=signal_ids, kinds=kwargs.get("kinds"))
    except Exception:
        logger.exception("outcome_followups_failed", extra={"signal_ids": signal_ids[:20]})
