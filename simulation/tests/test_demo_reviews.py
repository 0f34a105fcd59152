"""The demo's three weeks of reviews (issue 14): one action type earned autonomy, one is still
learning, one was demoted, each with its reason; demo reps have real names and signatures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Contact, RepProfile
from simulation.demo import build_demo_accounts, seed_review_history
from trust import services as trust
from trust.models import TrustDecision

pytestmark = pytest.mark.django_db


def test_three_weeks_of_reviews_earn_learn_and_lose_autonomy():
    states = seed_review_history(days=21)
    assert states["renewal_outreach"] == "reviewed" and states["pricing_outreach"] == "reviewed"
    assert states["follow_up"].startswith("demoted: 2 failures in a row")

    earned = trust.decide(domain="renewal_outreach", stakes=Decimal("9000"), reference="demo:1")
    learning = trust.decide(domain="pricing_outreach", stakes=Decimal("9000"), reference="demo:2")
    demoted = trust.decide(domain="follow_up", stakes=Decimal("9000"), reference="demo:3")
    assert earned.would_be_autonomous
    assert learning.verdict == TrustDecision.Verdict.REVIEW and not learning.would_be_autonomous
    assert demoted.verdict == TrustDecision.Verdict.REVIEW
    assert any("demoted" in reason.lower() for reason in demoted.reasons)
    assert seed_review_history(days=21) == states  # idempotent: no review counted twice


def test_demo_reps_have_real_names_and_signatures_and_the_readme_contact_exists():
    build_demo_accounts(count=3)
    names = sorted(RepProfile.objects.values_list("user__first_name", "signature"))
    assert [n for n, _ in names] == ["Maya", "Sara", "Tom"]
    assert all(signature.count("\n") == 1 for _, signature in names)
    assert Contact.objects.filter(email="ines.moreau@acme.example", account__name="Acme").exists()
