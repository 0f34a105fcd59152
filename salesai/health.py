"""``/healthz``: is the database reachable, is the broker reachable. JSON, no auth, no secrets."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from salesai.celery import app as celery_app


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure means "not reachable"; the body says which part
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def _last_worker_heartbeat() -> str | None:
    from audit.models import AuditEvent

    try:
        last = AuditEvent.objects.filter(action="system.worker_heartbeat").values_list("created_at", flat=True).first()
    except Exception:
        return None
    return last.isoformat() if last else None


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable", **{k: "ok" if v else "down" for k, v in checks.items()}}
    if checks["database"]:
        body["worker_last_seen"] = _last_worker_heartbeat()
    return JsonResponse(body, status=200 if healthy else 503)
