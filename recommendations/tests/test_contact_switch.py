"""Finding 7 of issue 14: the contact choice is explained in one line and can be switched to another
contact of the account (a new version, the greeting follows, audited)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from audit.models import AuditEvent
from recommendations.models import Recommendation
from recommendations.tests.factories import EvidenceFactory, RecommendationFactory
from signals.tests.factories import SignalFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(client):
    rep = UserFactory(username="maya")
    acme = AccountFactory(name="Acme", domain="acme.example", owner=rep)
    ines = ContactFactory(account=acme, name="Ines Moreau", email="ines@acme.example", title="VP Operations")
    jordan = ContactFactory(account=acme, name="Jordan Lee", email="jordan@acme.example")
    blocked = ContactFactory(account=acme, name="Bo Block", email="bo@acme.example", do_not_contact=True)
    rec = RecommendationFactory(account=acme, contact=ines, draft_body="Hi Ines,\n\nShall we talk?\n\nMaya")
    for _ in range(2):
        signal = SignalFactory(account=acme, contact=jordan, pricing_view=True)
        EvidenceFactory(recommendation=rec, signal=signal, kind="page_view", occurred_at=signal.occurred_at)
    client.force_login(rep)
    return {"rec": rec, "ines": ines, "jordan": jordan, "blocked": blocked, "other": ContactFactory()}


def test_the_row_explains_the_choice_and_offers_the_switch(client, world):
    rec = world["rec"]
    page = client.get(
        f"/recommendations/{rec.pk}/row", HTTP_HX_CURRENT_URL="http://testserver/", **HTMX
    ).content.decode()
    assert (
        "Why Ines Moreau (VP Operations): the account&#x27;s main contact; the activity came from 1 other person."
        in page
    )
    assert f'href="/recommendations/{rec.pk}/?panel=contact"' in page
    panel = client.get(f"/recommendations/{rec.pk}/?panel=contact", **HTMX).content.decode()
    assert "Jordan Lee" in panel and "Bo Block" not in panel  # do-not-contact people are not offered


def test_switching_makes_a_new_version_with_the_greeting_and_an_audit_row(client, world):
    rec = world["rec"]
    response = client.post(
        f"/recommendations/{rec.pk}/act", {"action": "contact", "contact": world["jordan"].pk}, **HTMX
    )
    assert response.status_code == 200 and "Now to Jordan Lee" in response.content.decode()
    rec.refresh_from_db()
    assert rec.contact == world["jordan"] and rec.version == 2
    assert rec.draft_body.startswith("Hi Jordan,\n")
    assert AuditEvent.objects.get(action="recommendation.contact_changed").data["to"] == world["jordan"].pk
    # an approval of the version seen before the switch is refused (409 shape in the row)
    stale = client.post(f"/recommendations/{rec.pk}/act", {"action": "approve", "version": 1}, **HTMX)
    assert "changed since you saw it" in stale.content.decode()
    assert Recommendation.objects.get(pk=rec.pk).status == "pending"


@pytest.mark.parametrize("which", ["blocked", "other", "garbage"])
def test_switching_to_someone_not_allowed_is_refused_by_name(client, world, which):
    rec = world["rec"]
    contact = "x1" if which == "garbage" else world[which].pk
    response = client.post(f"/recommendations/{rec.pk}/act", {"action": "contact", "contact": contact}, **HTMX)
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    rec.refresh_from_db()
    assert rec.contact == world["ines"] and rec.version == 1
