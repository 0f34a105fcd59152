"""Bench-only URLs: the real application plus two ceilings measured beside it in the same run.

- ``bench/bare``: a bare Django view (no database, no body parsing): the cost of the stack itself.
- ``bench/insert``: a minimal DRF view that parses the JSON body and does one INSERT of a signal.
- ``bench/bulk-insert``: the same for a Segment batch: parse it and insert all its events with one
  multi-row INSERT (the least any batch endpoint must do).
"""

from __future__ import annotations

import uuid

from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from salesai import clock
from signals.models import Signal, Source


@csrf_exempt
def bare(request):
    return JsonResponse({"success": True})


_source_id: int | None = None


def _bench_source_id() -> int:
    global _source_id
    if _source_id is None:
        _source_id = Source.objects.get(name="bench-ceiling").pk
    return _source_id


class MinimalInsert(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        data = request.data
        now = clock.now()
        Signal.objects.create(
            source_id=_bench_source_id(),
            kind="custom",
            external_id=uuid.uuid4().hex,
            occurred_at=now,
            received_at=now,
            properties=data.get("properties") or {},
        )
        return Response({"success": True})


class MinimalBulkInsert(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        now = clock.now()
        source_id = _bench_source_id()
        Signal.objects.bulk_create(
            [
                Signal(
                    source_id=source_id,
                    kind="custom",
                    external_id=uuid.uuid4().hex,
                    occurred_at=now,
                    received_at=now,
                    properties=event.get("properties") or {},
                )
                for event in request.data["batch"]
            ]
        )
        return Response({"success": True})


urlpatterns = [
    path("bench/bare", bare),
    path("bench/insert", MinimalInsert.as_view()),
    path("bench/bulk-insert", MinimalBulkInsert.as_view()),
    path("", include("salesai.urls")),
]
