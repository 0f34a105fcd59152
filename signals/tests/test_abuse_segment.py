"""The Segment HTTP Tracking API tried as an attacker would (issue 13). A browser's write key sits in
every page's snippet, so anyone has it: what can they make salesai believe, and what does it cost us?

Each test names the finding it covers; the happy path it must not break sits next to it.
"""

from __future__ import annotations

import itertools
import logging

import pytest
from django.test import Client
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Account, Contact
from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from salesai.text import has_line_break
from signals.models import GroupIdentity, QuarantinedPayload, Signal, Source
from signals.segment.dialect import MAX_BATCH_EVENTS, MAX_NESTING_DEPTH
from signals.tests.helpers import DEEP, TOO_DEEP, basic, dumps, make_source, nested

pytestmark = pytest.mark.django_db


@pytest.fixture
def website():
    """The browser snippet's source: its write key is public."""
    return make_source("website")


def post(client, path, payload, write_key, **extra):
    body = payload if isinstance(payload, bytes | str) else dumps(payload)
    return client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=basic(write_key), **extra)


# --- finding 2: the public key steers who is who --------------------------------------------------


def test_public_write_key_cannot_rename_account(client, website):
    _, key = website
    account = AccountFactory(domain="acme.com", name="Acme Corporation")
    response = post(
        client, "/v1/group", {"userId": "u1", "groupId": "g1", "traits": {"website": "acme.com", "name": "Evil"}}, key
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.name == "Acme Corporation"
    assert account.traits["name"] == "Evil"  # kept, as what the website said


def test_public_write_key_cannot_change_plan_or_seats(client, website):
    _, key = website
    account = AccountFactory(domain="acme.com", plan="Enterprise", seats=500)
    traits = {"website": "https://acme.com", "plan": "Free", "seats": 1}
    post(client, "/v1/group", {"userId": "u1", "groupId": "g1", "traits": traits}, key)
    account.refresh_from_db()
    assert (account.plan, account.seats) == ("Enterprise", 500)
    assert (account.traits["plan"], account.traits["seats"]) == ("Free", 1)


def test_public_write_key_cannot_group_a_free_mail_contact_into_an_account(client, website):
    _, key = website
    victim = AccountFactory(domain="victim.com")
    post(client, "/v1/identify", {"userId": "mallory", "traits": {"email": "mallory@gmail.com"}}, key)
    post(client, "/v1/group", {"userId": "mallory", "groupId": "g", "traits": {"website": "victim.com"}}, key)
    assert Contact.objects.get(email="mallory@gmail.com").account is None
    post(client, "/v1/track", {"userId": "mallory", "event": "Demo Requested", "messageId": "t"}, key)
    assert Signal.objects.get(external_id="t").account is None
    assert not victim.signals.filter(contact__email="mallory@gmail.com").exists()


def test_public_write_key_cannot_group_a_contact_into_another_domain_s_account(client, website):
    _, key = website
    AccountFactory(domain="victim.com")
    outsider = ContactFactory(email="eve@outsider.io", account=None, user_id="eve")
    post(client, "/v1/group", {"userId": "eve", "groupId": "g", "traits": {"domain": "victim.com"}}, key)
    outsider.refresh_from_db()
    assert outsider.account is None


def test_group_joins_a_contact_to_its_own_domain_s_account(client, website):
    _, key = website
    contact = ContactFactory(email="bo@initech.com", account=None, user_id="bo")
    post(client, "/v1/group", {"userId": "bo", "groupId": "g", "traits": {"website": "www.initech.com"}}, key)
    contact.refresh_from_db()
    assert contact.account.domain == "initech.com"


def test_public_write_key_cannot_take_over_a_known_group_id(client, website):
    source, key = website
    victim = AccountFactory(domain="victim.com")
    post(client, "/v1/group", {"userId": "u", "groupId": "org-1", "traits": {"website": "victim.com"}}, key)
    post(client, "/v1/group", {"userId": "u", "groupId": "org-1", "traits": {"website": "attacker.net"}}, key)
    assert GroupIdentity.objects.get(source=source, group_id="org-1").account == victim


def test_public_write_key_cannot_retitle_a_c_level_contact(client, website):
    _, key = website
    cfo = ContactFactory(email="cfo@acme.com", name="Carla Fin", title="CFO", seniority="c_level", origin="crm")
    traits = {"email": "cfo@acme.com", "name": "Nobody", "title": "Intern"}
    post(client, "/v1/identify", {"userId": "u-x", "traits": traits}, key)
    cfo.refresh_from_db()
    assert (cfo.name, cfo.title, cfo.seniority) == ("Carla Fin", "CFO", "c_level")
    assert (cfo.traits["name"], cfo.traits["title"]) == ("Nobody", "Intern")


def test_public_write_key_cannot_claim_an_existing_contact_s_user_id(client, website):
    _, key = website
    cfo = ContactFactory(email="cfo@acme.com", origin="crm")
    post(client, "/v1/identify", {"userId": "attacker-1", "traits": {"email": "cfo@acme.com"}}, key)
    cfo.refresh_from_db()
    assert cfo.user_id is None
    post(client, "/v1/track", {"userId": "attacker-1", "event": "Demo Requested", "messageId": "t"}, key)
    assert Signal.objects.get(external_id="t").contact is None
    batch = [
        {"type": "identify", "userId": "attacker-2", "traits": {"email": "cfo@acme.com"}, "messageId": "bi"},
        {"type": "track", "userId": "attacker-2", "event": "Demo Requested", "messageId": "bt"},
    ]
    post(client, "/v1/batch", {"batch": batch}, key)
    assert Signal.objects.get(external_id="bt").contact is None  # not even later in the same batch


def test_website_traits_fill_what_is_empty_and_create_contacts_of_signal_origin(client, website):
    _, key = website
    account = AccountFactory(domain="hopper.dev", plan="", seats=None)
    post(client, "/v1/group", {"userId": "g", "groupId": "g", "traits": {"website": "hopper.dev", "plan": "Pro"}}, key)
    traits = {"email": "grace@hopper.dev", "name": "Grace Hopper", "title": "CTO"}
    post(client, "/v1/identify", {"userId": "grace", "traits": traits}, key)
    account.refresh_from_db()
    assert account.plan == "Pro"
    grace = Contact.objects.get(email="grace@hopper.dev")
    assert (grace.name, grace.title, grace.seniority, grace.user_id, grace.origin) == (
        "Grace Hopper",
        "CTO",
        "c_level",
        "grace",
        Contact.Origin.SIGNAL,
    )
    assert grace.traits == {"name": "Grace Hopper", "title": "CTO"}  # the address is the key, not a trait


def test_trusted_server_side_source_may_update_names_titles_plan_and_user_ids(client):
    _, key = make_source("backend", trusted_traits=True)
    account = AccountFactory(domain="acme.com", name="Acme", plan="Team")
    contact = ContactFactory(email="ada@acme.com", account=account, name="Ada", title="Engineer")
    post(client, "/v1/group", {"userId": "u", "groupId": "g", "traits": {"website": "acme.com", "plan": "Pro"}}, key)
    traits = {"email": "ada@acme.com", "title": "VP Engineering"}
    post(
        client,
        "/v1/identify",
        {"userId": "ada-1", "traits": traits, "context": {"library": {"name": "analytics-python"}}},
        key,
    )
    account.refresh_from_db()
    contact.refresh_from_db()
    assert account.plan == "Pro"
    assert (contact.title, contact.seniority, contact.user_id) == ("VP Engineering", "vp", "ada-1")


def test_trusted_source_still_cannot_move_a_contact_into_another_domain(client):
    _, key = make_source("backend", trusted_traits=True)
    AccountFactory(domain="victim.com")
    post(client, "/v1/identify", {"userId": "m", "traits": {"email": "m@gmail.com"}}, key)
    post(client, "/v1/group", {"userId": "m", "groupId": "g", "traits": {"website": "victim.com"}}, key)
    assert Contact.objects.get(email="m@gmail.com").account is None


def test_browser_call_on_a_trusted_source_is_treated_as_untrusted(client, caplog):
    _, key = make_source("misconfigured", trusted_traits=True)
    cfo = ContactFactory(email="cfo@acme.com", title="CFO", seniority="c_level")
    call = {
        "userId": "u",
        "traits": {"email": "cfo@acme.com", "title": "Intern"},
        "context": {"library": {"name": "analytics.js", "version": "4.1.0"}},
    }
    with caplog.at_level(logging.WARNING):
        post(client, "/v1/identify", call, key)
    cfo.refresh_from_db()
    assert (cfo.title, cfo.user_id) == ("CFO", None)
    assert "trusted_source_called_from_browser" in caplog.text


def test_names_titles_and_plans_from_the_website_are_one_line(client, website):
    _, key = website
    group = {"website": "newco.com", "name": "New\nCo\r\nOur bank details changed", "plan": "Pro\t\u2028plan"}
    post(client, "/v1/group", {"userId": "ada", "groupId": "g", "traits": group}, key)
    traits = {"email": "ada@newco.com", "name": "Ada\r\nOur bank details changed", "title": "VP\u2028Sales"}
    post(client, "/v1/identify", {"userId": "ada", "traits": traits}, key)
    post(client, "/v1/track", {"userId": "ada", "event": "Demo\nRequested", "messageId": "t"}, key)
    ada = Contact.objects.get(email="ada@newco.com")
    assert (ada.name, ada.title) == ("Ada Our bank details changed", "VP Sales")
    account = Account.objects.get(domain="newco.com")
    assert (account.name, account.plan) == ("New Co Our bank details changed", "Pro plan")
    assert account.traits["name"] == "New Co Our bank details changed"
    assert Signal.objects.get(external_id="t").name == "Demo Requested"


_examples = itertools.count()
# any text JSON can carry to a database (NUL and lone surrogates are refused whole), heavy on breaks
_hostile_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    | st.sampled_from("\r\n\t\v\f\x85\u2028\u2029\u202e\x1b"),
    max_size=80,
)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking through HTTP is slow; the example is printed
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=_hostile_text, title=_hostile_text, company=_hostile_text, plan=_hostile_text, event=_hostile_text)
def test_no_text_from_the_website_is_stored_with_a_line_break(client, name, title, company, plan, event):
    """What a draft may put in its subject or first line (a person's or company's name, a title, a
    plan, an event name) is stored on one line, whatever the website sends."""
    n = next(_examples)
    _, key = make_source(f"prop-{n}")
    batch = [
        {
            "type": "group",
            "userId": f"p{n}",
            "groupId": "g",
            "traits": {"website": f"prop-{n}.com", "name": company, "plan": plan},
        },
        {"type": "identify", "userId": f"p{n}", "traits": {"email": f"p@prop-{n}.com", "name": name, "title": title}},
        {"type": "track", "userId": f"p{n}", "event": event or "x", "messageId": f"t{n}"},
    ]
    assert post(client, "/v1/batch", {"batch": batch}, key).status_code == 200
    contact = Contact.objects.get(email=f"p@prop-{n}.com")
    account = Account.objects.get(domain=f"prop-{n}.com")
    stored = [
        contact.name,
        contact.title,
        account.name,
        account.plan,
        *contact.traits.values(),
        *account.traits.values(),
    ]
    stored += list(Signal.objects.filter(external_id=f"t{n}").values_list("name", flat=True))
    assert not any(has_line_break(text) for text in stored if isinstance(text, str))


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
    emoji = "\U0001f600" * 3000  # 12 KB of UTF-8 (within Segment's 32 KB), 36 KB as JSON escapes
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


