"""The tasks' registered names are a contract (queued messages and django-celery-beat rows carry
them): every name a service queues by is a task of ``recommendations.tasks``, and the beat schedule's
entries of this app name registered tasks."""

from __future__ import annotations

from django.conf import settings

from recommendations import jobs, tasks
from salesai.celery import app as celery_app


def test_every_name_services_queue_by_is_a_task_of_this_app():
    names = {value for key, value in vars(jobs).items() if key.isupper()}
    assert names == {
        "recommendations.analyze_account",
        "recommendations.sweep_due_accounts",
        "recommendations.polish_draft",
        "recommendations.execute_recommendation",
        "recommendations.execute_due_actions",
        "recommendations.send_due_digests",
        "recommendations.notify_urgent",
        "recommendations.retrain_learning",
        "recommendations.learn_from_review",
        "recommendations.echo",
    }
    for name in names:
        assert celery_app.tasks[name].__module__ == tasks.__name__, name


def test_the_beat_schedule_names_registered_tasks():
    ours = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].startswith("recommendations.")]
    assert len(ours) == 4
    for name in ours:
        assert celery_app.tasks[name].__module__ == tasks.__name__, name


def test_every_task_of_the_app_lives_in_tasks_py_with_a_task_suffix():
    """One file for the app's tasks, and no task named like the service it calls (``tasks.analyze_account``
    once shadowed ``services.analyze_account``)."""
    ours = {name: task for name, task in celery_app.tasks.items() if name.startswith("recommendations.")}
    assert len(ours) == 10
    for name, task in ours.items():
        assert (task.__module__, task.run.__name__.endswith("_task")) == (tasks.__name__, True), name
