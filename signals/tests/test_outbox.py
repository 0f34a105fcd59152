"""Store first, lose nothing: the outbox sweep re-announces signals left unanalysed, and signals
accepted while the broker is down are analysed once it is back."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
import redis
import time_machine
from django.conf import settings

from accounts.tests.factories import AccountFactory
from conftest import CeleryWorker, wait_until
from salesai.celery import app as celery_app
from signals.models import Signal
from signals.tasks import requeue_unanalysed_signals_task
from signals.tests.factories import SignalFactory
from signals.tests.helpers import basic, dumps, make_source

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_sweep_announces_only_old_unanalysed_signals_with_an_account(announced, django_capture_on_commit_callbacks):
    account = AccountFactory()
    old = SignalFactory(account=account, received_at=NOW - dt.timedelta(minutes=5))
    SignalFactory(account=account, received_at=NOW - dt.timedelta(seconds=10))  # within the grace period
    SignalFactory(account=account, received_at=NOW - dt.timedelta(minutes=5), analyzed_at=NOW)
    SignalFactory(account=None, received_at=NOW - dt.timedelta(minutes=5))  # nothing to analyse yet
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_unanalysed_signals_task() == 1
    assert announced == [([old.pk], [account.pk])]


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_sweep_is_bounded_oldest_first(announced, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    account = AccountFactory()
    signals = [SignalFactory(account=account, received_at=NOW - dt.timedelta(minutes=10 - n)) for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(3):
        assert requeue_unanalysed_signals_task(limit=2) == 2
    assert announced[0][0] == [signals[0].pk, signals[1].pk]


@pytest.mark.django_db
def test_sweep_task_is_registered_under_its_beat_name():
    assert "signals.requeue_unanalysed_signals" in celery_app.tasks


@contextlib.contextmanager
def broker_down():
    """Point the publisher at a port where nothing listens, as if Redis were stopped."""
    previous = celery_app.conf.broker_url, celery_app.conf.task_publish_retry
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    celery_app.conf.task_publish_retry = False
    _reset_publisher()
    try:
        yield
    finally:
        celery_app.conf.broker_url, celery_app.conf.task_publish_retry = previous
        _reset_publisher()


def _reset_publisher() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.integration
def test_signals_accepted_while_broker_is_down_are_analysed_after_it_returns(
    require_postgres, require_redis, celery_queue, transactional_db, client, tmp_path
):
    source, key = make_source("site")
    batch = {
        "batch": [
            {"type": "identify", "userId": "u1", "traits": {"email": "ops@outage.example.com"}, "messageId": "i"},
            {"type": "track", "userId": "u1", "event": "Demo Requested", "messageId": "t"},
            {"type": "page", "userId": "u1", "properties": {"path": "/pricing"}, "messageId": "p"},
        ]
    }
    with broker_down():
        response = client.post(
            "/v1/batch", dumps(batch), content_type="application/json", HTTP_AUTHORIZATION=basic(key)
        )
    assert response.status_code == 200  # stored first: the broker outage does not refuse the data
    stored = Signal.objects.filter(source=source)
    assert stored.count() == 3 and not stored.filter(analyzed_at__isnull=False).exists()
    assert redis.Redis.from_url(settings.REDIS_URL).llen(celery_queue) == 0  # the analysis task was lost

    # Redis is back. The beat's outbox task runs in a real worker and re-queues what was lost.
    worker = CeleryWorker(celery_queue, tmp_path / "worker.log", {"SALESAI_OUTBOX_GRACE_SECONDS": "0"}).start()
    try:
        requeue_unanalysed_signals_task.apply_async(queue=celery_queue)
        wait_until(lambda: not stored.filter(analyzed_at__isnull=True).exists(), timeout=60)
    finally:
        worker.stop()
