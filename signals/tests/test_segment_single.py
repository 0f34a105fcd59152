"""A single Segment call, as analytics.js sends one per event, is one statement on the database: who
it is about is looked up by the insert itself (before, a query per identity came first)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import AccountFactory, ContactFactory
from signals.models import AnonymousIdentity, GroupIdentity, Signal
from signals.tests.helpers import basic, dumps, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def website():
    return make_source("website")


def _call(client, path: str, call: dict, key: str, *, in_body: bool = False):
    if in_body:
        return client.post(path, dumps({**call, "writeKey": key}), content_type="application/json")
    return client.post(path, dumps(call), content_type="application/json", HTTP_AUTHORIZATION=basic(key))


@pytest.mark.parametrize(("path", "in_body"), [("/v1/track", False), ("/v1/page", True)])
def test_a_single_call_of_a_known_person_is_one_statement(client, website, django_assert_num_queries, path, in_body):
    source, key = website
    ada = ContactFactory(user_id="ada")
    call = {"userId": "ada", "anonymousId": "a-1", "event": "Demo Requested", "name": "Pricing"}
    assert _call(client, path, {**call, "messageId": "warm-up"}, key, in_body=in_body).status_code == 200
    with django_assert_num_queries(1):
        response = _call(client, path, {**call, "messageId": "m-1"}, key, in_body=in_body)
    assert response.status_code == 200 and response.json()["stored"] == 1
    signal = Signal.objects.get(source=source, external_id="m-1")
    assert (signal.contact, signal.account) == (ada, ada.account)


def test_a_visitor_is_found_by_the_anonymous_id_a_person_was_tied_to(client, website):
    source, key = website
    cy = ContactFactory()
    AnonymousIdentity.objects.create(anonymous_id="a-cy", contact=cy)
    _call(client, "/v1/page", {"anonymousId": "a-cy", "messageId": "p-1"}, key)
    assert Signal.objects.values_list("contact", "account").get(external_id="p-1") == (cy.pk, cy.account_id)


def test_a_call_names_its_company_by_a_group_this_source_tied(client, website):
    source, key = website
    globex = AccountFactory()
    GroupIdentity.objects.create(source=source, group_id="g-1", account=globex)
    GroupIdentity.objects.create(source=make_source("other")[0], group_id="g-2", account=AccountFactory())
    _call(
        client,
        "/v1/track",
        {"anonymousId": "nobody", "event": "X", "context": {"groupId": "g-1"}, "messageId": "t-1"},
        key,
    )
    _call(
        client,
        "/v1/track",
        {"anonymousId": "nobody", "event": "X", "context": {"groupId": "g-2"}, "messageId": "t-2"},
        key,
    )
    accounts = dict(Signal.objects.filter(source=source).values_list("external_id", "account"))
    assert accounts == {"t-1": globex.pk, "t-2": None}  # another source's group names nothing here


def test_a_single_call_with_an_e_mail_address_finds_the_company_of_its_domain(client, website):
    source, key = website
    acme = AccountFactory(domain="acme.com")
    call = {"anonymousId": "new", "event": "X", "context": {"traits": {"email": "ada@acme.com"}}, "messageId": "e-1"}
    assert _call(client, "/v1/track", call, key).status_code == 200
    assert Signal.objects.get(external_id="e-1").account == acme


def test_a_batch_whose_calls_name_e_mails_looks_its_people_up_together(client, website, django_assert_num_queries):
    """Calls with an e-mail are resolved before the insert; the batch's people are read in one query
    per kind of id, not one per person."""
    source, key = website
    people = [ContactFactory(user_id=f"user-{n}") for n in range(5)]
    batch = [
        {
            "type": "track",
            "userId": f"user-{n % 5}",
            "event": "X",
            "messageId": f"b-{n}",
            "context": {"traits": {"email": people[n % 5].email}},
        }
        for n in range(10)
    ]
    _call(client, "/v1/track", {"userId": "user-0", "event": "warm-up", "messageId": "w"}, key)
    with django_assert_num_queries(2):  # the userIds, then the insert
        response = _call(client, "/v1/batch", {"batch": batch}, key)
    assert response.json()["stored"] == 10
    stored = dict(Signal.objects.filter(source=source).exclude(external_id="w").values_list("external_id", "contact"))
    assert stored == {f"b-{n}": people[n % 5].pk for n in range(10)}
