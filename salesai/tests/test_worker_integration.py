"""A task enqueued through Redis is run by a real Celery worker process that writes to PostgreSQL."""

import pytest

from audit.models import AuditEvent
from conftest import wait_until
from salesai.models import WorkerHeartbeat
from salesai.tasks import worker_heartbeat_task

pytestmark = [pytest.mark.integration]


def test_real_worker_runs_a_task_from_redis_and_writes_to_postgres(celery_worker_process):
    worker_heartbeat_task.delay("from the integration test")
    heartbeat = wait_until(lambda: WorkerHeartbeat.objects.filter(note="from the integration test").first())
    assert heartbeat.worker.startswith(f"{celery_worker_process.queue}@")
    assert not AuditEvent.objects.filter(action="system.worker_heartbeat").exists()
