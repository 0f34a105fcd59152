"""A playbook is one file: a toy one declared in this test module (its draft templates inline) is
analysed, composed, drafted and shown, with no other file edited and no migration; and the registry
keeps two playbooks from claiming one name or one action type."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from accounts.models import AccountPicture
from accounts.tests.factories import AccountFactory, ContactFactory, ContractFactory, UserFactory
from recommendations.admin import PlaybookConfigForm
from recommendations.models import ActionType, Recommendation
from recommendations.playbooks import (
    Action,
    Playbook,
    action_for,
    action_type_choices,
    all_playbooks,
    register,
    shipped_playbooks,
    unregister,
)
from recommendations.playbooks.base import MET, Criterion, EvidenceItem, Finding, PictureFacts, fmt_day
from recommendations.services import analysis
from recommendations.tests.engine import T0, Ingest
from recommendations.tests.factories import RecommendationFactory
from recommendations.tests.test_api import client_for

pytestmark = pytest.mark.django_db

TOY_OFFER = Action(
    code="toy_demo_offer",
    label="Offer a toy demo",
    subject="A demo for {{ account_name }}",
    body="Hi {{ first_name|default:'there' }},\n\nYou opened {{ page }}: shall I show you around?\n\n{{ sender_name }}",
)


def evaluate(facts: PictureFacts, now: dt.datetime, params=None) -> Finding | None:
    """A view of one of the toy pages in the window: offer a demo."""
    p = TOY.params(params)
    since = now - dt.timedelta(days=int(p["window_days"]))
    views = [v for v in facts.views_at(TOY.paths(params)) if since < v.occurred_at <= now]
    if not views:
        return None
    last = views[-1]
    contact_id = facts.best_contact(prefer=(last.contact_id,))
    return Finding(
        playbook=TOY.code,
        code="toy_page_seen",
        action_type=TOY_OFFER.code,
        title=f"Offer {facts.account_name} a demo",
        summary=f"{facts.account_name} opened the toy page {last.path} on {fmt_day(last.occurred_at)}",
        contact_id=contact_id,
        criteria=(Criterion("toy_view", "A view of a toy page", MET, (f"signal:{last.id}",)),),
        evidence=(
            EvidenceItem(
                statement=f"Opened {last.path}", kind=last.kind, occurred_at=last.occurred_at, signal_id=last.id
            ),
        ),
        urgency=0.3,
        confidence=0.6,
        why_now="They opened it this week.",
        counterfactual="If nobody had opened a toy page within the window.",
        expires_at=last.occurred_at + dt.timedelta(days=14),
        dedupe_key=f"{TOY.code}:{last.id}",
        stated_reason="A demo right after a look at the toy page is welcome.",
        draft_context={"page": last.path},
    )


TOY = Playbook(
    code="toy_demo",
    label="Toy demo interest",
    actions=(TOY_OFFER,),
    evaluate=evaluate,
    story_order=3,
    history_noun="toy demo offers",
    page_paths=lambda params: params["paths"],
    defaults={"paths": ["/toy-demo"], "window_days": 7},
    param_help={"paths": 'Pages that count. Example: ["/toy-demo"]', "window_days": "Example: 7"},
)


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister(TOY)


@pytest.fixture
def acme():
    rep = UserFactory(username="rita")
    account = AccountFactory(name="Acme", domain="acme.com", owner=rep, arr=Decimal("48000"))
    dana = ContactFactory(account=account, name="Dana Lee", email="dana@acme.com", seniority="director")
    ContractFactory(account=account, value=Decimal("48000"), renewal_date=(T0 + dt.timedelta(days=100)).date())
    return account, dana, rep


def at(days: float, hours: float = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours)


def send(django_capture_on_commit_callbacks, when: dt.datetime, **fields) -> None:
    """One page view through the public signed API, analysed on commit as the worker would."""
    with time_machine.travel(when, tick=False), django_capture_on_commit_callbacks(execute=True):
        Ingest().signal("page_view", when, **fields)


def test_a_toy_playbook_is_analysed_composed_drafted_and_shown(toy, acme, django_capture_on_commit_callbacks, client):
    account, dana, rep = acme
    for day in (0, 1, 2):  # pricing interest too: the toy finding takes its place in that story
        send(django_capture_on_commit_callbacks, at(day), email=dana.email, properties={"path": "/pricing"})
    send(django_capture_on_commit_callbacks, at(2, 1), email=dana.email, properties={"path": "/Toy-Demo/tour"})

    rec = Recommendation.objects.get(account=account, action_type=TOY_OFFER.code)
    assert (rec.playbook, rec.status, rec.contact_id) == ("toy_demo", Recommendation.Status.PENDING, dana.pk)
    assert rec.reasoning.startswith("Acme opened the toy page /Toy-Demo/tour on Wed 18 Nov")
    assert rec.draft_subject == "A demo for Acme"
    assert rec.draft_body.startswith("Hi Dana,\n\nYou opened /Toy-Demo/tour: shall I show you around?")
    assert rec.rationale == "A demo right after a look at the toy page is welcome."
    assert list(rec.evidence.values_list("statement", flat=True)) == ["Opened /Toy-Demo/tour"]

    # its declared story order (3) puts it before the contract's renewal (the renewal playbook's 4)
    pricing = Recommendation.objects.get(account=account, action_type=ActionType.PRICING_OUTREACH)
    toy_clause, contract_clause = "opened the toy page", "contract renews in"
    assert 0 < pricing.reasoning.index(toy_clause) < pricing.reasoning.index(contract_clause)

    later = dataclasses.replace(TOY, story_order=5)
    unregister(TOY)
    register(later)
    try:
        with time_machine.travel(at(2, 2), tick=False):
            analysis.analyze_account(account_id=account.pk, force=True)
    finally:
        unregister(later)
        register(TOY)
    pricing.refresh_from_db()
    assert 0 < pricing.reasoning.index(contract_clause) < pricing.reasoning.index(toy_clause)

    # shown: the inbox card with its action's name, and the API, whose filter knows the new action type
    client.force_login(rep)
    page = client.get(reverse("recommendations:home")).content.decode()
    assert f'data-rec="{rec.pk}"' in page and "Offer a toy demo" in page
    response = client_for(rep).get("/api/v1/recommendations", {"action_type": TOY_OFFER.code})
    assert response.status_code == 200, response.content
    assert [(item["id"], item["draft"]["subject"]) for item in response.json()["results"]] == [
        (rec.pk, "A demo for Acme")
    ]


def test_a_toy_playbooks_history_noun_names_its_track_record(toy, acme, django_capture_on_commit_callbacks):
    account, dana, _ = acme
    for i in range(10):
        RecommendationFactory(
            account=AccountFactory(domain=f"old{i}.example"),
            action_type=TOY_OFFER.code,
            playbook=TOY.code,
            status=Recommendation.Status.EXECUTED,
            updated_at=at(-30),
            created_at=at(-31),
        )
    send(django_capture_on_commit_callbacks, at(0), email=dana.email, properties={"path": "/toy-demo"})
    rec = Recommendation.objects.get(account=account, action_type=TOY_OFFER.code)
    assert rec.rationale == "0 of 10 toy demo offers sent from salesai in the last year got a reply within 5 days (0%)."


def test_a_toy_playbook_needs_no_migration_and_is_configurable(toy):
    assert (TOY_OFFER.code, "Offer a toy demo") in action_type_choices()
    assert action_for(TOY_OFFER.code) is TOY_OFFER
    call_command("makemigrations", "recommendations", "--check", "--dry-run", verbosity=0)  # exits 1 on a change
    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = schema["paths"]["/api/v1/recommendations"]["get"]["parameters"]
    enum = next(p["schema"]["enum"] for p in parameters if p["name"] == "action_type")
    assert {TOY_OFFER.code, ActionType.PRICING_OUTREACH} <= set(enum)  # the API documents the filter's values
    form = PlaybookConfigForm(data={"code": TOY.code, "enabled": "on", "params": '{"window_days": 3}'})
    assert form.is_valid(), form.errors
    assert TOY in all_playbooks() and TOY not in shipped_playbooks()


def test_its_views_are_read_only_for_its_paths(toy, acme, django_capture_on_commit_callbacks):
    account, dana, _ = acme
    send(django_capture_on_commit_callbacks, at(0), email=dana.email, properties={"path": "/toy-demo"})
    assert Recommendation.objects.filter(account=account, action_type=TOY_OFFER.code).exists()
    features = AccountPicture.objects.get(account=account).features
    assert features["pricing_visits_7d"] == 0  # a toy page is not a pricing page


def test_two_playbooks_cannot_claim_one_name_or_one_action_type(toy):
    with pytest.raises(ValueError, match="registered twice"):
        register(dataclasses.replace(TOY, actions=()))
    with pytest.raises(ValueError, match="proposed by playbook 'toy_demo' already"):
        register(dataclasses.replace(TOY, code="toy_copy"))
    with pytest.raises(ValueError, match="either a template file or an inline subject and body"):
        Action(code="nothing", label="Nothing")


def test_shipped_action_types_keep_their_names():
    assert ActionType.PRICING_OUTREACH == "pricing_outreach"
    assert ActionType.CHURN_ESCALATION.label == "Escalate churn risk"
    assert set(ActionType.values) == {a.code for p in shipped_playbooks() for a in p.actions}
    actions = [action_for(code) for code in ActionType.values]
    assert {a.code: a.escalate for a in actions if a.internal} == {"change_contact": False, "churn_escalation": True}
    assert [a.code for a in actions if a.urgent] == ["speed_to_lead"]
