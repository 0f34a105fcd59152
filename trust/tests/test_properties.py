"""Property-based: the guarantees that must hold whatever the record, the stakes or the draw."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.core import mail
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from recommendations.models import Execution, Recommendation
from recommendations.services import execution as executor
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from trust import services
from trust.models import Outcome, TrustPolicy
from trust.tests.factories import TrustPolicyFactory, give_record

records = st.tuples(st.integers(0, 400), st.integers(0, 30))  # (approved, rejected)
seeds = st.integers(0, 2**32 - 1)


class TrustProperties(TestCase):
    @settings(max_examples=40, deadline=None)
    @given(
        record=records,
        cap=st.decimals(min_value=0, max_value=10**6, places=2),
        over=st.decimals(min_value=Decimal("0.01"), max_value=10**7, places=2),
        strategic=st.booleans(),
        c_level=st.booleans(),
        seed=seeds,
    )
    def test_stakes_over_the_cap_are_never_autonomous(self, record, cap, over, strategic, c_level, seed):
        TrustPolicyFactory(domain="follow_up", stakes_cap=cap, review_sample_rate=0.0)
        give_record("follow_up", approved=record[0], rejected=record[1])
        decision = services.decide(
            domain="follow_up", stakes=cap + over, strategic=strategic, c_level=c_level, rng=random.Random(seed)
        )
        assert decision.verdict == "review"
        assert any("”, whatever the track record" in sentence for sentence in decision.reasons)

    @settings(max_examples=40, deadline=None)
    @given(
        min_reviews=st.integers(1, 60),
        short=st.integers(1, 60),
        autonomous_successes=st.integers(0, 300),
        seed=seeds,
    )
    def test_under_the_minimum_reviews_never_autonomous(self, min_reviews, short, autonomous_successes, seed):
        """Even with hundreds of good autonomous outcomes: reviews are what the minimum counts."""
        TrustPolicyFactory(domain="follow_up", min_reviews=min_reviews, review_sample_rate=0.0, stakes_cap=None)
        give_record("follow_up", approved=max(0, min_reviews - short))
        Outcome.objects.bulk_create(
            Outcome(
                domain="follow_up",
                kind=Outcome.Kind.POSITIVE_REPLY,
                success=True,
                autonomous=True,
                reference=f"auto:{i}",
                occurred_at=clock.now() - dt.timedelta(minutes=i + 1),
            )
            for i in range(autonomous_successes)
        )
        decision = services.decide(domain="follow_up", stakes=Decimal("1"), rng=random.Random(seed))
        assert decision.verdict == "review"
        assert decision.would_be_autonomous is False

    @settings(max_examples=25, deadline=None)
    @given(
        killed=st.booleans(),
        mode=st.sampled_from([TrustPolicy.Mode.PAUSED, TrustPolicy.Mode.REVIEW, TrustPolicy.Mode.AUTONOMOUS]),
        scheduled=st.integers(1, 4),
        record=records,
        seed=seeds,
    )
    def test_paused_or_killed_nothing_executes_scheduled_included(self, killed, mode, scheduled, record, seed):
        if not killed and mode == TrustPolicy.Mode.AUTONOMOUS:
            killed = True  # the property is about a stop being on; pick the kill switch
        TrustPolicyFactory(domain="pricing_outreach", mode=mode, review_sample_rate=0.0)
        give_record("pricing_outreach", approved=record[0], rejected=record[1])
        services.set_kill_switch(on=killed, user=None)
        mail.outbox = []
        recs = [
            RecommendationFactory(scheduled=True, scheduled_for=clock.now() - dt.timedelta(minutes=1))
            for _ in range(scheduled)
        ]
        decision = services.decide(domain="pricing_outreach", stakes=Decimal("1"), rng=random.Random(seed))
        executor.execute_due_actions()
        for rec in recs:
            executor.execute_recommendation(recommendation_id=rec.pk, autonomous=True)
        assert decision.verdict == "review"
        assert mail.outbox == []
        assert not Execution.objects.exists()
        assert not Recommendation.objects.filter(status=Recommendation.Status.EXECUTED).exists()

    @settings(max_examples=30, deadline=None)
    @given(
        severe=st.sampled_from(
            [Outcome.Kind.UNSUBSCRIBE, Outcome.Kind.COMPLAINT, Outcome.Kind.BOUNCE, Outcome.Kind.WRONG_PERSON]
        ),
        approved=st.integers(0, 400),
        fresh_reviews=st.integers(0, 9),
        seed=seeds,
    )
    def test_a_severe_failure_demotes_whatever_the_record(self, severe, approved, fresh_reviews, seed):
        """...and fewer fresh reviews than the requalification needs (10 at min_reviews 20) never restore it."""
        TrustPolicyFactory(domain="follow_up", review_sample_rate=0.0)
        give_record("follow_up", approved=approved)
        services.record_outcome(domain="follow_up", kind=severe, reference="recommendation:1", autonomous=True)
        later = clock.now() + dt.timedelta(minutes=1)
        for i in range(fresh_reviews):
            services.record_outcome(
                domain="follow_up", kind="approved", reference=f"fresh:{i}", autonomous=False, occurred_at=later
            )
        assert services.policy_for("follow_up").demoted_at is not None
        decision = services.decide(domain="follow_up", stakes=Decimal("1"), rng=random.Random(seed))
        assert decision.verdict == "review"
