"""The Celery app. Configuration lives in Django settings under the ``CELERY_`` namespace."""

import gc
import os

from celery import Celery
from celery.signals import task_postrun, worker_init, worker_process_init, worker_ready
from django.conf import settings
from django.db import close_old_connections, connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesai.settings")

app = Celery("salesai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect  # each prefork child, after the fork
@worker_ready.connect  # the main process (the solo and threads pools run tasks there)
def freeze_startup_objects(**kwargs) -> None:
    """Move everything loaded at start-up (Django, the apps, ~100k objects) out of the garbage
    collector's reach: a full collection then skips them instead of walking them all (a pause paid by
    whichever tasks were waiting, which showed in the latency's p99)."""
    gc.freeze()


@task_postrun.connect
def close_broken_or_old_connections(sender=None, **kwargs) -> None:
    """After each task, what Django does after each request: drop a connection that broke or outlived
    ``CONN_MAX_AGE`` (connections are otherwise kept across tasks, see ``CELERY_DB_REUSE_MAX``).
    Not for eager tasks: they run inside the caller's transaction."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    close_old_connections()


@worker_init.connect
def prepare_statements_in_workers(**kwargs) -> None:
    """Worker processes talk to PostgreSQL with server-side parameters, and psycopg prepares a statement
    the 5th time a connection runs it: analysis runs the same small statements all day, and planning
    them cost PostgreSQL more than running them (under the engine bench's load the worker kept up only
    with this).

    Only workers: with server-side parameters a query may carry at most 65,535, and Django's delete
    collector sends one per id (an admin deleting an account with many signals would fail), so web
    processes keep Django's client-side binding. Off with ``DB_PREPARED_STATEMENTS=false``, e.g. behind
    a transaction-mode pooler (PgBouncer < 1.21). Runs before the pool forks, so every child inherits it."""
    if not settings.DB_PREPARED_STATEMENTS:
        return
    for alias in connections:
        if connections[alias].vendor == "postgresql":
            connections[alias].settings_dict.setdefault("OPTIONS", {}).update(
                server_side_binding=True, prepare_threshold=5
            )
            connections[alias].close()  # a connection opened before this keeps its binding
