import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.tests.factories import AccountFactory, UserFactory
from audit.models import AuditEvent
from salesai import clock
from salesai.models import WorkerHeartbeat
from salesai.tasks import worker_heartbeat_task


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_without_auth():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["cache"] == "ok"
    assert "SECRET" not in response.content.decode().upper()


@pytest.mark.django_db
def test_healthz_says_broker_and_cache_are_down_and_stays_in_rotation(settings):
    """Redis stopped: this process still stores every signal (issue 13, finding 12), so a load balancer
    must keep sending it webhooks; the body says what is down, and answers at once."""
    import time

    from salesai.celery import app
    from salesai.processes import free_port

    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": nowhere}}
    previous = app.conf.broker_url
    app.conf.broker_url = nowhere
    try:
        started = time.monotonic()
        response = Client().get("/healthz")
        took = time.monotonic() - started
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 200
    assert response.json() | {"worker_last_seen": None} == {
        "status": "degraded",
        "database": "ok",
        "broker": "down",
        "cache": "down",
        "worker_last_seen": None,
    }
    assert took < 1.5


@pytest.mark.django_db
def test_healthz_shows_when_a_worker_last_ran_the_heartbeat_and_the_trail_stays_clean():
    """The heartbeat overwrites one row of its own: the append-only audit trail gained one a minute."""
    assert Client().get("/healthz").json()["worker_last_seen"] is None
    first, last = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 9, 31, tzinfo=dt.UTC)
    for instant in (first, last):
        with clock.as_of(instant):
            worker_heartbeat_task.delay("from the test")
    assert Client().get("/healthz").json()["worker_last_seen"] == last.isoformat()
    assert WorkerHeartbeat.objects.count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_home_page_requires_login_then_serves_the_rep_their_inbox():
    rep = UserFactory()
    AccountFactory(name="Acme Corp", owner=rep)
    client = Client()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(rep)
    response = client.get("/")
    assert response.status_code == 200
    assert "recommendations/inbox.html" in [t.name for t in response.templates]


@pytest.mark.django_db
def test_admin_login_page_is_served():
    assert Client().get("/admin/login/").status_code == 200


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_beat_schedule_is_synced_to_the_database_scheduler():
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from salesai.celery import app

    DatabaseScheduler(app=app, lazy=True).setup_schedule()
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {"signals-requeue-unanalysed", "recommendations-sweep-due-accounts", "salesai-worker-heartbeat"} <= names
