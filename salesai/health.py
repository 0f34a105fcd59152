"""``/healthz``: is the database reachable, is the broker reachable, is the cache reachable. JSON, no
auth, no secrets.

Only the database decides the status code. Without it nothing can be stored (503: a load balancer
should send webhooks elsewhere). Without the broker or the cache (Redis) this process still stores
every signal and answers 2xx (the rate count and the coalescing claim fail open, the outbox queues
the analysis once the broker is back), so it answers 200 with ``"status": "degraded"`` and says which
part is down: taking every web process out of rotation because Redis stopped would refuse the signals
it can still keep.
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from salesai import sql
from salesai.celery import app as celery_app
from salesai.heartbeat import worker_last_seen

BROKER_TIMEOUT_SECONDS = 2


def _database_ok() -> bool:
    try:
        return sql.ping()
    except Exception:  # any failure means "not reachable"; the body says which part
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            # one attempt, no sleeping between tries: a refused connection answers at once
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
        return True
    except Exception:
        return False


def _cache_ok() -> bool:
    """A real round trip to the cache: Django's Redis cache raises when Redis does not answer (the
    embedded file cache is local and reads a file)."""
    try:
        cache.get("salesai:healthz")
        return True
    except Exception:
        return False


def _last_worker_heartbeat() -> str | None:
    try:
        last = worker_last_seen()
    except Exception:  # the heartbeat table is not migrated yet: say nothing rather than fail the check
        return None
    return last.isoformat() if last else None


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok(), "cache": _cache_ok()}
    if not checks["database"]:
        status = "unavailable"
    else:
        status = "ok" if all(checks.values()) else "degraded"
    body = {"status": status, **{k: "ok" if v else "down" for k, v in checks.items()}}
    if checks["database"]:
        body["worker_last_seen"] = _last_worker_heartbeat()
    return JsonResponse(body, status=503 if status == "unavailable" else 200)
