"""The Celery app. Configuration lives in Django settings under the ``CELERY_`` namespace."""

import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesai.settings")

app = Celery("salesai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def close_broken_or_old_connections(sender=None, **kwargs) -> None:
    """After each task, what Django does after each request: drop a connection that broke or outlived
    ``CONN_MAX_AGE`` (connections are otherwise kept across tasks, see ``CELERY_DB_REUSE_MAX``).
    Not for eager tasks: they run inside the caller's transaction."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
