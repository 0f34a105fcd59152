"""Helpers of the engine tests: drive signals through the public ingestion API and the sweep."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

from django.core.management import call_command
from django.test import Client

from recommendations.models import Recommendation
from signals.tests.helpers import make_source, signed_headers

T0 = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)  # a Monday


class Ingest:
    """POST /api/v1/signals, signed with the source's Standard Webhooks secret."""

    def __init__(self, client: Client | None = None):
        self.client = client or Client()
        self.source, self.write_key = make_source(kind="generic")

    def send(self, *items: dict, expect: int = 200) -> dict:
        body = json.dumps(list(items) if len(items) != 1 else items[0], default=str)
        response = self.client.post(
            "/api/v1/signals",
            data=body,
            content_type="application/json",
            **signed_headers(self.source, body, at=dt.datetime.now(dt.UTC)),
        )
        assert response.status_code == expect, response.content
        return response.json()

    def signal(self, kind: str, at: dt.datetime, *, domain: str = "", email: str = "", **fields) -> dict:
        item = {"kind": kind, "occurred_at": at.isoformat(), "external_id": uuid.uuid4().hex, **fields}
        if domain:
            item["account_domain"] = domain
        if email:
            item["contact_email"] = email
        return self.send(item)


def sweep(as_of: dt.datetime) -> str:
    out = io.StringIO()
    call_command("sweep", "--as-of", as_of.isoformat(), stdout=out)
    return out.getvalue()


def open_recs(account) -> list[Recommendation]:
    return list(Recommendation.objects.filter(account=account, status__in=Recommendation.OPEN_STATUSES))
