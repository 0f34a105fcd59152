"""The names of the app's Celery tasks, and how a service queues one once its transaction commits.

The tasks live in ``tasks.py`` and each calls a service. A service that queues follow-up work (the
analysis queues a draft's rewrite and an urgent notice, an approval queues its execution) must not
import ``tasks.py`` back, or the two would import each other: it queues by the registered name. The
names are a contract anyway (queued messages and django-celery-beat rows carry them), kept here once."""

from __future__ import annotations

from celery import current_app

ANALYZE_ACCOUNT = "recommendations.analyze_account"
SWEEP_DUE_ACCOUNTS = "recommendations.sweep_due_accounts"
POLISH_DRAFT = "recommendations.polish_draft"
EXECUTE_RECOMMENDATION = "recommendations.execute_recommendation"
EXECUTE_DUE_ACTIONS = "recommendations.execute_due_actions"
SEND_DUE_DIGESTS = "recommendations.send_due_digests"
NOTIFY_URGENT = "recommendations.notify_urgent"
RETRAIN_LEARNING = "recommendations.retrain_learning"
LEARN_FROM_REVIEW = "recommendations.learn_from_review"
ECHO = "recommendations.echo"


def enqueue_on_commit(name: str, *args: object, **kwargs: object) -> None:
    """Queue the task registered as ``name`` once the current transaction commits (at once outside one).

    Looked up in the app's registry, so an unknown name fails here rather than in a worker."""
    current_app.tasks[name].delay_on_commit(*args, **kwargs)


def enqueue_on_commit_after(name: str, seconds: float, **kwargs: object) -> None:
    """Like :func:`enqueue_on_commit`, but the task runs ``seconds`` after the commit (an undo window).

    The broker holds the countdown; if the message is lost the executor's beat sweep still finds the
    row due. Short waits only (well under the broker's visibility timeout)."""
    task = current_app.tasks[name]
    if seconds <= 0:
        task.delay_on_commit(**kwargs)
    else:
        task.apply_async_on_commit(kwargs=kwargs, countdown=seconds)
