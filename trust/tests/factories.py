"""Factories for the trust model, and a helper to give a domain a track record."""

from __future__ import annotations

import datetime as dt

import factory

from salesai import clock
from trust.models import Outcome, TrustPolicy


class TrustPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrustPolicy
        django_get_or_create = ("domain",)

    domain = "follow_up"

    class Params:
        paused = factory.Trait(mode=TrustPolicy.Mode.PAUSED)
        review_only = factory.Trait(mode=TrustPolicy.Mode.REVIEW)
        instant = factory.Trait(undo_window_minutes=0, review_sample_rate=0.0)


class OutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Outcome

    domain = "follow_up"
    kind = Outcome.Kind.APPROVED
    success = factory.LazyAttribute(lambda o: o.kind in {"approved", "edited_minor", "positive_reply"})
    autonomous = False
    reference = factory.Sequence(lambda n: f"seed:{n}")
    occurred_at = factory.LazyFunction(lambda: clock.now() - dt.timedelta(hours=1))


def give_record(domain: str, *, approved: int, rejected: int = 0, age: dt.timedelta = dt.timedelta(hours=1)) -> None:
    """``approved`` approvals then ``rejected`` rejections, all reviews, ``age`` ago (rejections oldest)."""
    now = clock.now()
    Outcome.objects.bulk_create(
        [
            Outcome(
                domain=domain,
                kind=Outcome.Kind.REJECTED,
                success=False,
                reference=f"seed-r:{domain}:{i}",
                occurred_at=now - age - dt.timedelta(minutes=i + 1),
            )
            for i in range(rejected)
        ]
        + [
            Outcome(
                domain=domain,
                kind=Outcome.Kind.APPROVED,
                success=True,
                reference=f"seed-a:{domain}:{i}",
                occurred_at=now - age + dt.timedelta(seconds=i),
            )
            for i in range(approved)
        ]
    )
