"""Property: whatever the learning has learnt (any calibrated confidence, fit, contact choice), it
cannot make a recommendation autonomous that the trust bound would send to review. Trust decides on
its own record; confidence, priority and fit are not its inputs."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from recommendations.learning import store
from recommendations.learning.calibration import FEATURES
from recommendations.learning.models import LearnedModel
from recommendations.models import ActionType, Recommendation
from recommendations.tests.engine import T0
from recommendations.tests.test_learning_integration import _pricing_visits
from trust import services as trust
from trust.models import TrustDecision
from trust.tests.factories import give_record

learnt_state = st.fixed_dictionaries({
    "intercept": st.floats(-30, 30),
    "coef": st.lists(st.floats(-10, 10), min_size=len(FEATURES), max_size=len(FEATURES)),
    "n": st.integers(0, 100_000),
    "fit": st.one_of(st.none(), st.floats(0, 1)),
    "avoid_director": st.booleans(),
})  # fmt: skip


class LearningNeverWidensAutonomy(TestCase):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(state=learnt_state, approved=st.integers(0, 40), rejected=st.integers(0, 10))
    def test_learning_cannot_make_autonomous_what_the_bound_sends_to_review(self, state, approved, rejected):
        store.forget()
        give_record(ActionType.PRICING_OUTREACH, approved=approved, rejected=rejected)
        # the bound's verdict for this domain and these stakes, asked of trust directly
        bound = trust.decide(domain=ActionType.PRICING_OUTREACH, stakes=0, rng=random.Random(0))
        owner = UserFactory()
        n = len(FEATURES)
        LearnedModel.objects.create(
            kind="confidence", key="pricing_interest", version=1, n_samples=state["n"], trained_at=T0,
            params={"features": list(FEATURES), "n": state["n"], "pooled": [state["n"], state["n"]], "base_rate": 1.0, "rates": {},
                    "coef": state["coef"], "intercept": state["intercept"], "mean": [0.0] * n, "scale": [1.0] * n,
                    "sent": 100, "sent_positive": 100, "peers": {}},
        )  # fmt: skip
        if state["avoid_director"]:
            LearnedModel.objects.create(kind="contact", version=1, trained_at=T0,
                                        params={"roles": {f"{owner.pk}|pricing_interest|director": [4, 4]}, "people": {}})  # fmt: skip
        store.forget()
        account = AccountFactory(owner=owner, fit_score=state["fit"], arr=0)
        director = ContactFactory(account=account, seniority="director", email=f"d{account.pk}@{account.domain}")
        ContactFactory(account=account, seniority="c_level", email=f"c{account.pk}@{account.domain}")
        _pricing_visits(account, director.email, self.captureOnCommitCallbacks)
        rec = Recommendation.objects.get(account=account, action_type=ActionType.PRICING_OUTREACH)
        if bound.verdict == TrustDecision.Verdict.REVIEW:
            assert rec.status == Recommendation.Status.PENDING, (state, approved, rejected)
            assert rec.trust_decision.verdict == TrustDecision.Verdict.REVIEW
        store.forget()

    def test_the_property_is_not_vacuous(self):
        """Few reviews: the bound sends to review (the case the property is about)."""
        give_record(ActionType.PRICING_OUTREACH, approved=5)
        assert trust.decide(domain=ActionType.PRICING_OUTREACH, stakes=0).verdict == TrustDecision.Verdict.REVIEW
