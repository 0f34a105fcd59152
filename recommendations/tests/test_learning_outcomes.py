"""The outcome record of each recommendation, from small hand-made histories."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import Opportunity
from accounts.tests.factories import UserFactory
from recommendations.learning import outcomes
from recommendations.learning.models import RecommendationOutcome
from recommendations.models import Execution
from recommendations.services.review import approve_recommendation, cancel_scheduled, reject_recommendation
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from signals.sources import internal_source
from signals.storing import record_signal

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
Result = RecommendationOutcome.Result


def _send(rec, *, autonomous=False, at=T0):
    message_id = f"<rec.{rec.pk}.v1@vendor.example>"
    Execution.objects.create(recommendation=rec, idempotency_key=f"rec:{rec.pk}:v1", status=Execution.Status.SUCCEEDED,
                             autonomous=autonomous, message_id=message_id, claimed_at=at, finished_at=at)  # fmt: skip
    sent, _ = record_signal(source=internal_source(), kind="email_sent", external_id=message_id, message_id=message_id,
                            occurred_at=at, account=rec.account, contact=rec.contact)  # fmt: skip
    return sent


def _answer(sent, *, kind="email_reply", at, capture, **fields):
    with capture(execute=True):
        signal, _ = record_signal(source=internal_source(), kind=kind, external_id=f"x-{sent.pk}-{kind}-{at:%s}",
                                  occurred_at=at, account=sent.account, contact=sent.contact,
                                  in_reply_to=sent if kind != "meeting_booked" else None, **fields)  # fmt: skip
    return signal


def test_rejection_keeps_its_reason_and_is_not_sent():
    rec = RecommendationFactory(confidence=0.62)
    reject_recommendation(recommendation=rec, user=UserFactory(), reason="wrong_contact")
    outcome = RecommendationOutcome.objects.get(recommendation=rec)
    assert (outcome.review, outcome.reject_reason, outcome.result) == ("rejected", "wrong_contact", Result.NOT_SENT)
    assert outcome.confidence_shown == 0.62 and outcome.sent is False
    assert outcome.seniority == rec.contact.seniority and outcome.segment == rec.account.segment


def test_the_review_keeps_how_long_it_had_waited():
    rec = RecommendationFactory()
    type(rec).objects.filter(pk=rec.pk).update(created_at=T0 - dt.timedelta(days=2, hours=12))
    rec.refresh_from_db()
    with time_machine.travel(T0, tick=False):
        reject_recommendation(recommendation=rec, user=UserFactory(), reason="already_handled")
    assert RecommendationOutcome.objects.get(recommendation=rec).features["waited_days"] == 2.5


def test_cancel_inside_the_undo_window_marks_the_outcome_undone():
    rec = RecommendationFactory()
    user = UserFactory()
    approve_recommendation(recommendation=rec, user=user, version=rec.version)
    cancel_scheduled(recommendation=rec, user=user)
    outcome = RecommendationOutcome.objects.get(recommendation=rec)
    assert outcome.review == "approved" and outcome.undone is True


def test_positive_reply_to_a_person_approved_send_is_recorded(django_capture_on_commit_callbacks):
    rec = RecommendationFactory(status="executed")
    outcomes.record_review(review=rec.reviews.create(decision="approved", created_at=T0))
    sent = _send(rec, autonomous=False)
    _answer(sent, at=T0 + dt.timedelta(days=1), capture=django_capture_on_commit_callbacks, intent="interested")
    outcome = RecommendationOutcome.objects.get(recommendation=rec)
    assert outcome.sent and not outcome.autonomous
    assert outcome.result == Result.POSITIVE_REPLY
    assert [f["result"] for f in outcome.followed] == ["positive_reply"]


def test_meeting_beats_a_reply_and_unsubscribe_is_negative(django_capture_on_commit_callbacks):
    good, bad = RecommendationFactory(status="executed"), RecommendationFactory(status="executed")
    sent_good, sent_bad = _send(good, autonomous=True), _send(bad, autonomous=True)
    capture = django_capture_on_commit_callbacks
    _answer(sent_good, at=T0 + dt.timedelta(hours=3), capture=capture, intent="question")
    _answer(sent_good, kind="meeting_booked", at=T0 + dt.timedelta(days=2), capture=capture)
    _answer(sent_bad, at=T0 + dt.timedelta(hours=3), capture=capture, intent="unsubscribe")
    assert RecommendationOutcome.objects.get(recommendation=good).result == Result.MEETING
    assert RecommendationOutcome.objects.get(recommendation=bad).result == Result.UNSUBSCRIBE


def test_auto_reply_says_nothing_and_the_window_closes_in_silence(django_capture_on_commit_callbacks):
    rec = RecommendationFactory(status="executed")
    sent = _send(rec)
    _answer(sent, at=T0 + dt.timedelta(hours=1), capture=django_capture_on_commit_callbacks, is_auto_reply=True,
            intent="auto_reply")  # fmt: skip
    assert outcomes.close_windows(now=T0 + dt.timedelta(days=13)) == 0
    assert outcomes.close_windows(now=T0 + outcomes.WINDOW) == 1
    assert RecommendationOutcome.objects.get(recommendation=rec).result == Result.SILENCE


def test_a_deal_won_inside_the_window_is_the_outcome():
    rec = RecommendationFactory(status="executed")
    _send(rec)
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        Opportunity.objects.create(account=rec.account, name="Deal", status="won", stage="won",
                                   stage_changed_at=T0 + dt.timedelta(days=5))  # fmt: skip
    outcomes.close_windows(now=T0 + dt.timedelta(days=20))
    assert RecommendationOutcome.objects.get(recommendation=rec).result == Result.WON


def test_a_reply_outside_any_send_changes_no_outcome(django_capture_on_commit_callbacks):
    rec = RecommendationFactory()
    stranger, _ = record_signal(source=internal_source(), kind="email_sent", external_id="<other@x>",
                                message_id="<other@x>", occurred_at=T0, account=rec.account)  # fmt: skip
    _answer(stranger, at=T0 + dt.timedelta(hours=1), capture=django_capture_on_commit_callbacks, intent="interested")
    assert not RecommendationOutcome.objects.exists()
    assert clock.now()  # the clock is untouched by the receivers


@pytest.mark.django_db(transaction=True)
def test_a_reply_announced_after_commit_reaches_the_outcome_outside_any_transaction():
    """The announcement runs after the ingesting transaction commits (autocommit): locking the outcome
    there needs its own transaction (a test inside TestCase's wrapping one could not see this)."""
    rec = RecommendationFactory(status="executed")
    sent = _send(rec)
    record_signal(source=internal_source(), kind="email_reply", external_id="r-after-commit", occurred_at=T0,
                  account=sent.account, contact=sent.contact, in_reply_to=sent, intent="interested")  # fmt: skip
    assert RecommendationOutcome.objects.get(recommendation=rec).result == Result.POSITIVE_REPLY
