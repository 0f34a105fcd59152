"""The Segment HTTP Tracking API tried as an attacker would (issue 13). A browser's write key sits in
every page's snippet, so anyone has it: what can they make salesai believe, and what does it cost us?

Each test names the finding it covers; the happy path it must not break sits next to it.
"""

from __future__ import annotations

import logging

import pytest

from accounts.tests.factories import ContactFactory
from signals.models import Signal
from signals.tests.helpers import basic, dumps, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def website():
    """The browser snippet's source: its write key is public."""
    return make_source("website")


def post(client, path, payload, write_key, **extra):
    body = payload if isinstance(payload, bytes | str) else dumps(payload)
    return client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=basic(write_key), **extra)


# --- finding 12: Redis down -----------------------------------------------------------------------


def test_segment_calls_are_stored_while_redis_is_down(client, website, redis_down, caplog):
    source, key = website
    ContactFactory(email="ada@acme.com", user_id="ada")
    with caplog.at_level(logging.WARNING):
        responses = [
            post(client, "/v1/track", {"userId": "ada", "event": "Demo Requested", "messageId": f"t{n}"}, key)
            for n in range(3)
        ]
        batch = [{"type": "page", "userId": "ada", "messageId": f"p{n}"} for n in range(3)]
        responses.append(post(client, "/v1/batch", {"batch": batch}, key))
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert Signal.objects.filter(source=source).count() == 6
    assert caplog.text.count("cache_unavailable") == 1  # one warning per outage, not one per request
