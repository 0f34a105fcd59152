"""The real Segment and RudderStack Python SDKs, pointed at a live test server, deliver page,
track, identify and group calls that become the right signals, contacts and accounts."""

from __future__ import annotations

import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient
from segment.analytics.request import APIError

from accounts.models import Account, Contact
from signals.models import Signal
from signals.tests.helpers import make_source

SDKS = {
    "segment": lambda key, host: SegmentClient(key, host=host, sync_mode=True, max_retries=0, gzip=False),
    "segment-gzip": lambda key, host: SegmentClient(key, host=host, sync_mode=True, max_retries=0, gzip=True),
    "rudderstack": lambda key, host: RudderClient(key, host=host, sync_mode=True, max_retries=0),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sdk", list(SDKS))
def test_sdk_calls_become_signals_contacts_and_accounts(live_server, sdk):
    source, write_key = make_source(f"sdk-{sdk}")
    errors: list = []
    client = SDKS[sdk](write_key, live_server.url)
    client.on_error = lambda error, batch: errors.append(error)

    client.page(
        anonymous_id="visitor-1",
        name="Pricing",
        properties={"url": "https://shop.example/pricing", "path": "/pricing", "title": "Pricing"},
    )
    client.identify(
        user_id="user-1",
        anonymous_id="visitor-1",
        traits={"email": "grace@hopper-labs.com", "name": "Grace Hopper", "title": "Chief Technology Officer"},
    )
    client.group(
        user_id="user-1",
        group_id="org-1",
        traits={"name": "Hopper Labs", "website": "hopper-labs.com", "plan": "Pro", "seats": 25},
    )
    client.track(user_id="user-1", event="Demo Requested", properties={"form": "demo"})
    client.track(user_id="user-1", event="Rocket Fueled")
    client.flush()

    assert errors == []
    contact = Contact.objects.get(email="grace@hopper-labs.com")
    account = Account.objects.get(domain="hopper-labs.com")
    assert (contact.name, contact.seniority, contact.user_id, contact.account) == (
        "Grace Hopper",
        "c_level",
        "user-1",
        account,
    )
    assert (account.name, account.plan, account.seats) == ("Hopper Labs", "Pro", 25)
    signals = {s.kind if s.kind != "custom" else s.name: s for s in Signal.objects.filter(source=source)}
    assert set(signals) == {"page_view", "identify", "group", "form_submitted", "Rocket Fueled"}
    assert signals["page_view"].properties["path"] == "/pricing"
    assert signals["page_view"].account == account  # the anonymous page view was back-filled
    assert signals["form_submitted"].name == "Demo Requested"
    assert all(s.account == account and s.contact == contact for s in signals.values())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sdk", ["segment", "rudderstack"])
def test_sdk_resend_with_same_message_id_creates_nothing_new(live_server, sdk):
    source, write_key = make_source(f"resend-{sdk}")
    client = SDKS[sdk](write_key, live_server.url)
    for _ in range(2):
        client.track(user_id="user-2", event="Feature Used", message_id="fixed-message-id")
        client.identify(user_id="user-2", traits={"email": "lin@resend.example.com"}, message_id="fixed-identify")
        client.flush()
    assert Signal.objects.filter(source=source).count() == 2
    assert Contact.objects.filter(email="lin@resend.example.com").count() == 1
    assert Account.objects.filter(domain="example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_sdk_with_wrong_write_key_is_refused(live_server):
    make_source("real")
    client = SegmentClient("sk_not_a_key", host=live_server.url, sync_mode=True, max_retries=0)
    with pytest.raises(APIError) as refused:
        client.track(user_id="u", event="Feature Used")
    assert refused.value.status == 401
    assert not Signal.objects.exists()
