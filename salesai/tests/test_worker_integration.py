"""A task enqueued through Redis is run by a real Celery worker process that writes to PostgreSQL."""

import pytest

from audit.models import AuditEvent
from conftest import wait_until
from salesai.tasks import worker_heartbeat

pytestmark = [pytest.mark.integration]


def test_real_worker_runs_a_task_from_redis_and_writes_to_postgres(celery_worker_process):
    worker_heartbeat.delay("from the integration test")
    event = wait_until(lambda: AuditEvent.objects.filter(action="system.worker_heartbeat").first())
    assert event.data == {"note": "from the integration test"}
    assert event.actor_label == "system"
