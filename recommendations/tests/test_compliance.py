"""Compliance of every e-mail salesai sends: working hours in the contact's time zone, the signed
List-Unsubscribe (RFC 8058 one-click), the optional AI-disclosure line, and autonomy paused after a
person's reply until a rep acts."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import RepProfile
from accounts.tests.factories import ContactFactory, UserFactory
from recommendations.models import OutreachPolicy, Recommendation
from recommendations.services import compliance
from recommendations.services import execution as executor
from recommendations.services.review import approve_recommendation, reject_recommendation, route_recommendation
from recommendations.tests.factories import RecommendationFactory
from signals.tests.factories import SignalFactory
from trust.tests.factories import TrustPolicyFactory, give_record

pytestmark = pytest.mark.django_db
FRIDAY_EVENING = dt.datetime(2027, 1, 8, 23, 0, tzinfo=dt.UTC)  # 18:00 in New York
MONDAY_9_NY = dt.datetime(2027, 1, 11, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def owner():
    # no undo window: these tests approve and execute at once
    return UserFactory(username="dana", email="dana@vendor.example", undo_seconds=0)


@pytest.fixture
def trusted():
    TrustPolicyFactory(domain="pricing_outreach", review_sample_rate=0.0)
    give_record("pricing_outreach", approved=80)


def autonomous(owner, **contact) -> Recommendation:
    rec = RecommendationFactory(account__owner=owner, **{f"contact__{k}": v for k, v in contact.items()})
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.SCHEDULED, rec.trust_decision.reasons
    return rec


@pytest.mark.working_hours
def test_an_email_due_after_hours_waits_for_the_contacts_next_working_morning(owner, trusted, mailoutbox):
    with time_machine.travel(FRIDAY_EVENING - dt.timedelta(minutes=30), tick=False):
        rec = autonomous(owner, traits={"timezone": "America/New_York"})
    with time_machine.travel(FRIDAY_EVENING, tick=False):
        executor.execute_due_actions()
    rec.refresh_from_db()
    assert (rec.status, rec.scheduled_for, mailoutbox) == ("scheduled", MONDAY_9_NY, [])
    with time_machine.travel(MONDAY_9_NY + dt.timedelta(minutes=1), tick=False):
        executor.execute_due_actions()
    assert len(mailoutbox) == 1


@pytest.mark.working_hours
def test_without_a_contact_time_zone_the_reps_applies():
    owner = UserFactory()
    RepProfile.objects.create(user=owner, time_zone="Asia/Tokyo")
    rec = RecommendationFactory(account__owner=owner)
    policy = OutreachPolicy.current()
    # 23:00 UTC Friday is 08:00 Saturday in Tokyo: Monday 09:00 Tokyo is Monday 00:00 UTC
    assert compliance.send_window(rec, FRIDAY_EVENING, policy) == dt.datetime(2027, 1, 11, 0, 0, tzinfo=dt.UTC)
    rec.contact.traits = {"timezone": "Not/AZone"}  # junk falls back, never raises
    assert compliance.send_window(rec, FRIDAY_EVENING, policy) == dt.datetime(2027, 1, 11, 0, 0, tzinfo=dt.UTC)


def test_every_customer_email_carries_one_click_unsubscribe(owner, client, mailoutbox):
    rec = RecommendationFactory(account__owner=owner, contact__email="ann@acme.com")
    approve_recommendation(recommendation=rec, user=owner, version=rec.version)
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False)
    (message,) = mailoutbox
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("http://127.0.0.1:8000")
    assert client.get(path).status_code == 200  # a link scanner's GET changes nothing
    rec.contact.refresh_from_db()
    assert not rec.contact.do_not_contact
    response = client.post(path, {"List-Unsubscribe": "One-Click"})  # what a mail client sends
    assert response.status_code == 200
    rec.contact.refresh_from_db()
    assert rec.contact.do_not_contact and "Unsubscribed by link" in rec.contact.do_not_contact_reason


@pytest.mark.parametrize(
    "token", ["forged", "eyJjIjoxfQ:1vPa9q:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x" * 300]
)
def test_a_forged_or_unsigned_unsubscribe_link_does_nothing(client, token):
    contact = ContactFactory()
    assert client.post(f"/unsubscribe/{token}").status_code == 400
    assert client.get(f"/unsubscribe/{token}").status_code == 400
    contact.refresh_from_db()
    assert not contact.do_not_contact


def test_a_token_for_an_address_that_changed_does_nothing(client):
    contact = ContactFactory(email="old@acme.com")
    token = compliance.unsubscribe_token(contact)
    contact.email = "new@acme.com"
    contact.save()
    assert client.post(f"/unsubscribe/{token}").status_code == 400


def test_ai_disclosure_only_on_autonomous_emails_when_the_admin_turns_it_on(owner, trusted, mailoutbox):
    policy = OutreachPolicy.current()
    policy.ai_disclosure = True
    policy.save()
    rec = autonomous(owner)
    with time_machine.travel(rec.scheduled_for + dt.timedelta(minutes=1), tick=False):
        executor.execute_due_actions()
    assert mailoutbox[-1].body.rstrip().endswith(policy.ai_disclosure_text)
    manual = RecommendationFactory(account__owner=owner, action_type="follow_up")
    approve_recommendation(recommendation=manual, user=owner, version=manual.version)
    executor.execute_recommendation(recommendation_id=manual.pk, autonomous=False)
    assert policy.ai_disclosure_text not in mailoutbox[-1].body


def test_a_human_reply_pauses_autonomy_for_the_account_until_a_rep_acts(owner, trusted):
    first = RecommendationFactory(account__owner=owner)
    SignalFactory(account=first.account, contact=first.contact, kind="email_reply", intent="question")
    route_recommendation(recommendation=first)
    assert first.status == Recommendation.Status.PENDING
    assert any("replied on" in reason and "until a rep acts" in reason for reason in first.trust_decision.reasons)
    reject_recommendation(recommendation=first, user=owner, reason="already_handled")
    second = RecommendationFactory(account=first.account, contact=first.contact, action_type="pricing_outreach")
    route_recommendation(recommendation=second)
    assert second.status == Recommendation.Status.SCHEDULED  # the rep acted on the account since the reply


def test_an_auto_reply_does_not_pause_autonomy(owner, trusted):
    rec = RecommendationFactory(account__owner=owner)
    SignalFactory(account=rec.account, contact=rec.contact, kind="email_reply", is_auto_reply=True)
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.SCHEDULED


def test_a_reply_after_scheduling_stops_the_autonomous_send(owner, trusted, mailoutbox):
    rec = autonomous(owner)
    SignalFactory(account=rec.account, contact=rec.contact, kind="email_reply", intent="question")
    with time_machine.travel(rec.scheduled_for + dt.timedelta(minutes=1), tick=False):
        executor.execute_due_actions()
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING and "until a rep acts" in rec.closed_reason
    assert not mailoutbox
