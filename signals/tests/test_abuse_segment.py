"""The Segment HTTP Tracking API tried as an attacker would (issue 13). A browser's write key sits in
every page's snippet, so anyone has it: what can they make salesai believe, and what does it cost us?

Each test names the finding it covers; the happy path it must not break sits next to it.
"""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from accounts.models import Contact
from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from signals.models import QuarantinedPayload, Signal, Source
from signals.segment import MAX_BATCH_EVENTS, MAX_NESTING_DEPTH
from signals.tests.helpers import DEEP, basic, dumps, make_source, nested

pytestmark = pytest.mark.django_db


@pytest.fixture
def website():
    """The browser snippet's source: its write key is public."""
    return make_source("website")


def post(client, path, payload, write_key, **extra):
    body = payload if isinstance(payload, bytes | str) else dumps(payload)
    return client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=basic(write_key), **extra)


# --- finding 4: only Segment sources' keys open /v1/* ---------------------------------------------


@pytest.mark.parametrize("kind", [Source.Kind.GENERIC, Source.Kind.EMAIL, Source.Kind.CRM])
@pytest.mark.parametrize("path", ["/v1/track", "/v1/identify", "/v1/group", "/v1/batch"])
def test_only_segment_source_keys_open_the_tracking_api(client, kind, path):
    _, key = make_source(f"other-{kind}", kind=kind)
    call = {"userId": "u", "event": "Demo Requested", "groupId": "g", "traits": {"email": "a@acme.com"}}
    payload = {"batch": [{"type": "track", **call}]} if path == "/v1/batch" else call
    by_header = post(client, path, payload, key)
    by_body = client.post(path, dumps({**payload, "writeKey": key}), content_type="application/json")
    for response in (by_header, by_body):
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "wrong_source_kind"
    assert not Signal.objects.exists() and not Contact.objects.exists()
    assert not QuarantinedPayload.objects.exists()


# --- finding 6: what one request may carry --------------------------------------------------------


def test_batch_with_too_many_events_is_refused_whole(client, website):
    _, key = website
    batch = [{"type": "track", "userId": "u", "event": "X", "messageId": str(n)} for n in range(MAX_BATCH_EVENTS + 1)]
    response = post(client, "/v1/batch", {"batch": batch}, key)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_events"
    assert not Signal.objects.exists()
    batch.pop()
    assert post(client, "/v1/batch", {"batch": batch}, key).json()["stored"] == MAX_BATCH_EVENTS


def test_batch_body_over_500_kb_is_refused(client, website):
    _, key = website
    big = {"batch": [{"type": "track", "userId": "u", "event": "X", "properties": {"p": "x" * 30_000}}] * 18}
    response = post(client, "/v1/batch", big, key)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert not Signal.objects.exists()


def test_event_over_32_kb_in_utf_8_is_refused_alone(client, website):
    _, key = website
    emoji = "\U0001f600" * 2000  # 8 KB of UTF-8, 24 KB as JSON escapes: within Segment's 32 KB
    wide = "é" * 17_000  # 34 KB of UTF-8
    batch = [
        {"type": "track", "userId": "u", "event": "X", "properties": {"e": emoji}, "messageId": "ok"},
        {"type": "track", "userId": "u", "event": "X", "properties": {"e": wide}, "messageId": "big"},
    ]
    body = dumps({"batch": batch})
    response = client.post("/v1/batch", body, content_type="application/json", HTTP_AUTHORIZATION=basic(key))
    assert response.status_code == 200
    assert [e["code"] for e in response.json()["errors"]] == ["event_too_large"]
    assert list(Signal.objects.values_list("external_id", flat=True)) == ["ok"]


# --- finding 8: nesting depth ---------------------------------------------------------------------


@pytest.mark.parametrize("bag", ["properties", "traits", "context"])
def test_deeply_nested_call_is_refused(client, website, bag):
    _, key = website
    call = {"userId": "u", "event": "X", bag: nested(DEEP), "messageId": "deep"}
    response = post(client, "/v1/track", call, key)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "too_deep" and bag in error["fields"]
    assert not Signal.objects.exists()
    assert post(client, "/v1/track", {**call, bag: nested(MAX_NESTING_DEPTH)}, key).status_code == 200


def test_deeply_nested_batch_item_is_refused_alone(client, website):
    _, key = website
    batch = [
        {"type": "track", "userId": "u", "event": "X", "properties": nested(DEEP), "messageId": "deep"},
        {"type": "track", "userId": "u", "event": "X", "messageId": "flat"},
    ]
    response = post(client, "/v1/batch", {"batch": batch}, key)
    assert response.status_code == 200
    assert response.json()["errors"][0]["fields"] == {"batch.0.properties": f"Nested deeper than {MAX_NESTING_DEPTH}."}
    assert list(Signal.objects.values_list("external_id", flat=True)) == ["flat"]


def test_account_page_still_opens_after_a_deeply_nested_call(client, website):
    _, key = website
    rep = UserFactory()
    account = AccountFactory(domain="deep.example.com", owner=rep)
    ContactFactory(email="d@deep.example.com", account=account, user_id="d")
    post(client, "/v1/track", {"userId": "d", "event": "X", "properties": nested(DEEP), "messageId": "deep"}, key)
    browser = Client()
    browser.force_login(rep)
    assert browser.get(f"/accounts/{account.pk}/").status_code == 200


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
