"""POST /api/v1/signals: our own format, signed per the Standard Webhooks spec."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import Account, Contact
from signals.models import QuarantinedPayload, Signal, WebhookDelivery
from signals.tests.helpers import basic, dumps, make_source, signed_headers

pytestmark = pytest.mark.django_db
URL = "/api/v1/signals"


@pytest.fixture
def generic_source():
    return make_source("forms", kind="generic")


def send(client, source, payload, **extra):
    body = payload if isinstance(payload, str) else dumps(payload)
    headers = {**signed_headers(source, body), **extra}
    return client.post(URL, body, content_type="application/json", **headers)


def signal_item(**overrides):
    return {
        "kind": "form_submitted",
        "name": "Demo Requested",
        "occurred_at": "2026-11-26T10:00:00Z",
        "contact_email": "ada@acme.com",
        "properties": {"form": "demo"},
        **overrides,
    }


def test_one_signed_signal_is_stored_with_contact_and_account(
    client, generic_source, announced, django_capture_on_commit_callbacks
):
    source, _ = generic_source
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, source, signal_item(external_id="form-1"))
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "stored": 1, "duplicates": 0, "replayed": False, "errors": []}
    signal = Signal.objects.get(source=source)
    assert (signal.kind, signal.external_id, signal.name) == ("form_submitted", "form-1", "Demo Requested")
    assert signal.occurred_at == dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC)
    assert signal.contact == Contact.objects.get(email="ada@acme.com")
    assert signal.account == Account.objects.get(domain="acme.com")
    assert announced == [([signal.pk], [signal.account_id])]


def test_external_id_defaults_to_webhook_id(client, generic_source):
    source, _ = generic_source
    body = dumps(signal_item())
    client.post(URL, body, content_type="application/json", **signed_headers(source, body, webhook_id="msg_abc"))
    assert Signal.objects.get().external_id == "msg_abc"


def test_a_list_keeps_valid_items_and_reports_invalid_ones_by_index(client, generic_source):
    source, _ = generic_source
    response = send(
        client,
        source,
        [
            signal_item(id="a", account_domain="https://www.globex.com/x", contact_email=None),
            signal_item(kind="teleported"),
            signal_item(id="c", kind="meeting_booked"),
        ],
    )
    assert response.status_code == 200
    body = response.json()
    assert body["stored"] == 2
    assert body["errors"] == [
        {
            "index": 1,
            "code": "invalid_field",
            "message": "kind must be one of the signal kinds.",
            "fields": {"1.kind": body["errors"][0]["fields"]["1.kind"]},
        }
    ]
    assert Signal.objects.get(external_id="a").account.domain == "globex.com"
    assert QuarantinedPayload.objects.get().item_index == 1


def test_list_of_1000_is_accepted_and_1001_refused(client, generic_source):
    source, _ = generic_source
    items = [signal_item(id=f"s{n}", contact_email=None, account_domain="bulk.example.com") for n in range(1000)]
    response = send(client, source, items)
    assert response.status_code == 200
    assert response.json()["stored"] == 1000
    response = send(client, source, [*items, signal_item()])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_signals"


def test_redelivery_of_same_webhook_id_stores_nothing_and_answers_success(client, generic_source):
    source, _ = generic_source
    body = dumps([signal_item(id="x1"), signal_item(id="x2")])
    headers = signed_headers(source, body, webhook_id="msg_once")
    assert client.post(URL, body, content_type="application/json", **headers).json()["stored"] == 2
    again = client.post(URL, body, content_type="application/json", **headers)
    assert again.status_code == 200
    assert again.json()["replayed"] is True and again.json()["stored"] == 0
    assert Signal.objects.count() == 2 and WebhookDelivery.objects.count() == 1


def test_same_item_id_under_a_new_webhook_id_is_deduplicated(client, generic_source):
    source, _ = generic_source
    send(client, source, signal_item(id="same"))
    response = send(client, source, signal_item(id="same"))
    assert response.json()["duplicates"] == 1
    assert Signal.objects.count() == 1


def test_tampered_body_is_refused(client, generic_source):
    source, _ = generic_source
    body = dumps(signal_item())
    headers = signed_headers(source, body)
    response = client.post(URL, body.replace("Demo", "Demx"), content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["error"]["fields"] == {"webhook-signature": response.json()["error"]["message"]}
    assert not Signal.objects.exists() and not QuarantinedPayload.objects.exists()


def test_signature_with_another_secret_is_refused(client, generic_source):
    source, _ = generic_source
    other, _ = make_source("other", kind="generic")
    body = dumps(signal_item())
    headers = {**signed_headers(other, body), "HTTP_WEBHOOK_SOURCE": source.name}
    assert client.post(URL, body, content_type="application/json", **headers).status_code == 401


@pytest.mark.parametrize("age", [dt.timedelta(minutes=6), -dt.timedelta(minutes=6)])
def test_expired_or_future_timestamp_is_refused(client, generic_source, age):
    source, _ = generic_source
    body = dumps(signal_item())
    headers = signed_headers(source, body, at=dt.datetime.now(tz=dt.UTC) - age)
    response = client.post(URL, body, content_type="application/json", **headers)
    assert response.status_code == 401
    assert "too" in response.json()["error"]["message"]


def test_within_tolerance_is_accepted(client, generic_source):
    source, _ = generic_source
    body = dumps(signal_item())
    signed_at = dt.datetime.now(tz=dt.UTC)
    headers = signed_headers(source, body, at=signed_at)
    with time_machine.travel(signed_at + dt.timedelta(minutes=4), tick=False):
        assert client.post(URL, body, content_type="application/json", **headers).status_code == 200


@pytest.mark.parametrize("missing", ["HTTP_WEBHOOK_ID", "HTTP_WEBHOOK_TIMESTAMP", "HTTP_WEBHOOK_SIGNATURE"])
def test_missing_signature_header_is_refused(client, generic_source, missing):
    source, _ = generic_source
    body = dumps(signal_item())
    headers = signed_headers(source, body)
    del headers[missing]
    response = client.post(URL, body, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["error"]["fields"] == {
        missing[5:].lower().replace("_", "-"): response.json()["error"]["message"]
    }


@pytest.mark.parametrize("signature", ["v1,not-base64!!", "garbage", "v1", "v2,abc", "v1,", "v1,YWJj v1,,"])
def test_malformed_signature_is_401_not_500(client, generic_source, signature):
    source, _ = generic_source
    body = dumps(signal_item())
    headers = {**signed_headers(source, body), "HTTP_WEBHOOK_SIGNATURE": signature}
    assert client.post(URL, body, content_type="application/json", **headers).status_code == 401


def test_source_by_write_key_in_basic_auth_or_x_source_key(client, generic_source):
    source, key = generic_source
    body = dumps(signal_item(id="k1"))
    headers = signed_headers(source, body)
    del headers["HTTP_WEBHOOK_SOURCE"]
    assert (
        client.post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=basic(key), **headers).status_code
        == 200
    )
    body = dumps(signal_item(id="k2"))
    headers = signed_headers(source, body)
    del headers["HTTP_WEBHOOK_SOURCE"]
    assert client.post(URL, body, content_type="application/json", HTTP_X_SOURCE_KEY=key, **headers).status_code == 200
    assert Signal.objects.count() == 2


def test_write_key_without_signature_is_refused(client, generic_source):
    source, key = generic_source
    response = client.post(URL, dumps(signal_item()), content_type="application/json", HTTP_AUTHORIZATION=basic(key))
    assert response.status_code == 401


def test_no_source_named_is_refused(client, generic_source):
    source, _ = generic_source
    body = dumps(signal_item())
    headers = signed_headers(source, body)
    del headers["HTTP_WEBHOOK_SOURCE"]
    response = client.post(URL, body, content_type="application/json", **headers)
    assert response.status_code == 401
    assert "webhook-source" in response.json()["error"]["fields"]


def test_invalid_content_after_a_valid_signature_is_quarantined(client, generic_source):
    source, _ = generic_source
    response = send(client, source, signal_item(occurred_at="last tuesday"))
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"occurred_at": "Not an ISO-8601 date-time: 'last tuesday'."}
    assert QuarantinedPayload.objects.get().error_code == "invalid_timestamp"
    assert not WebhookDelivery.objects.exists()  # may be fixed and sent again under the same id


def test_free_mail_contact_gets_no_account(client, generic_source):
    source, _ = generic_source
    send(client, source, signal_item(contact_email="someone@yahoo.com"))
    signal = Signal.objects.get()
    assert signal.contact.email == "someone@yahoo.com" and signal.account is None


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_one_signal_is_claimed_and_stored_atomically(client, announced):
    """Without a surrounding transaction (as in production) PostgreSQL takes the one-statement path
    for a single signal; the outcome must be the same as the general path's."""
    source, _ = make_source("forms-tx", kind="generic")
    body = dumps(signal_item(id="tx-1", account_domain="atomic.example.org", contact_email=None))
    headers = signed_headers(source, body, webhook_id="msg_tx")
    first = client.post(URL, body, content_type="application/json", **headers)
    assert first.json() == {"success": True, "stored": 1, "duplicates": 0, "replayed": False, "errors": []}
    signal = Signal.objects.get(source=source)
    assert (signal.external_id, signal.account.domain) == ("tx-1", "example.org")
    assert announced == [([signal.pk], [signal.account_id])]
    replay = client.post(URL, body, content_type="application/json", **headers)
    assert replay.json()["replayed"] is True and replay.json()["stored"] == 0
    resent = client.post(URL, body, content_type="application/json", **signed_headers(source, body))
    assert resent.json()["duplicates"] == 1
    assert Signal.objects.filter(source=source).count() == 1
    assert WebhookDelivery.objects.filter(source=source).count() == 2
    for external_id, domain in (("tx-2", "www.example.org"), ("tx-3", "gmail.com")):
        body = dumps(signal_item(id=external_id, account_domain=domain, contact_email=None))
        client.post(URL, body, content_type="application/json", **signed_headers(source, body))
    assert Signal.objects.get(external_id="tx-2").account == signal.account  # found, not created again
    assert Signal.objects.get(external_id="tx-3").account is None  # free-mail domains never get one
    assert Account.objects.filter(domain__in=["example.org", "gmail.com"]).count() == 1


