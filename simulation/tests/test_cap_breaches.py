"""The simulator's count of cap breaches agrees with the product's rule: a rep's answer to the contact's
own message is counted apart, anything else beyond a cap is a breach."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from recommendations.models import OutreachPolicy, Review
from recommendations.tests.factories import EvidenceFactory, RecommendationFactory
from signals.tests.factories import SignalFactory
from simulation.deals_rows import cap_breaches

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def ana():
    account = AccountFactory(name="Acme", domain="acme.com", owner=UserFactory(username="rita"))
    return ContactFactory(account=account, name="Ana Ruiz", email="ana@acme.com")


def sent(contact, at, **properties):
    SignalFactory(account=contact.account, contact=contact, kind="email_sent", occurred_at=at, properties=properties)


def salesai_sends(contact, *, answer: bool, approved: bool = True):
    """A fourth e-mail to ``contact`` in a week, sent by salesai: an answer to her reply, or outreach."""
    for days in (6, 4, 1):
        sent(contact, T0 - dt.timedelta(days=days))
    rec = RecommendationFactory(account=contact.account, contact=contact, action_type="reply" if answer else "follow_up",
                                playbook="reply_waiting" if answer else "unanswered_outreach", status="executed")  # fmt: skip
    reply = SignalFactory(
        account=contact.account, contact=contact, kind="email_reply", occurred_at=T0 - dt.timedelta(hours=2)
    )
    EvidenceFactory(recommendation=rec, signal=reply, kind="email_reply")
    if approved:
        Review.objects.create(recommendation=rec, reviewer=contact.account.owner, decision="approved", version=rec.version,
                              recipient=contact.email, created_at=T0 - dt.timedelta(hours=1))  # fmt: skip
    sent(contact, T0, recommendation_id=rec.pk)


def test_outreach_beyond_the_cap_is_a_breach(ana):
    salesai_sends(ana, answer=False)
    assert cap_breaches(domains={"acme.com"}) == {
        "contact": 1,
        "account": 0,
        "salesai_emails": 1,
        "answers_beyond_cap": 0,
    }


def test_a_reps_answer_to_her_own_message_is_counted_apart(ana):
    salesai_sends(ana, answer=True)
    assert cap_breaches(domains={"acme.com"}) == {
        "contact": 0,
        "account": 0,
        "salesai_emails": 1,
        "answers_beyond_cap": 1,
    }


def test_an_answer_salesai_sent_on_its_own_is_a_breach(ana):
    salesai_sends(ana, answer=True, approved=False)
    assert cap_breaches(domains={"acme.com"})["contact"] == 1


def test_with_answers_capped_by_the_policy_an_answer_is_a_breach(ana):
    policy = OutreachPolicy.current()
    policy.answers_exempt = False
    policy.save()
    salesai_sends(ana, answer=True)
    assert cap_breaches(domains={"acme.com"})["contact"] == 1
