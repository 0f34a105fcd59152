"""The signed signal webhook (``POST /api/v1/signals``) tried as an attacker would (issue 13): a
signature proves which source sent a delivery, not that what it says about people is true.

Each test names the finding it covers; the happy path it must not break sits next to it.
"""

from __future__ import annotations

import logging

import pytest

from signals.models import Signal
from signals.tests.helpers import dumps, make_source, signed_headers

pytestmark = pytest.mark.django_db
URL = "/api/v1/signals"


@pytest.fixture
def forms():
    return make_source("forms", kind="generic")


def send(client, source, payload):
    body = dumps(payload)
    return client.post(URL, body, content_type="application/json", **signed_headers(source, body))


def item(**overrides) -> dict:
    return {"kind": "form_submitted", "name": "Demo Requested", "occurred_at": "2026-11-26T10:00:00Z", **overrides}


# --- finding 12: Redis down -----------------------------------------------------------------------


def test_signed_signals_are_stored_while_redis_is_down(client, forms, redis_down, caplog):
    source, _ = forms
    with caplog.at_level(logging.WARNING):
        single = [send(client, source, item(account_domain="acme.com", id=f"s{n}")) for n in range(3)]
        listed = send(client, source, [item(account_domain="acme.com", id=f"l{n}") for n in range(3)])
    assert [r.status_code for r in [*single, listed]] == [200, 200, 200, 200]
    assert Signal.objects.filter(source=source).count() == 6
    assert caplog.text.count("cache_unavailable") == 1