@pytest.mark.parametrize("where", ["top_level", "properties"])
def test_an_outreach_e_mail_keeps_its_message_id_so_replies_thread_to_it(client, generic_source, where):
    source, _ = generic_source
    message_id = "<outreach-1@mail.acme-sales.com>"
    item = signal_item(kind="email_sent", name="", properties={"subject": "Hello"})
    if where == "top_level":
        item["message_id"] = message_id
    else:
        item["properties"]["message_id"] = message_id
    response = send(client, source, item)
    assert response.status_code == 200, response.content
    assert Signal.objects.get(source=source).message_id == message_id


def test_a_message_id_that_is_not_a_string_is_refused_by_name(client, generic_source):
    source, _ = generic_source
    response = send(client, source, signal_item(kind="email_sent", message_id=42))
    assert response.status_code == 400
    assert "message_id" in str(response.json()["error"]["fields"])


@pytest.mark.django_db(transaction=True)
def test_the_one_statement_path_remembers_a_domain_s_account_and_recovers_when_it_is_gone(require_postgres, client):
    """The single-signal path stores with the account id it saw for a domain in the last seconds;
    an id gone behind this process's back (deleted elsewhere) fails the foreign key, and the same
    request is then stored with a fresh lookup. A domain edited here is forgotten at once."""
    from signals.identity.domains import forget_account_ids, recent_account_id, remember_account_id

    forget_account_ids()
    source, _ = make_source("forms-remembered", kind="generic")

    def post(external_id: str, domain: str):
        body = dumps(signal_item(id=external_id, account_domain=domain, contact_email=None))
        return client.post(URL, body, content_type="application/json", **signed_headers(source, body))

    assert post("r-1", "remembered-co.com").json()["stored"] == 1
    account = Account.objects.get(domain="remembered-co.com")
    assert recent_account_id("remembered-co.com") == account.pk
    assert post("r-2", "remembered-co.com").json()["stored"] == 1
    assert Signal.objects.get(external_id="r-2").account == account

    missing = Account.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    remember_account_id("remembered-co.com", missing)  # as if deleted by another process
    second = post("r-3", "remembered-co.com")
    assert second.json() == {"success": True, "stored": 1, "duplicates": 0, "replayed": False, "errors": []}
    assert Signal.objects.get(external_id="r-3").account == account
    assert recent_account_id("remembered-co.com") != missing

    account.domain = "renamed-co.com"
    account.save()
    assert recent_account_id("remembered-co.com") is None
    assert post("r-4", "remembered-co.com").json()["stored"] == 1
    assert Signal.objects.get(external_id="r-4").account.domain == "remembered-co.com"  # a new account
    forget_account_ids()


@pytest.mark.django_db(transaction=True)
def test_the_one_statement_path_tells_replays_from_duplicates_with_a_remembered_account(client):
    from signals.identity.domains import forget_account_ids

    forget_account_ids()
    source, _ = make_source("forms-replays", kind="generic")
    body = dumps(signal_item(id="d-1", account_domain="replays-co.com", contact_email=None))
    headers = signed_headers(source, body, webhook_id="msg_d1")
    assert client.post(URL, body, content_type="application/json", **headers).json()["stored"] == 1
    replay = client.post(URL, body, content_type="application/json", **headers).json()
    assert (replay["replayed"], replay["stored"], replay["duplicates"]) == (True, 0, 0)
    resent = client.post(URL, body, content_type="application/json", **signed_headers(source, body)).json()
    assert (resent["replayed"], resent["stored"], resent["duplicates"]) == (False, 0, 1)
    assert Signal.objects.filter(source=source).count() == 1
    forget_account_ids()