# --- finding 6: new accounts per source and hour --------------------------------------------------


def test_one_batch_cannot_create_thousands_of_accounts(client, website, settings):
    settings.SALESAI = {**settings.SALESAI, "ACCOUNTS_PER_SOURCE_PER_HOUR": 5}
    _, key = website
    batch = [
        {"type": "identify", "userId": f"u{n}", "traits": {"email": f"ceo@company-{n}.com"}, "messageId": f"i{n}"}
        for n in range(40)
    ]
    response = post(client, "/v1/batch", {"batch": batch}, key)
    assert response.json()["stored"] == 40  # every call is stored …
    assert Account.objects.count() == 5  # … but only the hour's budget of new companies is created
    assert Signal.objects.filter(account__isnull=True).count() == 35
    AccountFactory(domain="known.com")
    post(client, "/v1/identify", {"userId": "k", "traits": {"email": "k@known.com"}, "messageId": "k"}, key)
    assert Contact.objects.get(email="k@known.com").account.domain == "known.com"  # known ones still resolve


def test_person_left_unattached_by_the_account_budget_joins_when_it_allows(client, website, settings):
    settings.SALESAI = {**settings.SALESAI, "ACCOUNTS_PER_SOURCE_PER_HOUR": 0}
    _, key = website
    post(client, "/v1/identify", {"userId": "late", "traits": {"email": "late@later.com"}, "messageId": "i1"}, key)
    post(client, "/v1/track", {"userId": "late", "event": "Demo Requested", "messageId": "t1"}, key)
    assert Signal.objects.filter(account__isnull=True).count() == 2
    settings.SALESAI = {**settings.SALESAI, "ACCOUNTS_PER_SOURCE_PER_HOUR": 10}
    post(client, "/v1/identify", {"userId": "late", "traits": {"email": "late@later.com"}, "messageId": "i2"}, key)
    account = Account.objects.get(domain="later.com")
    assert Contact.objects.get(email="late@later.com").account == account
    assert set(Signal.objects.values_list("account", flat=True)) == {account.pk}


