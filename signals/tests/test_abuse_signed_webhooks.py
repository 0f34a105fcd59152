"""The signed signal webhook (``POST /api/v1/signals``) tried as an attacker would (issue 13): a
signature proves which source sent a delivery, not that what it says about people is true.

Each test names the finding it covers; the happy path it must not break sits next to it.
"""

from __future__ import annotations

import logging

import pytest

from accounts.models import Account, Contact
from accounts.tests.factories import AccountFactory, ContactFactory
from signals.models import Signal
from signals.segment.dialect import MAX_NESTING_DEPTH
from signals.tests.helpers import TOO_DEEP, basic, dumps, make_source, nested, signed_headers

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


# --- finding 4: a signed source's key does not open the unsigned endpoints ------------------------


@pytest.mark.parametrize("path", ["/v1/track", "/v1/page", "/v1/identify", "/v1/group", "/v1/alias", "/v1/batch"])
def test_signed_source_key_cannot_skip_its_signature_on_the_tracking_api(client, forms, path):
    _, key = forms
    call = {"userId": "u", "event": "Demo Requested", "groupId": "g", "previousId": "p"}
    payload = {"batch": [{"type": "track", **call}]} if path == "/v1/batch" else call
    response = client.post(path, dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=basic(key))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_source_kind"
    assert not Signal.objects.exists()


def test_signed_source_still_takes_signed_deliveries(client, forms):
    source, _ = forms
    response = send(client, source, item(contact_email="ada@acme.com"))
    assert response.status_code == 200 and response.json()["stored"] == 1


# --- finding 2: provenance ------------------------------------------------------------------------


def test_untrusted_signed_source_cannot_claim_an_existing_contact_s_user_id(client, forms):
    source, _ = forms
    cfo = ContactFactory(email="cfo@acme.com", origin="crm")
    assert send(client, source, item(contact_email="cfo@acme.com", user_id="attacker")).status_code == 200
    cfo.refresh_from_db()
    assert cfo.user_id is None
    assert Signal.objects.get().contact == cfo  # the signal itself is still about the person it names


def test_new_contact_from_a_signed_signal_is_of_signal_origin_and_gets_its_user_id(client, forms):
    source, _ = forms
    send(client, source, item(contact_email="new@acme.com", user_id="new-1"))
    contact = Contact.objects.get(email="new@acme.com")
    assert (contact.origin, contact.user_id, contact.account.domain) == (Contact.Origin.SIGNAL, "new-1", "acme.com")


def test_trusted_signed_source_may_tie_a_user_id_to_an_existing_contact(client):
    source, _ = make_source("backend", kind="generic", trusted_traits=True)
    contact = ContactFactory(email="ada@acme.com", origin="crm")
    send(client, source, item(contact_email="ada@acme.com", user_id="ada-1"))
    contact.refresh_from_db()
    assert contact.user_id == "ada-1"


def test_signed_signal_names_are_one_line(client, forms):
    source, _ = forms
    send(client, source, item(account_domain="acme.com", name="Demo\r\nRequested\u2029now"))
    assert Signal.objects.get().name == "Demo Requested now"


# --- finding 6: accounts created per source per hour ----------------------------------------------


def test_signed_source_cannot_create_accounts_beyond_its_hourly_budget(client, forms, settings):
    settings.SALESAI = {**settings.SALESAI, "ACCOUNTS_PER_SOURCE_PER_HOUR": 3}
    source, _ = forms
    for n in range(6):  # one request each: the one-statement path
        assert send(client, source, item(account_domain=f"new-{n}.com", id=f"s{n}")).status_code == 200
    send(client, source, [item(account_domain=f"list-{n}.com", id=f"l{n}") for n in range(4)])
    send(client, source, item(contact_email="ceo@by-mail.com", id="m"))
    assert Account.objects.count() == 3
    assert Signal.objects.count() == 11
    assert Signal.objects.filter(account__isnull=True).count() == 8
    known = AccountFactory(domain="known.com")
    send(client, source, item(account_domain="known.com", id="k"))
    assert Signal.objects.get(external_id="k").account == known


# --- finding 8: nesting depth ---------------------------------------------------------------------


def test_deeply_nested_signal_properties_are_refused(client, forms):
    source, _ = forms
    response = send(client, source, item(account_domain="acme.com", properties=nested(TOO_DEEP)))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "too_deep" and "properties" in error["fields"]
    assert not Signal.objects.exists()
    ok = send(client, source, item(account_domain="acme.com", properties=nested(MAX_NESTING_DEPTH)))
    assert ok.status_code == 200


def test_deeply_nested_item_of_a_list_is_refused_alone(client, forms):
    source, _ = forms
    response = send(
        client,
        source,
        [
            item(account_domain="acme.com", id="ok"),
            item(account_domain="acme.com", id="deep", properties=nested(TOO_DEEP)),
        ],
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["fields"] == {"1.properties": f"Nested deeper than {MAX_NESTING_DEPTH}."}
    assert list(Signal.objects.values_list("external_id", flat=True)) == ["ok"]


# --- finding 12: Redis down -----------------------------------------------------------------------


def test_signed_signals_are_stored_while_redis_is_down(client, forms, redis_down, caplog):
    source, _ = forms
    with caplog.at_level(logging.WARNING):
        single = [send(client, source, item(account_domain="acme.com", id=f"s{n}")) for n in range(3)]
        listed = send(client, source, [item(account_domain="acme.com", id=f"l{n}") for n in range(3)])
    assert [r.status_code for r in [*single, listed]] == [200, 200, 200, 200]
    assert Signal.objects.filter(source=source).count() == 6
    assert caplog.text.count("cache_unavailable") == 1
