"""Helpers of the ingestion tests: sources with their clear-text credentials, signed requests."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from signals.models import Source
from signals.segment.dialect import MAX_NESTING_DEPTH
from signals.sources import create_source


def make_source(name: str | None = None, kind: str = Source.Kind.SEGMENT, **fields) -> tuple[Source, str]:
    source, write_key = create_source(name=name or f"src-{uuid.uuid4().hex[:8]}", kind=kind)
    if fields:
        for key, value in fields.items():
            setattr(source, key, value)
        source.save()
    return source, write_key


def basic(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def signed_headers(
    source: Source, body: str | bytes, *, webhook_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` as Django test-client extra kwargs."""
    text = body.decode() if isinstance(body, bytes) else body
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(tz=UTC)
    signature = Webhook(source.signing_secret).sign(webhook_id, at, text)
    return {
        "HTTP_WEBHOOK_ID": webhook_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(at.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": signature,
        "HTTP_WEBHOOK_SOURCE": source.name,
    }


def dumps(data) -> str:
    return json.dumps(data, separators=(",", ":"))


# Deep enough that loading it back inside a page's template rendering exhausted Python's recursion
# limit (the account page answered 500), shallow enough that json.loads accepts it in a request.
DEEP = 900
# Deep enough to break the nesting limit, shallow enough that the JSON parser never runs out of stack
# however deep the caller's own stack already is (under pytest-xdist it is a few hundred frames deeper).
TOO_DEEP = 3 * MAX_NESTING_DEPTH


def nested(depth: int) -> dict:
    """A JSON object ``depth`` levels deep."""
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value
