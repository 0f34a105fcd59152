"""Unowned accounts (issue 14, finding 3): the Unassigned view, assigning an owner from the row or the
account page (managers only, audited), and assignment rules for accounts that arrive without one."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from accounts.models import Account, AssignmentRule
from accounts.services import account_get_or_create
from accounts.tests.factories import AccountFactory, ManagerFactory, UserFactory
from audit.models import AuditEvent
from recommendations.tests.factories import RecommendationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    manager = ManagerFactory(username="maria", first_name="Maria", last_name="Lopez")
    ines = UserFactory(username="ines", first_name="Ines", last_name="Moreau")
    tom = UserFactory(username="tom", first_name="Tom", last_name="Becker")
    newcorp = AccountFactory(name="Newcorp", domain="newcorp.example", owner=None)
    lead = RecommendationFactory(account=newcorp, contact=None, title="New lead at Newcorp: “Demo” — answer now")
    owned = RecommendationFactory(account__owner=ines, title="Owned one")
    return {"manager": manager, "ines": ines, "tom": tom, "newcorp": newcorp, "lead": lead, "owned": owned}


def test_managers_see_unassigned_accounts_in_their_own_view_and_assign_on_the_row(client, world):
    client.force_login(world["manager"])
    page = client.get("/", {"unassigned": "1"}).content.decode()
    assert "Unassigned accounts" in page
    assert f'id="rec-{world["lead"].pk}"' in page and f'id="rec-{world["owned"].pk}"' not in page
    page = client.get(f"/recommendations/{world['lead'].pk}/row", HTTP_HX_REQUEST="true").content.decode()
    assert f'action="/accounts/{world["newcorp"].pk}/owner"' in page and "No owner yet: give it to" in page
    assert "Cannot approve: No one to send it to" in page
    response = client.post(
        f"/accounts/{world['newcorp'].pk}/owner", {"owner": world["ines"].pk, "next": "/?unassigned=1"}
    )
    assert response.status_code == 302 and response["Location"] == "/?unassigned=1"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Newcorp now belongs to Ines Moreau."]
    assert Account.objects.get(pk=world["newcorp"].pk).owner == world["ines"]
    event = AuditEvent.objects.get(action="account.owner_assigned")
    assert event.actor == world["manager"] and event.data == {"from": None, "to": world["ines"].pk}
    # now Ines sees it in her inbox
    client.force_login(world["ines"])
    assert f'id="rec-{world["lead"].pk}"' in client.get("/").content.decode()


def test_the_account_page_of_an_unowned_account_opens_and_offers_the_assignment(client, world):
    client.force_login(world["manager"])
    response = client.get(f"/accounts/{world['newcorp'].pk}/")
    assert response.status_code == 200
    assert "nobody yet" in response.content.decode() and 'name="owner"' in response.content.decode()


def test_a_rep_cannot_assign_owners_nor_see_the_unassigned_view(client, world):
    client.force_login(world["ines"])
    page = client.get("/", {"unassigned": "1"}).content.decode()
    assert f'id="rec-{world["lead"].pk}"' not in page and "Unassigned accounts" not in page
    owned_account = world["owned"].account
    response = client.post(f"/accounts/{owned_account.pk}/owner", {"owner": world["tom"].pk})
    assert response.status_code == 302
    assert "Only a manager" in str(list(get_messages(response.wsgi_request))[0])
    assert Account.objects.get(pk=owned_account.pk).owner == world["ines"]
    # an account outside her scope is a 404, not a hint that it exists
    assert client.post(f"/accounts/{world['newcorp'].pk}/owner", {"owner": world["ines"].pk}).status_code == 404


@pytest.mark.parametrize("owner", ["", "abc", "999999"])
def test_assigning_to_no_one_or_a_stranger_is_refused_by_name(client, world, owner):
    client.force_login(world["manager"])
    response = client.post(f"/accounts/{world['newcorp'].pk}/owner", {"owner": owner})
    assert response.status_code == 302
    assert "Choose one of the reps." in str(list(get_messages(response.wsgi_request))[0])
    assert Account.objects.get(pk=world["newcorp"].pk).owner is None


def test_assignment_rules_give_new_accounts_a_rep_in_turn(world):
    de = AssignmentRule.objects.create(name="Germany", kind="domain", match=".de", position=1)
    de.reps.set([world["tom"]])
    everyone = AssignmentRule.objects.create(name="Everyone else", kind="round_robin", position=5)
    everyone.reps.set([world["ines"], world["tom"]])
    berlin, _ = account_get_or_create(domain="firma.de")
    first, _ = account_get_or_create(domain="one.example")
    second, _ = account_get_or_create(domain="two.example")
    third, _ = account_get_or_create(domain="three.example")
    assert berlin.owner == world["tom"]
    assert [first.owner, second.owner, third.owner] == [world["ines"], world["tom"], world["ines"]]


def test_a_segment_rule_and_no_matching_rule(world):
    big = AssignmentRule.objects.create(name="Enterprise", kind="segment", match="enterprise")
    big.reps.set([world["ines"]])
    account, _ = account_get_or_create(domain="small.example")  # new accounts start as smb
    assert account.owner is None
    assert big.matches(Account(domain="x.example", segment="enterprise"))
