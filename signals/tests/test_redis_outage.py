"""Redis stopped for ten seconds while signals arrive (issue 13, finding 12): on PostgreSQL, with a
redis-server of this test's own (cache and broker), a live server, the real Segment SDK and a real
Celery worker. No request may answer 5xx, and every accepted signal is analysed once Redis is back.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis
import requests
from segment.analytics import Client as SegmentClient

from accounts.models import Account
from conftest import ON_CI, CeleryWorker, wait_until
from salesai.celery import app as celery_app
from salesai.processes import free_port
from signals import hotcache
from signals.models import Signal
from signals.tasks import requeue_unanalysed_signals_task
from signals.tests.helpers import dumps, make_source, signed_headers

OUTAGE_SECONDS = 10


class PrivateRedis:
    """A ``redis-server`` on a free loopback port, without persistence: stopping it loses what it held,
    as a crashed or replaced Redis would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self._answers(), timeout=10)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis(settings):
    """This test's own Redis as cache and broker of this process; the shared one is never stopped."""
    if shutil.which("redis-server") is None:
        if ON_CI:
            pytest.fail("CI=true and redis-server is not installed", pytrace=False)
        pytest.skip("needs redis-server")
    server = PrivateRedis().start()
    settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}}
    previous = celery_app.conf.broker_url, celery_app.conf.task_default_queue
    celery_app.conf.broker_url = server.url
    celery_app.conf.task_default_queue = f"outage-{uuid.uuid4().hex[:8]}"
    _reset_publisher()
    hotcache.reset_outage()
    yield server
    server.stop()
    celery_app.conf.broker_url, celery_app.conf.task_default_queue = previous
    _reset_publisher()
    hotcache.reset_outage()


def _reset_publisher() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.integration
def test_signals_sent_while_redis_is_stopped_are_stored_and_analysed_after_it_returns(
    require_postgres, private_redis, transactional_db, live_server, tmp_path
):
    signed_source, _ = make_source("backend-forms", kind="generic")
    _, write_key = make_source("website")
    queue = celery_app.conf.task_default_queue
    worker = CeleryWorker(
        queue, tmp_path / "worker.log", {"REDIS_URL": private_redis.url, "SALESAI_OUTBOX_GRACE_SECONDS": "0"}
    ).start()
    sdk_errors: list = []
    segment = SegmentClient(write_key, host=live_server.url, sync_mode=True, max_retries=0, gzip=False)
    segment.on_error = lambda error, batch: sdk_errors.append(error)
    statuses: list[int] = []
    calls = 0

    def signed(n: int) -> None:
        body = dumps(
            {
                "kind": "product_usage",
                "name": "Report Created",
                "occurred_at": datetime.now(tz=UTC).isoformat(),
                "account_domain": f"outage-{n % 3}.com",
                "id": f"signed-{n}",
            }
        )
        headers = {k.removeprefix("HTTP_").replace("_", "-"): v for k, v in signed_headers(signed_source, body).items()}
        response = requests.post(
            f"{live_server.url}/api/v1/signals",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        )
        statuses.append(response.status_code)

    def segment_calls(n: int) -> int:
        segment.track(user_id="ada", event="Feature Used", properties={"n": n})
        segment.page(user_id="ada", name="Pricing", properties={"path": "/pricing"})
        return 2

    try:
        segment.identify(user_id="ada", traits={"email": "ada@outage-site.com", "name": "Ada"})
        calls += 1
        for n in range(3):
            signed(n)
            calls += 1 + segment_calls(n)

        private_redis.stop()
        down_until = time.monotonic() + OUTAGE_SECONDS
        n = 3
        health = requests.get(f"{live_server.url}/healthz", timeout=10)
        while time.monotonic() < down_until:
            signed(n)
            calls += 1 + segment_calls(n)
            n += 1
            time.sleep(0.2)
        private_redis.start()

        for after in range(n, n + 3):
            signed(after)
            calls += 1 + segment_calls(after)
        assert all(status < 500 for status in statuses), statuses
        assert set(statuses) == {200} and sdk_errors == []
        assert (health.status_code, health.json()["broker"], health.json()["cache"]) == (200, "down", "down")

        stored = Signal.objects.all()
        assert stored.count() == calls  # every call sent was accepted and stored
        assert not stored.filter(account__isnull=True).exists()
        assert Account.objects.filter(domain__startswith="outage-").count() == 4

        # What the beat's outbox task does every minute: announce again what was not analysed.
        requeue_unanalysed_signals_task.apply_async(queue=queue)
        wait_until(lambda: not stored.filter(analyzed_at__isnull=True).exists(), timeout=90)
    finally:
        worker.stop()
