"""Contact and account caps: held, not dropped; back when the cap allows; checked again at send time;
shown in the API. The rep's daily budget: ``test_budget``."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from recommendations.models import OutreachPolicy, Recommendation
from recommendations.services import analysis, caps
from recommendations.services import execution as executor
from recommendations.services.review import approve_recommendation, route_recommendation
from recommendations.tests.factories import EvidenceFactory, RecommendationFactory
from recommendations.tests.test_api import client_for
from salesai import clock
from signals.tests.factories import SignalFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)  # a Wednesday, inside working hours


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rep():
    # no undo window: the send-time tests approve and execute at once
    return UserFactory(username="rita", email="rita@vendor.example", undo_seconds=0)


@pytest.fixture
def ana(rep):
    account = AccountFactory(name="Acme", domain="acme.com", owner=rep)
    return ContactFactory(account=account, name="Ana Ruiz", email="ana@acme.com")


def rep_sent(contact, *days_ago: float) -> None:
    """The rep's own e-mails (from their mailbox): ``email_sent`` signals."""
    for ago in days_ago:
        SignalFactory(
            account=contact.account, contact=contact, kind="email_sent", occurred_at=T0 - dt.timedelta(days=ago)
        )


def offer(contact, **fields) -> Recommendation:
    rec = RecommendationFactory(account=contact.account, contact=contact, **fields)
    return route_recommendation(recommendation=rec)


def test_a_fourth_email_in_a_week_is_held_with_when_and_why(ana):
    rep_sent(ana, 6, 4, 1)
    rec = offer(ana)
    assert rec.status == Recommendation.Status.HELD
    assert rec.held_until == T0 - dt.timedelta(days=6) + dt.timedelta(days=7)
    assert "Ana Ruiz got 3 e-mails in the last 7 days; the cap is 3" in rec.held_reason


def test_the_api_shows_held_until_and_the_reason(ana, rep):
    rep_sent(ana, 6, 4, 1)
    rec = offer(ana)
    body = client_for(rep).get("/api/v1/recommendations?status=held").json()
    (item,) = body["results"] if isinstance(body, dict) else body
    assert (item["id"], item["status"]) == (rec.pk, "held")
    assert item["held_until"].startswith("2026-11-19T10:00")
    assert "the cap is 3" in item["held_reason"]


def test_a_held_recommendation_returns_to_the_inbox_when_the_cap_allows(ana, frozen):
    rep_sent(ana, 6, 4, 1)
    rec = offer(ana)
    frozen.move_to(rec.held_until - dt.timedelta(minutes=1))
    analysis.sweep_due_accounts(time_budget=None)
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.HELD
    frozen.move_to(rec.held_until + dt.timedelta(minutes=1))
    assert analysis.sweep_due_accounts(time_budget=None).released == 1
    rec.refresh_from_db()
    assert (rec.status, rec.held_until, rec.held_reason) == (Recommendation.Status.PENDING, None, "")


def test_offers_awaiting_a_decision_count_towards_the_cap(ana):
    offers = [offer(ana, action_type=action) for action in ("pricing_outreach", "follow_up", "re_engage", "reply")]
    assert [r.status for r in offers] == ["pending", "pending", "held", "held"]  # 2 a day at one account


def test_a_more_urgent_offer_takes_the_place_of_the_lowest(ana):
    low = offer(ana, action_type="re_engage", priority=20)
    mid = offer(ana, action_type="follow_up", priority=40)
    urgent = offer(ana, action_type="speed_to_lead", priority=90)
    low.refresh_from_db()
    mid.refresh_from_db()
    assert (urgent.status, mid.status, low.status) == ("pending", "pending", "held")
    assert "a more urgent recommendation took its place" in low.held_reason
    lowest = offer(ana, action_type="reply", priority=10)
    assert lowest.status == "held"  # nothing lower to make way


def test_the_account_daily_cap_counts_emails_to_anyone_there(ana):
    colleague = ContactFactory(account=ana.account, email="bo@acme.com")
    rep_sent(colleague, 0.5, 0.2)
    rec = offer(ana)
    assert rec.status == Recommendation.Status.HELD and "Acme got 2 e-mails in the last 24 hours" in rec.held_reason


def test_caps_are_admin_settings(ana):
    rep_sent(ana, 6, 4, 1)
    policy = OutreachPolicy.current()
    policy.contact_cap = 5
    policy.save()
    assert offer(ana).status == Recommendation.Status.PENDING


def test_internal_notices_count_towards_no_cap(ana):
    rep_sent(ana, 6, 4, 1)
    assert offer(ana, action_type="churn_escalation").status == Recommendation.Status.PENDING


def test_an_approval_cannot_break_the_cap_at_send_time(ana, rep, mailoutbox):
    rec = offer(ana)
    approve_recommendation(recommendation=rec, user=rep, version=rec.version)
    rep_sent(ana, 0.1, 0.05, 0.01)  # the rep wrote three times by hand meanwhile
    assert executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False) is None
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.HELD and not mailoutbox
    assert not rec.executions.exists()


def test_a_held_recommendation_cannot_be_approved(ana, rep):
    rep_sent(ana, 6, 4, 1)
    rec = offer(ana)
    response = client_for(rep).post(
        f"/api/v1/recommendations/{rec.pk}/approve", {"version": rec.version}, format="json"
    )
    assert response.status_code == 409
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.HELD


def test_the_reps_own_emails_hold_offers_already_in_the_inbox(ana):
    rec = offer(ana)
    rep_sent(ana, 0.3, 0.2, 0.1)
    assert caps.enforce(account_id=ana.account_id, now=clock.now()) == [rec]  # what analysis runs after composing
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.HELD


