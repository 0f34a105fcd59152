"""The Segment HTTP Tracking API with hand-made requests: what each call becomes."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
import time_machine

from accounts.models import Account, Contact
from accounts.tests.factories import AccountFactory
from signals.models import AnonymousIdentity, QuarantinedPayload, Signal
from signals.tests.helpers import basic, dumps, make_source

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def segment_source():
    return make_source("website")


def post(client, path, payload, write_key=None, **extra):
    if write_key is not None:
        extra.setdefault("HTTP_AUTHORIZATION", basic(write_key))
    body = payload if isinstance(payload, bytes | str) else dumps(payload)
    return client.post(path, body, content_type=extra.pop("content_type", "application/json"), **extra)


def test_track_maps_event_name_to_kind_and_answers_success(client, segment_source, django_capture_on_commit_callbacks):
    source, key = segment_source
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(
            client,
            "/v1/track",
            {"userId": "u1", "event": "Demo Requested", "properties": {"form": "demo"}, "messageId": "m1"},
            key,
        )
    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    signal = Signal.objects.get(source=source, external_id="m1")
    assert (signal.kind, signal.name, signal.properties) == ("form_submitted", "Demo Requested", {"form": "demo"})
    assert len(callbacks) == 1  # announced on commit


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("Meeting Booked", "meeting_booked"),
        ("feature_used", "product_usage"),
        ("Logged In", "product_usage"),
        ("Signed Up", "form_submitted"),
        ("Spaceship Launched", "custom"),
    ],
)
def test_track_default_event_map(client, segment_source, event, kind):
    source, key = segment_source
    post(client, "/v1/track", {"userId": "u1", "event": event, "messageId": f"m-{event}"}, key)
    signal = Signal.objects.get(source=source)
    assert signal.kind == kind
    assert signal.name == event


def test_source_event_map_overrides_defaults(client):
    source, key = make_source("app", event_map={"Spaceship Launched": "product_usage", "Signed Up": "custom"})
    post(client, "/v1/track", {"userId": "u1", "event": "Spaceship Launched", "messageId": "a"}, key)
    post(client, "/v1/track", {"userId": "u1", "event": "Signed Up", "messageId": "b"}, key)
    kinds = dict(Signal.objects.values_list("external_id", "kind"))
    assert kinds == {"a": "product_usage", "b": "custom"}


def test_page_becomes_page_view_with_url_path_title_referrer(client, segment_source):
    source, key = segment_source
    post(
        client,
        "/v1/page",
        {
            "anonymousId": "anon-1",
            "name": "Pricing",
            "properties": {"url": "https://salesai.example/pricing", "path": "/pricing"},
            "context": {"page": {"title": "Pricing — salesai", "referrer": "https://google.com/"}},
            "messageId": "p1",
        },
        key,
    )
    signal = Signal.objects.get(external_id="p1")
    assert signal.kind == "page_view"
    assert signal.properties["url"] == "https://salesai.example/pricing"
    assert signal.properties["path"] == "/pricing"
    assert signal.properties["title"] == "Pricing — salesai"
    assert signal.properties["referrer"] == "https://google.com/"
    assert signal.anonymous_id == "anon-1" and signal.contact is None


def test_identify_upserts_contact_and_backfills_anonymous_page_views(
    client, segment_source, django_capture_on_commit_callbacks, announced
):
    source, key = segment_source
    post(client, "/v1/page", {"anonymousId": "anon-7", "properties": {"path": "/pricing"}, "messageId": "p1"}, key)
    earlier = Signal.objects.get(external_id="p1")
    assert earlier.account is None
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client,
            "/v1/identify",
            {
                "userId": "user-7",
                "anonymousId": "anon-7",
                "traits": {"email": "Ada@Acme.com", "name": "Ada Lovelace", "title": "VP Engineering"},
                "messageId": "i1",
            },
            key,
        )
    assert response.status_code == 200
    contact = Contact.objects.get(email="ada@acme.com")
    assert (contact.name, contact.title, contact.seniority, contact.user_id) == (
        "Ada Lovelace",
        "VP Engineering",
        "vp",
        "user-7",
    )
    assert contact.account.domain == "acme.com"
    assert AnonymousIdentity.objects.get(anonymous_id="anon-7").contact == contact
    earlier.refresh_from_db()
    assert (earlier.contact, earlier.account) == (contact, contact.account)
    identify = Signal.objects.get(external_id="i1")
    announced_ids = {pk for ids, _ in announced for pk in ids}
    assert announced_ids == {identify.pk, earlier.pk}  # the back-filled page view is announced again
    assert contact.account_id in {a for _, accounts in announced for a in accounts}

    post(client, "/v1/page", {"anonymousId": "anon-7", "properties": {"path": "/docs"}, "messageId": "p2"}, key)
    assert Signal.objects.get(external_id="p2").account == contact.account


def test_identify_with_free_mail_creates_no_account(client, segment_source):
    source, key = segment_source
    post(client, "/v1/identify", {"userId": "u9", "traits": {"email": "someone@gmail.com"}, "messageId": "i"}, key)
    contact = Contact.objects.get(email="someone@gmail.com")
    assert contact.account is None
    assert not Account.objects.filter(domain="gmail.com").exists()


def test_group_upserts_account_and_later_events_resolve_by_group(client, segment_source):
    source, key = segment_source
    post(client, "/v1/identify", {"userId": "u5", "traits": {"email": "bob@gmail.com"}, "messageId": "i"}, key)
    post(
        client,
        "/v1/group",
        {
            "userId": "u5",
            "groupId": "org-42",
            "traits": {"name": "Initech", "website": "https://www.initech.co.uk/about", "plan": "Team", "seats": 40},
            "messageId": "g",
        },
        key,
    )
    account = Account.objects.get(domain="initech.co.uk")
    assert (account.name, account.plan, account.seats) == ("Initech", "Team", 40)
    # a free-mail person is tied to a company only by the CRM (test_abuse_segment has why)
    assert Contact.objects.get(user_id="u5").account is None
    post(client, "/v1/track", {"userId": "u5", "event": "Report Created", "messageId": "t"}, key)
    assert Signal.objects.get(external_id="t").account is None
    post(
        client,
        "/v1/track",
        {"anonymousId": "x", "event": "Report Created", "context": {"groupId": "org-42"}, "messageId": "t2"},
        key,
    )
    assert Signal.objects.get(external_id="t2").account == account


def test_batch_stores_valid_events_and_reports_invalid_by_index(client, segment_source):
    source, key = segment_source
    response = post(
        client,
        "/v1/batch",
        {
            "batch": [
                {"type": "track", "userId": "u1", "event": "Feature Used", "messageId": "b1"},
                {"type": "track", "userId": "u1", "messageId": "b2"},
                {"type": "page", "anonymousId": "a", "messageId": "b3", "timestamp": "yesterday"},
                {"type": "page", "anonymousId": "a", "messageId": "b4"},
            ]
        },
        key,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["stored"] == 2
    assert [(e["index"], list(e["fields"])) for e in body["errors"]] == [
        (1, ["batch.1.event"]),
        (2, ["batch.2.timestamp"]),
    ]
    assert set(Signal.objects.values_list("external_id", flat=True)) == {"b1", "b4"}
    quarantined = QuarantinedPayload.objects.order_by("item_index")
    assert [(q.item_index, q.error_code, q.endpoint) for q in quarantined] == [
        (1, "missing_field", "/v1/batch"),
        (2, "invalid_timestamp", "/v1/batch"),
    ]
    assert json.loads(quarantined[0].payload)["messageId"] == "b2"


def test_batch_with_nothing_valid_is_400_naming_fields(client, segment_source):
    source, key = segment_source
    response = post(client, "/v1/batch", {"batch": [{"type": "track", "userId": "u"}, {"type": "nope"}]}, key)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_batch"
    assert set(error["fields"]) == {"batch.0.event", "batch.1.type"}
    assert QuarantinedPayload.objects.count() == 2


def test_resend_with_same_message_id_creates_nothing_new(client, segment_source):
    source, key = segment_source
    payload = {"batch": [{"type": "track", "userId": "u1", "event": "Feature Used", "messageId": "same"}]}
    assert post(client, "/v1/batch", payload, key).json()["stored"] == 1
    again = post(client, "/v1/batch", payload, key).json()
    assert (again["stored"], again["duplicates"]) == (0, 1)
    assert Signal.objects.filter(source=source).count() == 1


def test_same_message_id_from_another_source_is_a_different_signal(client, segment_source):
    _, key = segment_source
    _, other_key = make_source("other")
    payload = {"userId": "u1", "event": "Feature Used", "messageId": "same"}
    post(client, "/v1/track", payload, key)
    post(client, "/v1/track", payload, other_key)
    assert Signal.objects.count() == 2


@time_machine.travel(NOW, tick=False)
def test_clock_skew_is_corrected_with_sent_at(client, segment_source):
    source, key = segment_source
    # The device clock is 2 hours behind: it says it sent at 10:00 what happened at 09:55.
    post(
        client,
        "/v1/batch",
        {
            "batch": [
                {"type": "track", "userId": "u", "event": "X", "messageId": "s", "timestamp": "2026-11-26T09:55:00Z"}
            ],
            "sentAt": "2026-11-26T10:00:00Z",
        },
        key,
    )
    assert Signal.objects.get(external_id="s").occurred_at == NOW - dt.timedelta(minutes=5)


@time_machine.travel(NOW, tick=False)
def test_timestamp_without_sent_at_is_taken_as_is_and_missing_means_now(client, segment_source):
    source, key = segment_source
    post(client, "/v1/track", {"userId": "u", "event": "X", "messageId": "a", "timestamp": "2026-11-20T08:00:00"}, key)
    post(client, "/v1/track", {"userId": "u", "event": "X", "messageId": "b"}, key)
    times = dict(Signal.objects.values_list("external_id", "occurred_at"))
    assert times == {"a": dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC), "b": NOW}


def test_gzip_body_is_accepted(client, segment_source):
    source, key = segment_source
    body = gzip.compress(dumps({"userId": "u", "event": "Logged In", "messageId": "gz"}).encode())
    response = post(client, "/v1/track", body, key, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content
    assert Signal.objects.filter(external_id="gz", kind="product_usage").exists()


def test_gzip_bomb_is_refused_without_inflating_it_all(client, segment_source):
    source, key = segment_source
    bomb = gzip.compress(b'{"batch": [' + b" " * (50 * 1024 * 1024) + b"]}")
    response = post(client, "/v1/batch", bomb, key, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_write_key_in_body_authenticates(client, segment_source):
    source, key = segment_source
    response = post(client, "/v1/track", {"writeKey": key, "userId": "u", "event": "X", "messageId": "wk"})
    assert response.status_code == 200
    assert Signal.objects.filter(source=source, external_id="wk").exists()


@pytest.mark.parametrize(
    "auth",
    [None, basic("sk_wrong"), "Basic !!!notbase64", "Bearer sk_x"],
)
def test_missing_or_wrong_write_key_is_401_and_not_quarantined(client, segment_source, auth):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = post(client, "/v1/track", {"userId": "u", "event": "X"}, **extra)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert not QuarantinedPayload.objects.exists()
    assert not Signal.objects.exists()


def test_inactive_source_is_refused(client):
    source, key = make_source("old", active=False)
    assert post(client, "/v1/track", {"userId": "u", "event": "X"}, key).status_code == 401


def test_event_over_32kb_is_413_and_quarantined(client, segment_source):
    source, key = segment_source
    response = post(client, "/v1/track", {"userId": "u", "event": "X", "properties": {"blob": "x" * 40_000}}, key)
    assert response.status_code == 413
    assert QuarantinedPayload.objects.get().error_code == "payload_too_large"


def test_batch_item_over_32kb_is_refused_alone(client, segment_source):
    source, key = segment_source
    response = post(
        client,
        "/v1/batch",
        {
            "batch": [
                {"type": "track", "userId": "u", "event": "X", "messageId": "ok"},
                {"type": "track", "userId": "u", "event": "X", "properties": {"blob": "x" * 40_000}},
            ]
        },
        key,
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["code"] == "event_too_large"
    assert Signal.objects.get().external_id == "ok"


def test_rate_limit_answers_429_with_retry_after(client):
    source, key = make_source("tight", rate_limit_per_minute=2)
    for n in range(2):
        assert post(client, "/v1/track", {"userId": "u", "event": "X", "messageId": str(n)}, key).status_code == 200
    response = post(client, "/v1/track", {"userId": "u", "event": "X", "messageId": "3"}, key)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"
    assert Signal.objects.count() == 2


def test_existing_account_is_found_by_email_domain(client, segment_source):
    source, key = segment_source
    account = AccountFactory(domain="globex.com")
    post(
        client,
        "/v1/track",
        {"userId": "u", "event": "X", "context": {"traits": {"email": "h@mail.globex.com"}}, "messageId": "e"},
        key,
    )
    assert Signal.objects.get(external_id="e").account == account


def test_batch_of_100_costs_a_constant_number_of_queries(client, segment_source, django_assert_max_num_queries):
    source, key = segment_source
    account = AccountFactory(domain="bulk.example.org")
    for n in range(5):
        Contact.objects.create(email=f"u{n}@bulk.example.org", user_id=f"user-{n}", account=account)
    batch = [
        {"type": "track", "userId": f"user-{i % 5}", "event": "Feature Used", "messageId": f"q{i}"}
        if i % 2
        else {"type": "page", "anonymousId": f"anon-{i % 5}", "properties": {"path": "/"}, "messageId": f"q{i}"}
        for i in range(100)
    ]
    with django_assert_max_num_queries(10):
        response = post(client, "/v1/batch", {"batch": batch}, key)
    assert response.json()["stored"] == 100
    assert Signal.objects.filter(account=account).count() == 50


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_only_reads_before_its_insert_runs_without_begin_and_commit(client):
    """Resolving who track/page calls are about only reads, and one INSERT is atomic by itself: no
    transaction round trips. A batch that also upserts (identify) keeps its transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    source, key = make_source("website-tx")
    Contact.objects.create(email="ada@reads.example.org", user_id="reader", account=AccountFactory())
    calls = [
        {"type": "track", "userId": "reader", "event": "Feature Used", "messageId": "r1"},
        {"type": "page", "userId": "reader", "properties": {"path": "/"}, "messageId": "r2"},
    ]
    with CaptureQueriesContext(connection) as queries:
        assert post(client, "/v1/batch", {"batch": calls}, key).json()["stored"] == 2
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    insert = statements.index("INSERT")  # after it, the (eager) analysis runs
    assert "signals_signal" in queries.captured_queries[insert]["sql"]
    assert "BEGIN" not in statements[:insert]
    assert Signal.objects.filter(source=source, contact__user_id="reader").count() == 2

    identify = {"type": "identify", "userId": "newcomer", "traits": {"email": "bo@reads.example.org"}, "messageId": "i"}
    with CaptureQueriesContext(connection) as queries:
        assert (
            post(client, "/v1/batch", {"batch": [identify, {**calls[0], "messageId": "r3"}]}, key).json()["stored"] == 2
        )
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert "BEGIN" in statements[: statements.index("INSERT")]
