"""The CRM contract for deals (DESIGN.md §4): status, close date, stage history, the deal's people, and a
won or lost deal as an outcome signal; the same through the API and ``import_crm``."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from accounts.models import Contact, Opportunity, OpportunityChange
from accounts.tests.factories import AccountFactory, ContactFactory, ManagerFactory
from signals.models import Signal

pytestmark = pytest.mark.django_db
URL = "/api/v1/crm/accounts"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def token():
    return Token.objects.create(user=ManagerFactory(username="mgr")).key


def sync(client, token, payload):
    return client.post(URL, json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")


def deal(**fields):
    return {"domain": "acme.com", "opportunities": [{"external_id": "opp-1", **fields}]}


def stage_history(opp: Opportunity) -> list[tuple[str, str, dt.datetime]]:
    return list(opp.changes.filter(field="stage").values_list("old_value", "new_value", "changed_at"))


def test_stage_history_is_observed_when_the_crm_sends_no_stage_changed_at(client, token):
    with time_machine.travel(T0, tick=False):
        assert sync(client, token, deal(stage="discovery", amount=40000, close_date="2026-12-20")).status_code == 200
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        sync(client, token, deal(stage="discovery", amount=40000, close_date="2026-12-20"))  # unchanged
    with time_machine.travel(T0 + dt.timedelta(days=9), tick=False):
        sync(client, token, deal(stage="proposal", amount=40000, close_date="2027-01-15"))
    opp = Opportunity.objects.get(external_id="opp-1")
    assert opp.stage_changed_at == T0 + dt.timedelta(days=9)
    assert stage_history(opp) == [
        ("", "discovery", T0),
        ("discovery", "proposal", T0 + dt.timedelta(days=9)),
    ]
    moved = opp.changes.get(field="close_date")
    assert (moved.old_value, moved.new_value) == ("2026-12-20", "2027-01-15")


def test_crm_stage_changed_at_wins_over_the_moment_salesai_saw_it(client, token):
    entered = "2026-10-01T08:00:00Z"
    with time_machine.travel(T0, tick=False):
        sync(client, token, deal(stage="evaluation", stage_changed_at=entered))
    opp = Opportunity.objects.get(external_id="opp-1")
    assert opp.stage_changed_at == dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)
    assert opp.changes.get().reported_by_crm is True


def test_won_deal_is_an_outcome_signal_stored_once(client, token):
    sync(client, token, deal(stage="negotiation", amount=30000))
    sync(client, token, deal(stage="negotiation", amount=30000, status="won"))
    sync(client, token, deal(stage="negotiation", amount=30000, status="won"))
    outcome = Signal.objects.get(kind="crm_updated", name="Deal won")
    assert outcome.properties["deal_outcome"] == "won"
    assert outcome.properties["external_id"] == "opp-1"
    assert outcome.properties["amount"] == "30000.00"
    assert Opportunity.objects.get().status == "won"
    assert OpportunityChange.objects.filter(field="status", new_value="won").count() == 1


def test_closed_stage_without_status_closes_the_deal(client, token):
    sync(client, token, deal(stage="lost"))
    assert Opportunity.objects.get().status == "lost"
    assert Signal.objects.filter(name="Deal lost").count() == 1


def linked_in_order(opp: Opportunity) -> list[str]:
    through = Opportunity.contacts.through.objects.filter(opportunity=opp).order_by("id")
    return list(through.values_list("contact__email", flat=True))


def test_deal_people_keep_the_crms_order_its_first_is_the_champion(client, token):
    acme = AccountFactory(domain="acme.com")
    ana = ContactFactory(account=acme, email="ana@acme.com")  # the older record (lower id) ...
    bo = ContactFactory(account=acme, email="bo@acme.com")
    assert ana.pk < bo.pk
    sync(client, token, deal(stage="proposal", contacts=["bo@acme.com", "ana@acme.com"]))  # ... not the primary
    opp = Opportunity.objects.get()
    assert linked_in_order(opp) == ["bo@acme.com", "ana@acme.com"]
    sync(client, token, deal(stage="proposal", contacts=["ana@acme.com", "bo@acme.com"]))  # the primary changed
    assert linked_in_order(opp) == ["ana@acme.com", "bo@acme.com"]
    changes = Signal.objects.filter(kind="crm_updated").order_by("id").values_list("properties", flat=True)
    assert [c["changes"].get("opportunities") for c in changes][-1] == ["opp-1"]


def test_the_same_deal_people_in_the_same_order_change_nothing(client, token):
    acme = AccountFactory(domain="acme.com")
    ContactFactory(account=acme, email="ana@acme.com")
    sync(client, token, deal(stage="proposal", contacts=["ana@acme.com"]))
    first = Opportunity.contacts.through.objects.get().pk
    sync(client, token, deal(stage="proposal", contacts=["ana@acme.com"]))
    assert Opportunity.contacts.through.objects.get().pk == first  # not rewritten


def test_deal_contacts_link_only_people_of_the_account(client, token):
    acme = AccountFactory(domain="acme.com")
    mine = ContactFactory(account=acme, email="ana@acme.com")
    other = ContactFactory(account=AccountFactory(domain="globex.com"), email="hank@globex.com")
    response = sync(
        client,
        token,
        deal(contacts=["ANA@acme.com", "new.person@acme.com", "hank@globex.com", "eve@evil.example"]),
    )
    assert response.status_code == 200, response.content
    opp = Opportunity.objects.get()
    assert set(opp.contacts.values_list("email", flat=True)) == {"ana@acme.com", "new.person@acme.com"}
    assert Contact.objects.get(email="new.person@acme.com").origin == "crm"
    assert not Contact.objects.filter(email="eve@evil.example").exists()
    other.refresh_from_db()
    assert other.account.domain == "globex.com" and mine.opportunities.get() == opp


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"status": "maybe"}, "0.opportunities.0.status"),
        ({"close_date": "next friday"}, "0.opportunities.0.close_date"),
        ({"stage_changed_at": "yesterday"}, "0.opportunities.0.stage_changed_at"),
        ({"contacts": ["not-an-email"]}, "0.opportunities.0.contacts.0"),
        ({"contacts": "ana@acme.com"}, "0.opportunities.0.contacts"),
        ({"amount": -5}, "0.opportunities.0.amount"),
    ],
)
def test_bad_deal_fields_are_named_and_store_nothing(client, token, fields, path):
    response = sync(client, token, [deal(**fields)])
    assert response.status_code == 400
    assert path in response.json()["error"]["fields"]
    assert not Opportunity.objects.exists()


def test_huge_contact_lists_are_refused(client, token):
    emails = [f"p{i}@acme.com" for i in range(101)]
    response = sync(client, token, [deal(contacts=emails)])
    assert response.status_code == 400
    assert "0.opportunities.0.contacts" in response.json()["error"]["fields"]
    assert not Contact.objects.exists()


def test_import_crm_csv_carries_the_deal_contract(tmp_path):
    AccountFactory(domain="globex.com")
    path = tmp_path / "crm.csv"
    path.write_text(
        "domain,opportunity_external_id,opportunity_stage,opportunity_status,opportunity_close_date,"
        "opportunity_stage_changed_at,opportunity_contacts\n"
        "globex.com,g-9,proposal,open,2027-01-31,2026-10-20T10:00:00+00:00,hank@globex.com;marge@globex.com\n"
    )
    call_command("import_crm", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    opp = Opportunity.objects.get(external_id="g-9")
    assert (opp.stage, opp.status, opp.close_date) == ("proposal", "open", dt.date(2027, 1, 31))
    assert opp.stage_changed_at == dt.datetime(2026, 10, 20, 10, tzinfo=dt.UTC)
    assert opp.contacts.count() == 2


def test_import_crm_names_a_bad_status(tmp_path):
    path = tmp_path / "crm.json"
    path.write_text(json.dumps([deal(status="pending")]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_crm", str(path), stdout=io.StringIO(), stderr=err)
    assert "opportunities.0.status" in err.getvalue()


def test_the_crm_can_say_a_person_left(client, token):
    sync(client, token, {"domain": "acme.com", "contacts": [{"email": "ana@acme.com", "name": "Ana"}]})
    left = {"email": "ana@acme.com", "do_not_contact": True, "do_not_contact_reason": "Left the company"}
    assert sync(client, token, {"domain": "acme.com", "contacts": [left]}).status_code == 200
    ana = Contact.objects.get(email="ana@acme.com")
    assert (ana.do_not_contact, ana.do_not_contact_reason) == (True, "Left the company")


def test_a_known_account_on_an_unlisted_domain_can_be_synced_but_not_created(client, token):
    AccountFactory(domain="acme-0001.example")
    assert sync(client, token, {"domain": "acme-0001.example", "arr": 10}).status_code == 200
    response = sync(client, token, {"domain": "other-0002.example"})
    assert response.status_code == 400 and "0.domain" in response.json()["error"]["fields"]
