"""Replies and bounces to e-mails the system sent alone become trust outcomes (and demote when severe)."""

from __future__ import annotations

import pytest

from recommendations.models import Execution
from recommendations.services.outcomes import outcome_kind_for
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from signals.sources import internal_source
from signals.storing import record_signal
from trust import services as trust
from trust.models import Outcome
from trust.tests.factories import give_record

pytestmark = pytest.mark.django_db


def _sent(*, autonomous: bool):
    rec = RecommendationFactory(status="executed")
    message_id = f"<rec.{rec.pk}.v1@vendor.example>"
    Execution.objects.create(
        recommendation=rec,
        idempotency_key=f"rec:{rec.pk}:v1",
        status=Execution.Status.SUCCEEDED,
        autonomous=autonomous,
        message_id=message_id,
        claimed_at=clock.now(),
    )
    sent, _ = record_signal(
        source=internal_source(),
        kind="email_sent",
        external_id=message_id,
        message_id=message_id,
        occurred_at=clock.now(),
        account=rec.account,
        contact=rec.contact,
    )
    return rec, sent


def _reply(sent, **fields):
    signal, _ = record_signal(
        source=internal_source(),
        kind=fields.pop("kind", "email_reply"),
        external_id=f"reply-{sent.pk}-{fields.get('intent', '')}",
        occurred_at=clock.now(),
        account=sent.account,
        contact=sent.contact,
        in_reply_to=sent,
        **fields,
    )
    return signal


def test_unsubscribe_reply_to_an_autonomous_email_demotes_the_domain(django_capture_on_commit_callbacks):
    give_record("pricing_outreach", approved=80)
    rec, sent = _sent(autonomous=True)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(sent, intent="unsubscribe")
    outcome = Outcome.objects.get(reference=f"recommendation:{rec.pk}")
    assert (outcome.kind, outcome.success, outcome.severe, outcome.autonomous) == ("unsubscribe", False, True, True)
    assert "Unsubscribe" in trust.policy_for("pricing_outreach").demoted_reason


def test_positive_reply_is_a_success(django_capture_on_commit_callbacks):
    rec, sent = _sent(autonomous=True)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(sent, intent="interested", sentiment=0.6, properties={"sender_verified": True})
    assert Outcome.objects.get(reference=f"recommendation:{rec.pk}").kind == "positive_reply"


def test_positive_reply_from_an_unverified_sender_earns_nothing(django_capture_on_commit_callbacks):
    """A forged "interested" threaded to an autonomous e-mail must not widen autonomy (issue 13)."""
    rec, sent = _sent(autonomous=True)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(sent, intent="interested", sentiment=0.6, properties={"sender_verified": False})
    assert not Outcome.objects.filter(reference=f"recommendation:{rec.pk}").exists()


def test_forged_unsubscribe_still_counts_against_autonomy(django_capture_on_commit_callbacks):
    """A failure from an unverified sender can only slow autonomy down, so it still counts."""
    rec, sent = _sent(autonomous=True)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(sent, intent="unsubscribe", properties={"sender_verified": False, "effect_withheld": "not verified"})
    assert Outcome.objects.get(reference=f"recommendation:{rec.pk}").kind == "unsubscribe"


def test_reply_to_a_persons_approved_email_is_not_relabelled(django_capture_on_commit_callbacks):
    _rec, sent = _sent(autonomous=False)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(sent, intent="not_interested")
    assert not Outcome.objects.exists()


def test_bounce_by_message_id_property_is_severe(django_capture_on_commit_callbacks, django_assert_max_num_queries):
    rec, sent = _sent(autonomous=True)
    with django_capture_on_commit_callbacks(execute=True):
        record_signal(
            source=internal_source(),
            kind="email_bounced",
            external_id="bounce-1",
            occurred_at=clock.now(),
            account=sent.account,
            properties={"message_id": sent.message_id},
        )
    outcome = Outcome.objects.get(reference=f"recommendation:{rec.pk}")
    assert outcome.kind == "bounce" and outcome.severe


def test_batch_without_replies_costs_one_query(django_assert_num_queries):
    from recommendations.receivers import label_autonomous_outcomes

    _rec, sent = _sent(autonomous=True)
    with django_assert_num_queries(1):
        label_autonomous_outcomes(sender=None, signal_ids=[sent.pk], account_ids=[sent.account_id])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "email_reply", "intent": "wrong_person"}, "wrong_person"),
        ({"kind": "email_reply", "intent": "not_interested"}, "negative_reply"),
        ({"kind": "email_reply", "intent": "", "sentiment": -0.7}, "negative_reply"),
        (
            {"kind": "email_reply", "intent": "question", "sentiment": 0.0, "properties": {"sender_verified": True}},
            "positive_reply",
        ),
        ({"kind": "email_reply", "intent": "question", "sentiment": 0.0}, None),
        ({"kind": "email_reply", "intent": "auto_reply"}, None),
        ({"kind": "email_reply", "intent": "", "sentiment": 0.0}, None),
        ({"kind": "email_reply", "intent": "interested", "is_auto_reply": True}, None),
        ({"kind": "email_bounced", "properties": {"event": "complained"}}, "complaint"),
        ({"kind": "page_view"}, None),
    ],
)
def test_outcome_kind_for(fields, expected):
    args = {"intent": "", "sentiment": None, "is_auto_reply": False, "properties": {}, **fields}
    assert outcome_kind_for(**args) == expected


def test_an_announcement_without_replies_or_bounces_costs_no_query(django_assert_num_queries):
    from recommendations.receivers import label_autonomous_outcomes
    from signals.models import Source

    with django_assert_num_queries(0):
        label_autonomous_outcomes(Source, signal_ids=[1, 2], account_ids=[3], kinds=["page_view", "product_usage"])
