"""Factories for recommendations and their evidence, reviews and executions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from accounts.tests.factories import AccountFactory, ContactFactory
from recommendations.models import ActionType, Evidence, Recommendation
from salesai import clock


class RecommendationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recommendation

    account = factory.SubFactory(AccountFactory)
    contact = factory.SubFactory(ContactFactory, account=factory.SelfAttribute("..account"))
    action_type = ActionType.PRICING_OUTREACH
    playbook = "pricing_interest"
    title = factory.LazyAttribute(lambda r: f"{r.account.name} is looking at pricing")
    status = Recommendation.Status.PENDING
    priority = 60
    confidence = 0.7
    reasoning = factory.LazyAttribute(lambda r: f"{r.account.name} visited your pricing page 3 times this week.")
    rationale = "Reaching out within a day of a pricing revisit usually gets a reply."
    draft_subject = "Anything I can help with?"
    draft_body = "Hi,\n\nHappy to walk you through plans and what fits your team.\n\nBest"
    stakes = Decimal("8000")
    created_at = factory.LazyFunction(clock.now)
    updated_at = factory.LazyFunction(clock.now)
    expires_at = factory.LazyFunction(lambda: clock.now() + dt.timedelta(days=7))

    class Params:
        scheduled = factory.Trait(
            status=Recommendation.Status.SCHEDULED,
            scheduled_for=factory.LazyFunction(lambda: clock.now() + dt.timedelta(minutes=10)),
        )
        #: it came to await its rep now (counts in the rep's daily budget)
        in_inbox = factory.Trait(entered_inbox_at=factory.LazyFunction(clock.now))


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evidence

    recommendation = factory.SubFactory(RecommendationFactory)
    kind = "page_view"
    statement = "Visited the pricing page on Thu 20 Nov 14:02"
    occurred_at = factory.LazyFunction(lambda: clock.now() - dt.timedelta(days=1))
