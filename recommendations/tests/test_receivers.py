"""Stored signals queue analysis of their accounts; with the broker's Redis down they are left to the outbox."""

from __future__ import annotations

import pytest

from accounts.tests.factories import AccountFactory
from salesai import clock
from signals import hotcache
from signals.models import Signal
from signals.sources import internal_source
from signals.storing import record_signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_broker(settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    hotcache.reset_outage()
    yield
    hotcache.reset_outage()


def _store_page_view(django_capture_on_commit_callbacks) -> Signal:
    account = AccountFactory()
    with django_capture_on_commit_callbacks(execute=True):
        signal, _ = record_signal(
            source=internal_source(), kind="page_view", external_id="pv-1", occurred_at=clock.now(), account=account
        )
    return signal


def test_stored_signal_is_analysed(django_capture_on_commit_callbacks):
    signal = _store_page_view(django_capture_on_commit_callbacks)
    assert Signal.objects.get(pk=signal.pk).analyzed_at is not None


def test_while_the_brokers_redis_is_known_down_analysis_is_left_to_the_outbox(
    redis_broker, django_capture_on_commit_callbacks, caplog
):
    """Publishing would wait out kombu's retries on every request; the outbox re-queues instead."""
    hotcache._failed("add", ConnectionError("refused"))
    signal = _store_page_view(django_capture_on_commit_callbacks)
    assert Signal.objects.get(pk=signal.pk).analyzed_at is None
    assert "analysis_enqueue_left_to_outbox" in caplog.text
