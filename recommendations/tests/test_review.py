"""Routing through trust and the review actions: one transaction each, audited, clear refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.tests.factories import ContactFactory, UserFactory
from audit.models import AuditEvent
from recommendations.models import Execution, Recommendation, Review
from recommendations.services.review import (
    ReviewError,
    approve_recommendation,
    cancel_scheduled,
    edit_ratio,
    reject_recommendation,
    route_recommendation,
    snooze_recommendation,
)
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from signals.models import Signal
from trust.models import Outcome
from trust.tests.factories import TrustPolicyFactory, give_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def trusted_domain():
    """pricing_outreach with a strong record, no random review sample, a 10-minute undo window."""
    TrustPolicyFactory(domain="pricing_outreach", review_sample_rate=0.0)
    give_record("pricing_outreach", approved=80)


def test_route_without_record_waits_for_a_person():
    rec = RecommendationFactory()
    route_recommendation(recommendation=rec)
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING
    assert rec.trust_decision.verdict == "review"
    assert rec.trust_decision.reference == f"recommendation:{rec.pk}"
    assert "no track record yet" in rec.trust_decision.reasons[0]


def test_route_trusted_domain_schedules_after_the_undo_window(trusted_domain):
    rec = RecommendationFactory()
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.SCHEDULED
    assert rec.scheduled_for == pytest.approx(clock.now() + dt.timedelta(minutes=10), abs=dt.timedelta(seconds=5))
    assert rec.trust_decision.verdict == "autonomous"
    assert AuditEvent.objects.filter(action="recommendation.scheduled", reference=f"recommendation:{rec.pk}").exists()


def test_route_passes_strategic_and_c_level_to_trust(trusted_domain):
    rec = RecommendationFactory(contact=ContactFactory(c_level=True))
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.PENDING
    assert rec.trust_decision.numbers["c_level"] is True
    assert any("C-level" in s for s in rec.trust_decision.reasons)


def test_route_leaves_a_scheduled_one_alone(trusted_domain):
    rec = RecommendationFactory(scheduled=True)
    before = rec.scheduled_for
    route_recommendation(recommendation=rec)
    rec.refresh_from_db()
    assert rec.scheduled_for == before and rec.trust_decision is None


def test_approve_unchanged_sends_once_and_labels_success(mailoutbox, django_capture_on_commit_callbacks):
    rep = UserFactory(undo_seconds=0)  # no undo window (test_undo_send pins the window)
    rec = RecommendationFactory(account__owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        approve_recommendation(recommendation=rec, user=rep, version=rec.version)
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.EXECUTED
    assert len(mailoutbox) == 1
    review = rec.reviews.get()
    assert review.decision == Review.Decision.APPROVED and review.edit_ratio == 0
    outcome = Outcome.objects.get(reference=f"recommendation:{rec.pk}")
    assert (outcome.kind, outcome.success, outcome.autonomous) == ("approved", True, False)
    execution = Execution.objects.get(recommendation=rec)
    assert execution.performed_by == rep and not execution.autonomous
    assert Signal.objects.filter(kind="email_sent", message_id=execution.message_id).exists()
    assert AuditEvent.objects.filter(action="recommendation.approved", actor=rep).exists()


def test_minor_edit_is_a_success_major_edit_a_failure(django_capture_on_commit_callbacks):
    rep = UserFactory()
    minor = RecommendationFactory(account__owner=rep)
    major = RecommendationFactory(account__owner=rep, action_type="follow_up")
    with django_capture_on_commit_callbacks(execute=True):
        approve_recommendation(
            recommendation=minor, user=rep, version=minor.version, body=minor.draft_body.replace("Best", "Best regards")
        )
        approve_recommendation(
            recommendation=major,
            user=rep,
            version=major.version,
            subject="Totally new",
            body="A rewritten message entirely.",
        )
    assert Outcome.objects.get(reference=f"recommendation:{minor.pk}").kind == "edited_minor"
    assert Outcome.objects.get(reference=f"recommendation:{major.pk}").kind == "edited_major"
    minor.refresh_from_db()
    assert minor.draft_body.endswith("Best regards")
    assert minor.reviews.get().decision == Review.Decision.EDITED


def test_edit_ratio():
    assert edit_ratio("same", "same") == 0
    assert 0 < edit_ratio("Hello there, friend", "Hello there, friends") < 0.1
    assert edit_ratio("abc", "xyz") == 1.0


def test_approving_an_executed_one_is_refused(django_capture_on_commit_callbacks):
    rep = UserFactory()
    rec = RecommendationFactory(account__owner=rep, status=Recommendation.Status.EXECUTED)
    with pytest.raises(ReviewError) as excinfo:
        approve_recommendation(recommendation=rec, user=rep, version=rec.version)
    assert excinfo.value.status_code == 409 and excinfo.value.code == "invalid_transition"
    assert not Review.objects.exists()


def test_reject_labels_a_failure_and_keeps_the_reason():
    rep = UserFactory()
    rec = RecommendationFactory(account__owner=rep)
    reject_recommendation(recommendation=rec, user=rep, reason="wrong_timing", reason_text="They are in a freeze")
    assert rec.status == Recommendation.Status.REJECTED
    assert rec.closed_reason == "Wrong timing: They are in a freeze"
    assert Outcome.objects.get(reference=f"recommendation:{rec.pk}").kind == "rejected"
    with pytest.raises(ReviewError):
        reject_recommendation(recommendation=rec, user=rep, reason="other")


def test_reject_with_unknown_reason_names_the_field():
    rec = RecommendationFactory()
    with pytest.raises(ReviewError) as excinfo:
        reject_recommendation(recommendation=rec, user=rec.account.owner, reason="meh")
    assert excinfo.value.status_code == 400 and "reason" in excinfo.value.fields


def test_snooze_is_not_a_label():
    rec = RecommendationFactory()
    until = clock.now() + dt.timedelta(days=2)
    snooze_recommendation(recommendation=rec, user=rec.account.owner, until=until)
    assert rec.status == Recommendation.Status.SNOOZED and rec.snoozed_until == until
    assert not Outcome.objects.exists()
    with pytest.raises(ReviewError):
        snooze_recommendation(recommendation=rec, user=rec.account.owner, until=clock.now() - dt.timedelta(hours=1))


def test_cancel_inside_the_window_is_an_undone_outcome(trusted_domain, mailoutbox):
    rec = RecommendationFactory()
    route_recommendation(recommendation=rec)
    cancel_scheduled(recommendation=rec, user=rec.account.owner)
    assert rec.status == Recommendation.Status.PENDING and rec.scheduled_for is None
    outcome = Outcome.objects.get(reference=f"recommendation:{rec.pk}")
    assert (outcome.kind, outcome.success, outcome.autonomous) == ("undone", False, True)
    assert AuditEvent.objects.filter(action="recommendation.cancelled").exists()
    route_recommendation(recommendation=rec)  # the composer touching it again does not re-arm autopilot
    assert rec.status == Recommendation.Status.PENDING
    with pytest.raises(ReviewError):
        cancel_scheduled(recommendation=rec, user=rec.account.owner)
    assert mailoutbox == []
