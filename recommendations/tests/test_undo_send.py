"""Undo send (issue 14, finding 1): a person's approval waits out their undo window, can be cancelled
inside it (back to pending, audited), and is sent exactly once after it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import RepProfile
from accounts.tests.factories import UserFactory
from audit.models import AuditEvent
from recommendations.models import Execution, Recommendation, Review
from recommendations.services import execution as executor
from recommendations.tests.factories import RecommendationFactory
from recommendations.tests.test_api import client_for
from trust.models import Outcome

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(WHEN, tick=False) as traveller:
        yield traveller


def approve(user, rec, run):
    with run(execute=True):  # the queued execution runs (eagerly) at once, before its window is over
        return client_for(user).post(
            f"/api/v1/recommendations/{rec.pk}/approve", {"version": rec.version}, format="json"
        )


def test_approval_waits_out_the_default_window_then_sends_once(frozen, mailoutbox, django_capture_on_commit_callbacks):
    rep = UserFactory()
    rec = RecommendationFactory(account__owner=rep, contact__name="Ines Moreau")
    response = approve(rep, rec, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["scheduled_for"].startswith("2026-11-16T09:00:30")
    assert mailoutbox == []  # the early task found it not yet due
    frozen.shift(dt.timedelta(seconds=29))
    assert executor.execute_due_actions() == 0 and mailoutbox == []
    frozen.shift(dt.timedelta(seconds=2))
    assert executor.execute_due_actions() == 1
    executor.execute_due_actions()
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False)  # a duplicated message
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [f"Ines Moreau <{rec.contact.email}>"]
    assert Recommendation.objects.get(pk=rec.pk).status == Recommendation.Status.EXECUTED
    assert Execution.objects.get(recommendation=rec).performed_by == rep
    assert AuditEvent.objects.get(action="recommendation.approved").data["undo_seconds"] == 30


@pytest.mark.parametrize("seconds", [0, 120])
def test_the_window_is_the_persons_preference(seconds, frozen, mailoutbox, django_capture_on_commit_callbacks):
    rep = UserFactory(undo_seconds=seconds)
    rec = RecommendationFactory(account__owner=rep)
    approve(rep, rec, django_capture_on_commit_callbacks)
    rec.refresh_from_db()
    if seconds:
        assert rec.status == "scheduled" and rec.scheduled_for == WHEN + dt.timedelta(seconds=seconds)
        assert mailoutbox == []
    else:  # no window: the queued execution sends it at once
        assert rec.status == "executed" and len(mailoutbox) == 1


def test_cancel_inside_the_window_returns_it_to_review_and_nothing_is_sent(
    frozen, mailoutbox, django_capture_on_commit_callbacks
):
    rep = UserFactory()
    rec = RecommendationFactory(account__owner=rep)
    approve(rep, rec, django_capture_on_commit_callbacks)
    frozen.shift(dt.timedelta(seconds=27))
    response = client_for(rep).post(f"/api/v1/recommendations/{rec.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "pending" and response.json()["scheduled_for"] is None
    event = AuditEvent.objects.get(action="recommendation.cancelled")
    assert event.actor == rep and event.data == {"autonomous": False}
    assert rec.reviews.filter(decision=Review.Decision.CANCELLED).count() == 1
    # undoing one's own approval is not a label against the playbook
    assert not Outcome.objects.filter(kind="undone").exists()
    frozen.shift(dt.timedelta(minutes=5))
    executor.execute_due_actions()
    assert mailoutbox == [] and not Execution.objects.exists()
    # and it can be approved again, which sends it after a fresh window
    rec.refresh_from_db()
    approve(rep, rec, django_capture_on_commit_callbacks)
    frozen.shift(dt.timedelta(seconds=31))
    executor.execute_due_actions()
    assert len(mailoutbox) == 1


def test_cancel_after_the_window_is_refused_with_409(frozen, mailoutbox, django_capture_on_commit_callbacks):
    rep = UserFactory()
    rec = RecommendationFactory(account__owner=rep)
    approve(rep, rec, django_capture_on_commit_callbacks)
    frozen.shift(dt.timedelta(seconds=30))
    response = client_for(rep).post(f"/api/v1/recommendations/{rec.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "undo_window_closed"
    executor.execute_due_actions()
    assert len(mailoutbox) == 1


def test_cancel_after_it_was_sent_is_refused_with_409(frozen, mailoutbox, django_capture_on_commit_callbacks):
    rep = UserFactory(undo_seconds=0)
    rec = RecommendationFactory(account__owner=rep)
    approve(rep, rec, django_capture_on_commit_callbacks)
    response = client_for(rep).post(f"/api/v1/recommendations/{rec.pk}/cancel")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"
    assert len(mailoutbox) == 1


def test_cancel_of_someone_elses_recommendation_is_404(frozen, mailoutbox, django_capture_on_commit_callbacks):
    rep, other = UserFactory(), UserFactory()
    rec = RecommendationFactory(account__owner=rep)
    approve(rep, rec, django_capture_on_commit_callbacks)
    response = client_for(other).post(f"/api/v1/recommendations/{rec.pk}/cancel")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Recommendation.objects.get(pk=rec.pk).status == Recommendation.Status.SCHEDULED


def test_cancel_without_credentials_is_refused(frozen, django_capture_on_commit_callbacks):
    rep = UserFactory()
    rec = RecommendationFactory(account__owner=rep)
    approve(rep, rec, django_capture_on_commit_callbacks)
    from rest_framework.test import APIClient

    assert APIClient().post(f"/api/v1/recommendations/{rec.pk}/cancel").status_code in (401, 403)
    assert Recommendation.objects.get(pk=rec.pk).status == Recommendation.Status.SCHEDULED


def test_a_double_approve_is_409_and_sends_once(frozen, mailoutbox, django_capture_on_commit_callbacks):
    rep = UserFactory()
    rec = RecommendationFactory(account__owner=rep)
    assert approve(rep, rec, django_capture_on_commit_callbacks).status_code == 200
    second = approve(rep, rec, django_capture_on_commit_callbacks)
    assert second.status_code == 409 and second.json()["error"]["code"] == "invalid_transition"
    assert rec.reviews.count() == 1
    frozen.shift(dt.timedelta(seconds=31))
    executor.execute_due_actions()
    assert len(mailoutbox) == 1


def test_the_preference_refuses_more_than_120_seconds(client):
    rep = UserFactory()
    client.force_login(rep)
    response = client.post(
        "/preferences/",
        {"time_zone": "UTC", "digest_hour": 8, "digest_enabled": "on", "undo_seconds": 121, "signature": ""},
    )
    assert response.status_code == 400
    assert "undo_seconds" in response.context["form"].errors
    response = client.post(
        "/preferences/",
        {"time_zone": "UTC", "digest_hour": 8, "undo_seconds": 10, "signature": "Rita Rep\nAccount Executive"},
    )
    assert response.status_code == 302
    profile = RepProfile.objects.get(user=rep)
    assert (profile.undo_seconds, profile.signature) == (10, "Rita Rep\nAccount Executive")
