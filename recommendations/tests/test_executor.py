"""The executor: exactly once, stopped by the kill switch and pauses, never to a do-not-contact person."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.tests.factories import ManagerFactory, UserFactory
from audit.models import AuditEvent
from recommendations.models import Execution, Recommendation
from recommendations.services import execution as executor
from recommendations.services.review import route_recommendation
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from signals.models import Signal
from trust import services as trust
from trust.tests.factories import TrustPolicyFactory, give_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def due_autonomous(db):
    """A pricing e-mail routed autonomously, its 10-minute window already over."""
    TrustPolicyFactory(domain="pricing_outreach", review_sample_rate=0.0)
    give_record("pricing_outreach", approved=80)
    owner = UserFactory(username="dana", first_name="Dana", last_name="Reyes", email="dana@vendor.example")
    rec = RecommendationFactory(account__owner=owner, contact__name="Ann Lee")
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.SCHEDULED
    return rec


def later(minutes: int = 11):
    return time_machine.travel(clock.now() + dt.timedelta(minutes=minutes), tick=False)


def test_due_autonomous_email_is_sent_from_the_owner_once(due_autonomous, mailoutbox):
    rec = due_autonomous
    assert executor.execute_due_actions() == 0  # still inside the undo window
    assert mailoutbox == []
    with later():
        assert executor.execute_due_actions() == 1
        executor.execute_due_actions()
        executor.execute_recommendation(recommendation_id=rec.pk, autonomous=True)  # a duplicated task
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.from_email == "Dana Reyes <dana@vendor.example>"
    assert message.to == [f"Ann Lee <{rec.contact.email}>"]
    assert message.subject == rec.draft_subject and message.body == rec.draft_body
    execution = Execution.objects.get(recommendation=rec)
    assert message.extra_headers["Message-ID"] == execution.message_id
    assert execution.message_id.endswith("@vendor.example>")
    assert execution.status == Execution.Status.SUCCEEDED and execution.autonomous
    assert execution.idempotency_key == f"rec:{rec.pk}:v{rec.version}"
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.EXECUTED
    sent = Signal.objects.get(kind="email_sent")
    assert sent.message_id == execution.message_id and sent.external_id == execution.message_id
    assert sent.properties["recommendation_id"] == rec.pk and sent.account_id == rec.account_id
    assert AuditEvent.objects.filter(action="recommendation.executed", reference=f"recommendation:{rec.pk}").exists()


def test_kill_switch_stops_scheduled_actions(due_autonomous, mailoutbox):
    trust.set_kill_switch(on=True, user=None, reason="bad drafts today")
    with later():
        executor.execute_due_actions()
    rec = Recommendation.objects.get(pk=due_autonomous.pk)
    assert mailoutbox == [] and not Execution.objects.exists()
    assert rec.status == Recommendation.Status.PENDING
    assert "kill switch" in rec.closed_reason


def test_pause_stops_scheduled_actions(due_autonomous, mailoutbox):
    trust.update_policy(policy=trust.policy_for("pricing_outreach"), user=None, changes={"mode": "paused"})
    with later():
        executor.execute_due_actions()
    assert mailoutbox == []
    assert Recommendation.objects.get(pk=due_autonomous.pk).status == Recommendation.Status.PENDING


def test_do_not_contact_is_refused_and_marked_failed(mailoutbox):
    rec = RecommendationFactory(scheduled=True, scheduled_for=clock.now(), contact__unreachable=True)
    trust.update_policy(policy=trust.policy_for(rec.action_type), user=None, changes={"mode": "autonomous"})
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=True)
    rec.refresh_from_db()
    assert mailoutbox == []
    assert rec.status == Recommendation.Status.FAILED
    assert "do-not-contact" in rec.closed_reason
    assert Execution.objects.get().status == Execution.Status.FAILED


def test_a_claim_left_by_a_killed_worker_is_never_resent(due_autonomous, mailoutbox):
    rec = due_autonomous
    Execution.objects.create(
        recommendation=rec,
        idempotency_key=f"rec:{rec.pk}:v{rec.version}",
        message_id="<rec.1.v1@vendor.example>",
        autonomous=True,
        claimed_at=clock.now() + dt.timedelta(minutes=10),
    )
    with later():
        executor.execute_due_actions()  # young claim: maybe another worker is sending; leave it
    assert Recommendation.objects.get(pk=rec.pk).status == Recommendation.Status.SCHEDULED
    with later(minutes=16):
        executor.execute_due_actions()  # stale claim: interrupted mid-send → a person checks
    rec.refresh_from_db()
    assert mailoutbox == []
    assert rec.status == Recommendation.Status.FAILED
    assert "<rec.1.v1@vendor.example>" in rec.closed_reason
    assert Execution.objects.get().status == Execution.Status.FAILED


def test_unreachable_mail_server_releases_the_claim_for_a_retry(due_autonomous, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with later(), pytest.raises(executor.NothingSent):
        executor.execute_recommendation(recommendation_id=due_autonomous.pk, autonomous=True)
    assert not Execution.objects.exists()
    assert Recommendation.objects.get(pk=due_autonomous.pk).status == Recommendation.Status.SCHEDULED


def test_churn_escalation_notifies_the_managers(mailoutbox, django_capture_on_commit_callbacks):
    ManagerFactory(email="head@vendor.example")
    owner = UserFactory(email="rep@vendor.example", undo_seconds=0)  # sent at once: no undo window
    rec = RecommendationFactory(action_type="churn_escalation", account__owner=owner, draft_subject="Churn risk")
    from recommendations.services.review import approve_recommendation

    with django_capture_on_commit_callbacks(execute=True):
        approve_recommendation(recommendation=rec, user=owner, version=rec.version)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["head@vendor.example"] and mailoutbox[0].cc == ["rep@vendor.example"]
    assert mailoutbox[0].body.startswith(f"Churn risk on {rec.account.name} — escalated by salesai.")
    assert rec.reasoning in mailoutbox[0].body
    assert not Signal.objects.filter(kind="email_sent").exists()  # nothing went to the customer
    assert Recommendation.objects.get(pk=rec.pk).status == Recommendation.Status.EXECUTED


def test_change_contact_becomes_a_task_for_the_owner(mailoutbox, django_capture_on_commit_callbacks):
    owner = UserFactory(email="rep@vendor.example", undo_seconds=0)  # sent at once: no undo window
    rec = RecommendationFactory(action_type="change_contact", account__owner=owner, title="Try the CFO instead")
    from recommendations.services.review import approve_recommendation

    with django_capture_on_commit_callbacks(execute=True):
        approve_recommendation(recommendation=rec, user=owner, version=rec.version)
    assert [m.to for m in mailoutbox] == [["rep@vendor.example"]]
    assert "A task for you on" in mailoutbox[0].body and "Try the CFO instead" in mailoutbox[0].body


def test_a_stale_writer_reopening_an_executed_one_does_not_send_it_again(due_autonomous, mailoutbox):
    """E.g. a concurrent analysis saving an old copy: version bumped, status back to scheduled."""
    with later():
        executor.execute_due_actions()
        Recommendation.objects.filter(pk=due_autonomous.pk).update(
            status=Recommendation.Status.SCHEDULED,
            scheduled_for=due_autonomous.scheduled_for,
            version=due_autonomous.version + 1,
        )
        executor.execute_due_actions()
    assert len(mailoutbox) == 1
    assert Execution.objects.count() == 1
    assert Recommendation.objects.get(pk=due_autonomous.pk).status == Recommendation.Status.EXECUTED


def test_a_cap_lowered_inside_the_window_stops_the_action(due_autonomous, mailoutbox):
    trust.update_policy(policy=trust.policy_for("pricing_outreach"), user=None, changes={"stakes_cap": 5000})
    with later():
        executor.execute_due_actions()
    rec = Recommendation.objects.get(pk=due_autonomous.pk)
    assert mailoutbox == [] and rec.status == Recommendation.Status.PENDING
    assert "$8,000 at stake is now over the $5,000 cap" in rec.closed_reason
