"""Parity: each hand-written statement of ``trust.queries`` answers what the ORM answers (both passes of
CI run these, on SQLite and on PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count, Q
from django.forms.models import model_to_dict

from trust import queries
from trust.models import Outcome, TrustDecision, TrustPolicy, TrustSwitch
from trust.selectors import REVIEW_KINDS, SUCCESS_KINDS, decay_weight

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
DOMAIN = "follow_up"


def _outcomes(domain: str, *, demoted_at: dt.datetime) -> None:
    """Every kind, ages from a year ago to after NOW, ties on one instant, and the two boundaries
    (exactly NOW is in the record; exactly the demotion is not after it)."""
    kinds = list(Outcome.Kind)
    instants = [NOW - dt.timedelta(days=d, minutes=7 * d) for d in (400, 120, 90, 30, 7, 1)]
    instants += [NOW - dt.timedelta(hours=3)] * 3 + [NOW, demoted_at, NOW + dt.timedelta(seconds=1)]
    Outcome.objects.bulk_create(
        Outcome(
            domain=domain,
            kind=kinds[i % len(kinds)],
            success=kinds[i % len(kinds)] in SUCCESS_KINDS,
            reference=f"{domain}:{i}",
            occurred_at=instant,
        )
        for i, instant in enumerate(instants * 2)
    )


def test_policy_by_domain_is_the_orm_row_or_none():
    TrustPolicy.objects.create(domain="reply", stakes_cap=None, required_reliability=0.92)
    TrustPolicy.objects.create(domain="expansion")
    for domain in ("reply", "expansion"):
        raw, orm = queries.policy_by_domain(domain), TrustPolicy.objects.get(domain=domain)
        assert (raw.pk, model_to_dict(raw)) == (orm.pk, model_to_dict(orm))
        assert raw.updated_at == orm.updated_at
    assert queries.policy_by_domain("nobody") is None


@pytest.mark.parametrize("half_life_days", [90.0, 7.5])
def test_outcome_totals_match_the_orm_counts_and_python_weights(half_life_days):
    demoted_at = NOW - dt.timedelta(days=30, minutes=210)
    _outcomes(DOMAIN, demoted_at=demoted_at)
    _outcomes("reply", demoted_at=demoted_at)  # another domain's record is not this one's

    totals = queries.outcome_totals(
        domain=DOMAIN, now=NOW, demoted_at=demoted_at, half_life_days=half_life_days, review_kinds=REVIEW_KINDS
    )

    record = Outcome.objects.filter(domain=DOMAIN, occurred_at__lte=NOW)
    counts = record.aggregate(
        successes=Count("id", filter=Q(success=True)),
        failures=Count("id", filter=Q(success=False)),
        reviews=Count("id", filter=Q(kind__in=REVIEW_KINDS)),
        since=Count("id", filter=Q(kind__in=REVIEW_KINDS, occurred_at__gt=demoted_at)),
    )
    weights = {True: 0.0, False: 0.0}
    for success, occurred_at in record.values_list("success", "occurred_at"):
        weights[success] += decay_weight((NOW - occurred_at).total_seconds() / 86400, half_life_days)
    assert (totals.successes, totals.failures, totals.reviews, totals.reviews_since_demotion) == (
        counts["successes"],
        counts["failures"],
        counts["reviews"],
        counts["since"],
    )
    assert totals.effective_successes == pytest.approx(weights[True], rel=1e-6)
    assert totals.effective_failures == pytest.approx(weights[False], rel=1e-6)
    assert counts["successes"] and counts["failures"] and counts["since"] < counts["reviews"]


def test_outcome_totals_of_an_empty_record_are_zero():
    totals = queries.outcome_totals(
        domain=DOMAIN, now=NOW, demoted_at=NOW, half_life_days=90.0, review_kinds=REVIEW_KINDS
    )
    assert totals == queries.OutcomeTotals(0, 0, 0, 0, 0.0, 0.0)


@pytest.mark.parametrize("limit", [1, 4, 10, 50])
def test_newest_outcomes_match_the_orm_order(limit):
    _outcomes(DOMAIN, demoted_at=NOW - dt.timedelta(days=2))
    expected = list(
        Outcome.objects.filter(domain=DOMAIN, occurred_at__lte=NOW)
        .order_by("-occurred_at", "-id")
        .values_list("kind", "success")[:limit]
    )
    newest = queries.newest_outcomes(domain=DOMAIN, now=NOW, limit=limit)
    assert [(o.kind, o.success) for o in newest] == expected
    assert len(newest) == min(limit, len(expected))


def test_kill_switch_on_matches_the_orm():
    def orm() -> bool:
        return TrustSwitch.objects.filter(singleton=True, kill_switch=True).exists()

    assert queries.kill_switch_on() is orm() is False  # no row yet
    row = TrustSwitch.objects.create()
    assert queries.kill_switch_on() is orm() is False
    row.kill_switch = True
    row.save()
    assert queries.kill_switch_on() is orm() is True


def test_decision_gate_counts_what_the_orm_counts():
    since = NOW.replace(hour=0)
    for i, (domain, verdict, at) in enumerate(
        [
            (DOMAIN, TrustDecision.Verdict.AUTONOMOUS, since),  # the boundary counts
            (DOMAIN, TrustDecision.Verdict.AUTONOMOUS, NOW),
            (DOMAIN, TrustDecision.Verdict.AUTONOMOUS, since - dt.timedelta(microseconds=1)),
            (DOMAIN, TrustDecision.Verdict.REVIEW, NOW),
            ("reply", TrustDecision.Verdict.AUTONOMOUS, NOW),
        ]
    ):
        decision = TrustDecision.objects.create(domain=domain, verdict=verdict, reference=f"r:{i}")
        TrustDecision.objects.filter(pk=decision.pk).update(created_at=at)
    TrustSwitch.objects.create(kill_switch=True)

    gate = queries.decision_gate(domain=DOMAIN, since=since)

    orm_count = TrustDecision.objects.filter(
        domain=DOMAIN, verdict=TrustDecision.Verdict.AUTONOMOUS, created_at__gte=since
    ).count()
    assert gate == queries.DecisionGate(kill_switch=True, autonomous_since=orm_count)
    assert orm_count == 2
