"""decide(), the track record, outcomes, demotion and its end, audited policy changes."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
import time_machine
from django.test import override_settings

from audit.models import AuditEvent
from salesai import clock
from trust import selectors, services
from trust.models import Outcome, TrustDecision, TrustPolicy
from trust.tests.factories import OutcomeFactory, TrustPolicyFactory, give_record

pytestmark = pytest.mark.django_db
NEVER = random.Random(0)
NEVER.random = lambda: 0.99  # type: ignore[method-assign]  # never drawn for the review sample


def test_policy_for_creates_defaults_per_domain():
    assert services.policy_for("churn_escalation").mode == TrustPolicy.Mode.REVIEW
    assert services.policy_for("change_contact").mode == TrustPolicy.Mode.REVIEW
    renewal = services.policy_for("renewal_outreach")
    follow_up = services.policy_for("follow_up")
    assert renewal.stakes_cap < follow_up.stakes_cap
    assert follow_up.mode == TrustPolicy.Mode.AUTONOMOUS
    assert follow_up.required_reliability == 0.90 and follow_up.min_reviews == 20
    assert services.policy_for("follow_up").pk == follow_up.pk


def test_no_track_record_needs_review_with_the_count():
    decision = services.decide(domain="follow_up", stakes=Decimal("8000"), rng=NEVER)
    assert decision.verdict == TrustDecision.Verdict.REVIEW
    assert "Needs review: no track record yet — 20 reviews needed, 0 so far" in decision.reasons
    assert decision.would_be_autonomous is False


def test_few_reviews_says_how_many_so_far():
    give_record("follow_up", approved=3)
    decision = services.decide(domain="follow_up", stakes=Decimal("8000"), rng=NEVER)
    assert decision.reasons[0] == "Needs review: not enough track record yet — 20 reviews needed, 3 so far"


def test_strong_record_acts_alone_and_says_why_with_numbers():
    give_record("follow_up", approved=80, rejected=1)
    decision = services.decide(domain="follow_up", stakes=Decimal("8000"), reference="recommendation:7", rng=NEVER)
    assert decision.verdict == TrustDecision.Verdict.AUTONOMOUS
    sentence = decision.reasons[0]
    assert sentence.startswith(
        "Auto-send: “follow up on unanswered outreach” succeeded 80 of 81 times (lower bound 0.9"
    )
    assert "≥ 0.90 required) and $8,000 at stake is under the $25,000 cap" in sentence
    assert decision.numbers["successes"] == 80 and decision.numbers["failures"] == 1
    assert decision.numbers["lower_bound"] >= 0.90
    assert Decimal(decision.numbers["stakes_cap"]) == 25000
    assert decision.reference == "recommendation:7"


def test_stakes_over_the_cap_need_review_whatever_the_record():
    give_record("renewal_outreach", approved=300)
    decision = services.decide(domain="renewal_outreach", stakes=Decimal("120000"), rng=NEVER)
    assert decision.verdict == TrustDecision.Verdict.REVIEW
    assert decision.reasons[0] == (
        "Needs review: $120,000 at stake is over the $10,000 cap for “start the renewal conversation”, whatever the track record"
    )
    assert decision.would_be_autonomous is True
    assert decision.reasons[-1].startswith("Shadow mode: the record alone would allow acting alone")


def test_strategic_and_c_level_rules():
    give_record("follow_up", approved=80)
    assert services.decide(domain="follow_up", stakes=1, strategic=True, rng=NEVER).verdict == "review"
    assert services.decide(domain="follow_up", stakes=1, c_level=True, rng=NEVER).verdict == "review"
    services.update_policy(
        policy=services.policy_for("follow_up"),
        user=None,
        changes={"review_strategic_accounts": False, "review_c_level_contacts": False},
    )
    assert (
        services.decide(domain="follow_up", stakes=1, strategic=True, c_level=True, rng=NEVER).verdict == "autonomous"
    )


def test_review_sample_sends_a_share_back_to_people():
    give_record("follow_up", approved=80)
    rng = random.Random(42)
    verdicts = [services.decide(domain="follow_up", stakes=1, rng=rng) for _ in range(200)]
    sampled = [d for d in verdicts if d.sampled_for_review]
    assert 8 <= len(sampled) <= 35  # 10% of 200 = 20, loosely
    assert all(d.verdict == "review" and d.would_be_autonomous for d in sampled)
    assert "picked at random for a check" in sampled[0].reasons[0]


def test_daily_cap_stops_autonomy_for_the_day():
    TrustPolicyFactory(domain="follow_up", daily_cap=2)
    give_record("follow_up", approved=80)
    verdicts = [services.decide(domain="follow_up", stakes=1, rng=NEVER).verdict for _ in range(3)]
    assert verdicts == ["autonomous", "autonomous", "review"]


def test_kill_switch_and_pause_force_review_but_keep_shadow():
    give_record("follow_up", approved=80)
    services.set_kill_switch(on=True, user=None, reason="incident")
    decision = services.decide(domain="follow_up", stakes=1, rng=NEVER)
    assert decision.verdict == "review" and decision.would_be_autonomous
    assert "kill switch" in decision.reasons[0]
    assert not services.autonomy_allowed("follow_up").allowed
    services.set_kill_switch(on=False, user=None)
    services.update_policy(policy=services.policy_for("follow_up"), user=None, changes={"mode": "paused"})
    assert services.decide(domain="follow_up", stakes=1, rng=NEVER).verdict == "review"
    assert "paused" in services.autonomy_allowed("follow_up").reason
    assert AuditEvent.objects.filter(action="trust.kill_switch.on").exists()


def test_old_evidence_weighs_less():
    give_record("follow_up", approved=60, age=dt.timedelta(days=180))
    policy = services.policy_for("follow_up")
    record = selectors.track_record(policy)
    assert record.effective_successes == pytest.approx(60 * 0.25, rel=1e-3)
    assert record.successes == 60
    assert not record.bound_met  # 15 effective successes cannot certify 0.90
    decision = services.decide(domain="follow_up", stakes=1, rng=NEVER)
    assert decision.verdict == "review"
    assert "more clean approvals" in decision.reasons[0]


def test_progress_toward_promotion_counts_clean_approvals():
    give_record("follow_up", approved=20)
    record = selectors.track_record(services.policy_for("follow_up"))
    assert record.clean_needed == 26  # 46 in all from nothing, at 0.90 / 95%
    assert record.progress_sentence() == "26 more clean approvals, or equivalent"


def test_review_outcome_kind_uses_the_policys_minor_edit_ratio():
    assert services.review_outcome_kind(domain="follow_up", decision="approved", edit_ratio=0) == "approved"
    assert services.review_outcome_kind(domain="follow_up", decision="approved", edit_ratio=0.1) == "edited_minor"
    assert services.review_outcome_kind(domain="follow_up", decision="approved", edit_ratio=0.4) == "edited_major"
    assert services.review_outcome_kind(domain="follow_up", decision="rejected") == "rejected"


def test_record_outcome_is_idempotent_per_reference_and_kind():
    first = services.record_outcome(domain="follow_up", kind="approved", reference="recommendation:1", autonomous=False)
    again = services.record_outcome(domain="follow_up", kind="approved", reference="recommendation:1", autonomous=False)
    assert first.pk == again.pk
    assert Outcome.objects.count() == 1
    assert first.success is True


def test_severe_failure_of_an_autonomous_action_demotes_at_once_and_says_why():
    give_record("follow_up", approved=100)
    services.record_outcome(domain="follow_up", kind="unsubscribe", reference="recommendation:9", autonomous=True)
    policy = services.policy_for("follow_up")
    assert policy.demoted_at is not None
    assert "Unsubscribe after an autonomous action" in policy.demoted_reason
    assert AuditEvent.objects.filter(action="trust.policy.demoted", reference="trust_policy:follow_up").exists()
    decision = services.decide(domain="follow_up", stakes=1, rng=NEVER)
    assert decision.verdict == "review" and decision.would_be_autonomous  # shadow mode again
    assert "was demoted" in decision.reasons[0]


def test_consecutive_failures_demote_by_the_rule():
    give_record("follow_up", approved=100)
    services.record_outcome(domain="follow_up", kind="undone", reference="recommendation:1", autonomous=True)
    assert services.policy_for("follow_up").demoted_at is None
    services.record_outcome(domain="follow_up", kind="negative_reply", reference="recommendation:2", autonomous=True)
    policy = services.policy_for("follow_up")
    assert policy.demoted_at is not None
    assert policy.demoted_reason.startswith("2 failures in a row")


def test_demotion_clears_after_fresh_reviews_requalify_the_domain():
    give_record("follow_up", approved=100)
    services.record_outcome(domain="follow_up", kind="bounce", reference="recommendation:1", autonomous=True)
    assert services.policy_for("follow_up").demoted_at is not None
    with time_machine.travel(clock.now() + dt.timedelta(minutes=1), tick=False):
        for i in range(9):
            services.record_outcome(
                domain="follow_up", kind="approved", reference=f"recommendation:{100 + i}", autonomous=False
            )
        assert services.policy_for("follow_up").demoted_at is not None  # 9 < max(5, 20/2)
        services.record_outcome(domain="follow_up", kind="approved", reference="recommendation:200", autonomous=False)
    policy = services.policy_for("follow_up")
    assert policy.demoted_at is None and policy.demoted_reason == ""
    assert AuditEvent.objects.filter(action="trust.policy.requalified").exists()


def test_demotion_tells_the_managers(mailoutbox, django_capture_on_commit_callbacks):
    from accounts.tests.factories import ManagerFactory

    ManagerFactory(email="boss@salesai.test")
    give_record("follow_up", approved=100)
    with django_capture_on_commit_callbacks(execute=True):
        services.record_outcome(domain="follow_up", kind="complaint", reference="recommendation:3", autonomous=True)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["boss@salesai.test"]
    assert "Complaint" in mailoutbox[0].body


def test_update_policy_audits_old_and_new_values():
    from accounts.tests.factories import ManagerFactory

    manager = ManagerFactory()
    policy = services.policy_for("follow_up")
    services.update_policy(policy=policy, user=manager, changes={"stakes_cap": Decimal("5000"), "min_reviews": 20})
    event = AuditEvent.objects.get(action="trust.policy.changed")
    assert event.actor == manager
    assert event.data["changes"] == {"stakes_cap": {"old": "25000.00", "new": "5000"}}
    assert policy.stakes_cap == Decimal("5000")
    assert policy.updated_by == manager


def test_reliability_series_tracks_the_bound_over_time():
    give_record("follow_up", approved=60, age=dt.timedelta(days=10))
    OutcomeFactory(domain="follow_up", kind="rejected", success=False, occurred_at=clock.now() - dt.timedelta(days=30))
    points = selectors.reliability_series(services.policy_for("follow_up"), days=40)
    assert len(points) == 40
    assert points[0]["n"] == 0 and points[0]["lower_bound"] == 0
    assert points[15]["n"] == 1 and points[15]["rate"] == 0
    assert points[-1]["n"] == 61
    record = selectors.track_record(services.policy_for("follow_up"))
    assert points[-1]["lower_bound"] == pytest.approx(record.lower_bound, abs=1e-6)


def test_decisions_are_dated_by_the_one_clock():
    """A simulated day (clock.as_of) has its own daily cap."""
    TrustPolicyFactory(domain="follow_up", daily_cap=1)
    give_record("follow_up", approved=80, age=dt.timedelta(days=4))
    past = clock.now() - dt.timedelta(days=3)
    with clock.as_of(past):
        first = services.decide(domain="follow_up", stakes=1, rng=NEVER)
    assert first.created_at == past
    assert services.decide(domain="follow_up", stakes=1, rng=NEVER).verdict == "autonomous"


def test_the_track_record_is_two_statements_and_agrees_with_its_outcomes_one_by_one(django_assert_num_queries):
    """Counts, decayed weights, the streak and the last ten, however long the history."""
    now = clock.now()
    rng = random.Random(7)
    kinds = ["approved", "edited_minor", "edited_major", "rejected", "positive_reply", "negative_reply", "bounce"]
    rows = [
        OutcomeFactory(domain="follow_up", kind=rng.choice(kinds), occurred_at=now - dt.timedelta(hours=rng.uniform(1, 9000)))
        for _ in range(150)
    ]  # fmt: skip
    rows.append(OutcomeFactory(domain="follow_up", kind="approved", occurred_at=now - dt.timedelta(minutes=30)))
    for kind in ("rejected", "bounce", "negative_reply"):  # then the newest three fail in a row
        rows.append(OutcomeFactory(domain="follow_up", kind=kind, occurred_at=now - dt.timedelta(seconds=len(rows))))
    OutcomeFactory(domain="follow_up", kind="approved", occurred_at=now + dt.timedelta(days=1))  # after now
    OutcomeFactory(domain="renewal_outreach", kind="rejected")  # another domain
    policy = services.policy_for("follow_up")
    policy.demoted_at = now - dt.timedelta(days=100)

    with django_assert_num_queries(2):
        record = selectors.track_record(policy, now=now)

    newest = sorted(rows, key=lambda o: (o.occurred_at, o.pk), reverse=True)
    weight = {o.pk: 0.5 ** ((now - o.occurred_at).total_seconds() / 86400 / policy.half_life_days) for o in rows}
    assert record.successes == sum(o.success for o in rows)
    assert record.failures == sum(not o.success for o in rows)
    assert record.reviews == sum(o.kind in selectors.REVIEW_KINDS for o in rows)
    assert record.reviews_since_demotion == sum(
        o.kind in selectors.REVIEW_KINDS and o.occurred_at > policy.demoted_at for o in rows
    )
    assert record.effective_successes == pytest.approx(sum(weight[o.pk] for o in rows if o.success), rel=1e-6)
    assert record.effective_failures == pytest.approx(sum(weight[o.pk] for o in rows if not o.success), rel=1e-6)
    assert record.consecutive_failures == 3
    assert record.last_outcomes == [o.kind for o in newest[:10]]


def test_the_review_sample_is_drawn_per_action_and_repeats():
    """The same action gets the same draw (a replay or an audit repeats the verdict); across actions
    the share picked is the rate; the key keeps outsiders from knowing which ones will be picked."""
    give_record("follow_up", approved=80, rejected=1)
    TrustPolicy.objects.filter(domain="follow_up").update(review_sample_rate=0.25, daily_cap=None)
    verdicts = {
        ref: services.decide(domain="follow_up", stakes=Decimal("1"), reference=ref).verdict
        for ref in ("recommendation:1", "recommendation:2", "recommendation:3", "recommendation:4")
    }
    again = {ref: services.decide(domain="follow_up", stakes=Decimal("1"), reference=ref).verdict for ref in verdicts}
    assert again == verdicts

    draws = [services.review_sample_draw("follow_up", f"recommendation:{i}") for i in range(4000)]
    assert all(0 <= d < 1 for d in draws)
    share = sum(d < 0.25 for d in draws) / len(draws)
    assert 0.22 < share < 0.28  # 1000 expected; ±3 percentage points is over 4 standard deviations
    assert services.review_sample_draw("pricing_outreach", "recommendation:1") != draws[1]
    with override_settings(SECRET_KEY="another-installation-" + "x" * 40):
        other = [services.review_sample_draw("follow_up", f"recommendation:{i}") for i in range(100)]
    assert sum(a < 0.25 for a in other) != 0 and other != draws[:100]
