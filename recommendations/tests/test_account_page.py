"""The account page: the shared picture, the timeline with anchors, recommendations past and present."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AccountPicture
from accounts.tests.factories import AccountFactory, ContactFactory, ContractFactory, ManagerFactory, UserFactory
from recommendations.models import Recommendation
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from signals.tests.factories import SignalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return UserFactory(username="gina")


@pytest.fixture
def account(rep):
    account = AccountFactory(owner=rep, name="Hooli", domain="hooli.example")
    AccountPicture.objects.filter(account=account).update(
        engagement_score=0.62,
        intent_score=0.81,
        risk_score=0.12,
        features={
            "pricing_visits_7d": 4,
            "days_to_renewal": 25,
            "last_reply_sentiment": 0.4567,
            "last_activity_at": "2026-11-26T16:09:21.693771+00:00",
            "findings": [{"playbook": "pricing_interest", "criteria": [{"code": "pricing_visits"}]}],
        },
        analyzed_at=clock.now(),
    )
    return account


def test_account_page_shows_the_picture_timeline_and_recommendations(client, rep, account):
    ContractFactory(account=account, renewing_soon=True)
    ContactFactory(account=account, name="Gavin Belson", unreachable=True)
    signal = SignalFactory(account=account, pricing_view=True)
    scanner = SignalFactory(account=account, pricing_view=True, is_bot=True)
    reply = SignalFactory(account=account, positive_reply=True)
    current = RecommendationFactory(account=account, title="Talk pricing with Hooli")
    past = RecommendationFactory(
        account=account,
        title="Old follow-up",
        action_type="follow_up",
        status=Recommendation.Status.REJECTED,
        closed_reason="Wrong timing",
        created_at=clock.now() - dt.timedelta(days=20),
    )
    client.force_login(rep)

    html = client.get(reverse("recommendations:account", args=[account.pk])).content.decode()

    assert "<h1>Hooli</h1>" in html
    assert "0.81" in html and "0.62" in html and "0.12" in html
    assert "Pricing visits 7d" in html and "Days to renewal" in html and "0.46" in html
    assert "Last activity at" in html and "26 Nov 2026, 16:09" in html
    assert "pricing_interest" not in html.split('id="h-deals"')[0]  # the engine's bookkeeping stays out
    assert "in 25 days" in html
    assert "Gavin Belson" in html and "do not contact" in html and "Unsubscribed" in html
    assert f'id="signal-{signal.pk}"' in html and "/pricing" in html
    scanned = html.split(f'id="signal-{scanner.pk}"')[1].split("</li>")[0]
    assert "automated visit, not counted" in scanned
    assert "automated visit" not in html.split(f'id="signal-{signal.pk}"')[1].split("</li>")[0]
    assert f'id="signal-{reply.pk}"' in html and "Sounds great" in html
    assert "Talk pricing with Hooli" in html and f"/recommendations/{current.pk}/" in html
    assert "Old follow-up" in html and "Wrong timing" in html
    assert f"/recommendations/{past.pk}/" in html


def test_another_reps_account_is_404_and_a_manager_sees_it(client, account):
    client.force_login(UserFactory(username="hank"))
    url = reverse("recommendations:account", args=[account.pk])
    assert client.get(url).status_code == 404
    client.force_login(ManagerFactory())
    assert client.get(url).status_code == 200


def test_account_page_queries_do_not_grow_with_the_timeline(client, rep, account, django_assert_max_num_queries):
    for _ in range(40):
        SignalFactory(account=account, pricing_view=True)
    client.force_login(rep)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("recommendations:account", args=[account.pk]))
    assert response.content.decode().count('id="signal-') == 40


def test_an_account_without_a_picture_still_renders(client, rep):
    bare = AccountFactory(owner=rep, picture=None)
    AccountPicture.objects.filter(account=bare).delete()
    client.force_login(rep)
    response = client.get(reverse("recommendations:account", args=[bare.pk]))
    assert response.status_code == 200 and "No picture yet" in response.content.decode()


def test_account_page_shows_why_a_contact_is_suppressed_by_their_own_reply(client, rep, account):
    dana = ContactFactory(account=account, name="Dana Lee")
    picture = AccountPicture.objects.get(account=account)
    picture.features["suppressed"] = [
        {"contact_id": dana.pk, "contact_name": "Dana Lee", "reason": "said wrong person on 18 Nov 2026"}
    ]
    picture.save(update_fields=["features"])
    client.force_login(rep)

    html = client.get(reverse("recommendations:account", args=[account.pk])).content.decode()

    assert "said wrong person on 18 Nov 2026" in html
    assert "1 contact suppressed" in html


def test_account_page_shows_the_fit_and_its_factors(client, rep, account):
    account.fit_score, account.fit_summary = 0.83, "fits: mid-market, 40–200 seats; against: no product usage"
    account.save(update_fields=["fit_score", "fit_summary"])
    client.force_login(rep)
    html = client.get(reverse("recommendations:account", args=[account.pk])).content.decode()
    assert "Fit 0.83: fits: mid-market, 40–200 seats; against: no product usage" in html


def test_account_page_says_fit_is_neutral_when_too_few_deals(client, rep, account):
    account.fit_summary = "Fit is neutral: 3 won or lost deals so far, 20 needed (at least 5 of each) before …"
    account.save(update_fields=["fit_summary"])
    client.force_login(rep)
    html = client.get(reverse("recommendations:account", args=[account.pk])).content.decode()
    assert ">Fit is neutral: 3 won or lost deals" in html


def test_the_deal_section_says_how_long_in_stage_and_how_often_the_close_date_moved(client, rep, account):
    from accounts.services import opportunity_upsert

    entered = dt.datetime(2026, 3, 12, 10, tzinfo=dt.UTC)
    with time_machine.travel(entered, tick=False):
        opportunity_upsert(account=account, external_id="d-1", values={"name": "Hooli platform", "amount": 40000,
                                                                      "stage": "proposal", "close_date": "2026-03-31"})  # fmt: skip
    for day, close in ((20, "2026-04-15"), (30, "2026-04-30")):
        with time_machine.travel(entered + dt.timedelta(days=day), tick=False):
            opportunity_upsert(account=account, external_id="d-1", values={"close_date": close})
    with time_machine.travel(entered, tick=False):
        opportunity_upsert(account=account, external_id="d-0", values={"name": "Hooli pilot", "amount": 9000,
                                                                      "stage": "negotiation", "status": "won"})  # fmt: skip
    client.force_login(rep)
    with time_machine.travel(entered + dt.timedelta(days=34), tick=False):
        html = client.get(reverse("recommendations:account", args=[account.pk])).content.decode()
    deals = " ".join(html.split('id="h-deals"')[1].split("<h3>People")[0].split())
    assert "Hooli platform · $40,000 · in Proposal for 34 days (since" in deals
    assert ">12 Mar</time>)" in deals and "closes" in deals and "30 Apr 2026</time>; close date moved twice" in deals
    assert "Hooli pilot · $9,000 · won in Negotiation" in deals
    assert deals.index("Hooli platform") < deals.index("Hooli pilot")  # open deals first


def test_account_page_queries_do_not_grow_with_deals_and_their_history(
    client, rep, account, django_assert_max_num_queries
):
    from accounts.tests.factories import OpportunityChangeFactory, OpportunityFactory

    for n in range(6):
        deal = OpportunityFactory(account=account, name=f"Deal {n}", stage_changed_at=clock.now())
        for _ in range(4):
            OpportunityChangeFactory(
                opportunity=deal, field="close_date", old_value="2026-01-01", new_value="2026-02-01"
            )
    client.force_login(rep)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("recommendations:account", args=[account.pk])).content.decode()
    assert html.count("close date moved 4 times") == 6
