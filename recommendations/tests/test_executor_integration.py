"""The executor against a real SMTP server on loopback (aiosmtpd) and real Celery workers.

Shows what a user cares about: an autonomous e-mail arrives once after its undo window; one cancelled
inside the window never arrives; a worker killed mid-send (SIGKILL while the SMTP server holds the
DATA command) and a retried task do not send twice.

A worker is another process, so time-machine cannot move its clock: the tests end the undo window by
moving ``scheduled_for`` into the past, then call the beat task ``recommendations.execute_due_actions``.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from accounts.tests.factories import UserFactory
from conftest import CeleryWorker, wait_until
from recommendations import tasks
from recommendations.models import Execution, Recommendation
from recommendations.services.review import cancel_scheduled, route_recommendation
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from salesai.celery import app as celery_app
from trust.tests.factories import TrustPolicyFactory, give_record

pytestmark = pytest.mark.integration


@pytest.fixture
def start_worker(celery_queue, transactional_db, tmp_path, smtp_mailbox):
    """Start real workers pointed at the loopback SMTP server; stop them all at the end."""
    workers: list[CeleryWorker] = []

    def start() -> CeleryWorker:
        worker = CeleryWorker(
            celery_queue, tmp_path / f"worker{len(workers)}.log", extra_env={"EMAIL_URL": smtp_mailbox.url}
        ).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def run(task, **kwargs):
    """Queue a task with its result kept, so the test can wait until the worker has processed it."""
    return task.apply_async(kwargs=kwargs, ignore_result=False)


def wait_all(results) -> None:
    for result in results:
        result.get(timeout=30)


def redeliver_unacked(queue: str) -> int:
    """Do now what Redis does once a dead worker's visibility timeout (an hour here) runs out: put its
    unacknowledged messages for ``queue`` back on the queue. Other queues' messages are left alone."""
    restored = 0
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        for tag, raw in channel.client.hgetall(channel.unacked_key).items():
            _message, _exchange, routing_key = json.loads(raw)
            if routing_key == queue:
                channel.qos.restore_by_tag(tag.decode())
                restored += 1
    return restored


def _autonomous_recommendation(**kwargs) -> Recommendation:
    TrustPolicyFactory(domain="pricing_outreach", review_sample_rate=0.0)
    if not Recommendation.objects.exists():
        give_record("pricing_outreach", approved=80)
    owner = UserFactory(first_name="Dana", last_name="Reyes", email="dana@vendor.example")
    rec = RecommendationFactory(account__owner=owner, **kwargs)
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.SCHEDULED
    return rec


def _end_undo_window(rec: Recommendation) -> None:
    Recommendation.objects.filter(pk=rec.pk).update(scheduled_for=clock.now() - dt.timedelta(seconds=1))


def test_autonomous_email_arrives_once_and_a_cancelled_one_never(start_worker, smtp_mailbox):
    start_worker()
    sent = _autonomous_recommendation(draft_subject="Plans for your team")
    cancelled = _autonomous_recommendation(draft_subject="Should never arrive")

    wait_all([run(tasks.execute_due_actions_task)])  # inside the window: nothing is due yet
    assert smtp_mailbox.messages == []

    cancel_scheduled(recommendation=cancelled, user=cancelled.account.owner)
    _end_undo_window(sent)
    results = []
    for _ in range(3):  # the beat firing repeatedly, plus duplicated direct tasks
        results.append(run(tasks.execute_due_actions_task))
        results.append(run(tasks.execute_recommendation_task, recommendation_id=sent.pk, autonomous=True))
        results.append(run(tasks.execute_recommendation_task, recommendation_id=cancelled.pk, autonomous=True))
    wait_all(results)
    assert Recommendation.objects.get(pk=sent.pk).status == Recommendation.Status.EXECUTED

    assert len(smtp_mailbox.messages) == 1
    message = smtp_mailbox.messages[0]
    assert message["Subject"] == "Plans for your team"
    assert message["From"] == "Dana Reyes <dana@vendor.example>"
    assert message["To"].endswith(f"<{sent.contact.email}>")
    # compared unfolded: RFC 5322 lets a long header wrap onto a continuation line
    assert " ".join(message["Message-ID"].split()) == Execution.objects.get(recommendation=sent).message_id
    assert Recommendation.objects.get(pk=cancelled.pk).status == Recommendation.Status.PENDING
    assert not Execution.objects.filter(recommendation=cancelled).exists()


def test_worker_killed_mid_send_and_retried_does_not_send_twice(start_worker, smtp_mailbox, celery_queue):
    rec = _autonomous_recommendation(draft_subject="Only once")
    _end_undo_window(rec)
    smtp_mailbox.hold.set()
    first = start_worker()
    original = run(tasks.execute_recommendation_task, recommendation_id=rec.pk, autonomous=True)
    wait_until(lambda: len(smtp_mailbox.messages) == 1)  # the server has the message, the worker awaits "250"
    first.kill()  # SIGKILL mid-send: the task message stays unacknowledged (acks_late)
    execution = Execution.objects.get(recommendation=rec)
    assert execution.status == Execution.Status.CLAIMED  # committed before the send

    start_worker()
    assert redeliver_unacked(celery_queue) == 1  # the very same task message, delivered again
    wait_all(
        [
            original,
            run(tasks.execute_recommendation_task, recommendation_id=rec.pk, autonomous=True),  # a duplicate
            run(tasks.execute_due_actions_task),  # and the beat
        ]
    )
    assert len(smtp_mailbox.messages) == 1
    assert Execution.objects.get(pk=execution.pk).status == Execution.Status.CLAIMED

    # Past the time limit, the sweep gives the interrupted send to a person instead of resending it.
    Execution.objects.filter(pk=execution.pk).update(claimed_at=clock.now() - dt.timedelta(hours=1))
    wait_all([run(tasks.execute_due_actions_task)])
    rec.refresh_from_db()
    assert execution.message_id in rec.closed_reason
    assert Execution.objects.get(pk=execution.pk).status == Execution.Status.FAILED
    smtp_mailbox.release.set()
    assert len(smtp_mailbox.messages) == 1