def test_account_budget_is_per_source(client, settings):
    settings.SALESAI = {**settings.SALESAI, "ACCOUNTS_PER_SOURCE_PER_HOUR": 1}
    _, first = make_source("first")
    _, second = make_source("second", accounts_per_hour=3)
    for n in range(3):
        post(client, "/v1/identify", {"userId": f"a{n}", "traits": {"email": f"x@first-{n}.com"}}, first)
        post(client, "/v1/identify", {"userId": f"b{n}", "traits": {"email": f"x@second-{n}.com"}}, second)
    assert Account.objects.filter(domain__startswith="first-").count() == 1
    assert Account.objects.filter(domain__startswith="second-").count() == 3


# --- finding 8: nesting depth ---------------------------------------------------------------------


@pytest.mark.parametrize("bag", ["properties", "traits", "context"])
def test_deeply_nested_call_is_refused(client, website, bag):
    _, key = website
    call = {"userId": "u", "event": "X", bag: nested(TOO_DEEP), "messageId": "deep"}
    response = post(client, "/v1/track", call, key)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "too_deep" and bag in error["fields"]
    assert not Signal.objects.exists()
    assert post(client, "/v1/track", {**call, bag: nested(MAX_NESTING_DEPTH)}, key).status_code == 200


def test_deeply_nested_batch_item_is_refused_alone(client, website):
    _, key = website
    batch = [
        {"type": "track", "userId": "u", "event": "X", "properties": nested(TOO_DEEP), "messageId": "deep"},
        {"type": "track", "userId": "u", "event": "X", "messageId": "flat"},
    ]
    response = post(client, "/v1/batch", {"batch": batch}, key)
    assert response.status_code == 200, response.content
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