def test_a_snoozed_one_waking_into_a_full_cap_is_held(ana, frozen):
    rec = RecommendationFactory(
        account=ana.account, contact=ana, status="snoozed", snoozed_until=T0 + dt.timedelta(hours=1)
    )
    rep_sent(ana, 0.3, 0.2, 0.1)
    frozen.move_to(T0 + dt.timedelta(hours=2))
    analysis.expire_and_wake(now=clock.now())
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.HELD


def test_the_inbox_shows_when_and_why_a_recommendation_is_held(ana, rep, client):
    rep_sent(ana, 6, 4, 1)
    rec = offer(ana)
    client.force_login(rep)
    body = client.get("/?status=held").content.decode()
    assert f'data-rec="{rec.pk}"' in body
    assert "Held until Thu 19 Nov, 10:00 because Ana Ruiz got 3 e-mails" in body


def test_the_outreach_policy_is_one_admin_row_with_help_and_an_audit(admin_client):
    from audit.models import AuditEvent

    policy = OutreachPolicy.current()
    page = admin_client.get(f"/admin/recommendations/outreachpolicy/{policy.pk}/change/")
    assert page.status_code == 200 and "Example: 3" in page.content.decode()
    assert admin_client.get("/admin/recommendations/outreachpolicy/add/").status_code == 403  # one row only
    form = {
        "contact_cap": 4, "contact_window_days": 7, "account_daily_cap": 2, "rep_daily_budget": 25,
        "working_hours_start": 8, "working_hours_end": 18, "human_reply_pause_days": 14,
        "ai_disclosure": "on", "ai_disclosure_text": "Written with an AI assistant.",
    }  # fmt: skip
    response = admin_client.post(f"/admin/recommendations/outreachpolicy/{policy.pk}/change/", form)
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.contact_cap, policy.working_hours_start, policy.ai_disclosure) == (4, 8, True)
    event = AuditEvent.objects.get(action="outreach_policy.updated")
    assert event.data["contact_cap"] == "4"


def test_making_way_holds_an_offer_to_the_same_contact_only(ana):
    policy = OutreachPolicy.current()
    policy.account_daily_cap = 10
    policy.save()
    bo = ContactFactory(account=ana.account, email="bo@acme.com")
    to_bo = offer(bo, action_type="re_engage", priority=10)
    to_ana = [offer(ana, action_type=a, priority=p) for a, p in (("follow_up", 30), ("reply", 40), ("check_in", 50))]
    urgent = offer(ana, action_type="speed_to_lead", priority=90)
    to_bo.refresh_from_db()
    to_ana[0].refresh_from_db()
    assert (urgent.status, to_ana[0].status, to_bo.status) == ("pending", "held", "pending")


# --- answers are not outreach ---------------------------------------------------------------------


def answer_to(contact, writer=None) -> Recommendation:
    """salesai's proposed answer to ``writer``'s (default: the contact's own) reply of an hour ago."""
    reply = SignalFactory(account=contact.account, contact=writer or contact, kind="email_reply",
                          occurred_at=T0 - dt.timedelta(hours=1))  # fmt: skip
    rec = RecommendationFactory(account=contact.account, contact=contact, action_type="reply", playbook="reply_waiting")
    EvidenceFactory(recommendation=rec, signal=reply, kind="email_reply", statement="Ana replied with a question")
    return route_recommendation(recommendation=rec)


def test_an_answer_to_their_own_question_is_not_held_and_is_sent_on_approval(ana, rep, mailoutbox):
    """Ana got three e-mails this week, then wrote back with a question: holding the answer until the
    oldest e-mail ages out (six days) would answer her after she moved on."""
    rep_sent(ana, 6, 4, 1)
    rec = answer_to(ana)
    assert rec.status == Recommendation.Status.PENDING and not rec.held_reason
    approve_recommendation(recommendation=rec, user=rep, version=rec.version)
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False)
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.EXECUTED
    assert [m.to for m in mailoutbox] == [["Ana Ruiz <ana@acme.com>"]]


def test_an_answer_still_counts_towards_the_cap_of_other_outreach(ana):
    rep_sent(ana, 6, 4)
    assert answer_to(ana).status == Recommendation.Status.PENDING
    assert offer(ana).status == Recommendation.Status.HELD  # 2 sent + the answer offered: the cap of 3 is full


def test_an_answer_to_someone_else_is_capped_like_outreach(ana):
    """Abuse: a reply from Bo (or a forged one) does not open Ana's inbox beyond the cap."""
    bo = ContactFactory(account=ana.account, email="bo@acme.com")
    rep_sent(ana, 6, 4, 1)
    rec = answer_to(ana, writer=bo)
    assert rec.status == Recommendation.Status.HELD and "the cap is 3" in rec.held_reason


def test_an_answer_salesai_would_send_on_its_own_is_capped(ana):
    rep_sent(ana, 6, 4, 1)
    rec = answer_to(ana)
    assert caps.send_hold(recommendation=rec, now=clock.now(), approved=True) is None
    hold = caps.send_hold(recommendation=rec, now=clock.now(), approved=False)
    assert hold is not None and hold.scope == "contact"


def test_the_reps_own_emails_do_not_hold_an_answer_awaiting_them(ana):
    rec = answer_to(ana)
    rep_sent(ana, 0.3, 0.2, 0.1)
    assert caps.enforce(account_id=ana.account_id, now=clock.now()) == []
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING


def test_a_manager_can_cap_answers_too(ana):
    policy = OutreachPolicy.current()
    policy.answers_exempt = False
    policy.save()
    rep_sent(ana, 6, 4, 1)
    assert answer_to(ana).status == Recommendation.Status.HELD
