"""The rep's daily inbox budget: at most ``rep_daily_budget`` new recommendations enter a rep's inbox per
day (their local day); the lowest priorities wait for the next day, and a more urgent one arriving later
takes the place of the lowest still awaiting the rep (``caps.budget_hold``, applied when routing)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
import time_machine

from accounts.tests.factories import AccountFactory, UserFactory
from recommendations.models import OutreachPolicy, Recommendation
from recommendations.services import analysis
from recommendations.services.review import reject_recommendation, route_recommendation
from recommendations.tests.factories import RecommendationFactory
from trust.tests.factories import TrustPolicyFactory, give_record

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)  # Wednesday
THURSDAY = dt.datetime(2026, 11, 19, 0, 0, tzinfo=dt.UTC)
PENDING, HELD = Recommendation.Status.PENDING, Recommendation.Status.HELD


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rep():
    return UserFactory(username="rita", first_name="Rita", last_name="Rep")


def set_budget(n: int) -> None:
    policy = OutreachPolicy.current()
    policy.rep_daily_budget = n
    policy.save()


def offer(rep, priority: int, action_type: str = "pricing_outreach", **fields) -> Recommendation:
    """A new recommendation at an account of ``rep`` (each its own account: no account cap applies)."""
    rec = RecommendationFactory(account=AccountFactory(owner=rep), priority=priority, action_type=action_type, **fields)
    return route_recommendation(recommendation=rec)


def entered_today(rep) -> list[int]:
    rows = Recommendation.objects.filter(account__owner=rep, status=PENDING, entered_inbox_at__isnull=False)
    return sorted(rows.values_list("priority", flat=True))


def test_at_most_the_budget_of_new_recommendations_enter_a_reps_inbox_per_day(rep):
    set_budget(3)
    assert [offer(rep, p).status for p in (60, 50, 40)] == [PENDING] * 3
    late = offer(rep, 30)
    assert late.status == HELD and late.held_until == THURSDAY
    assert late.held_reason == (
        "3 new recommendations entered Rita Rep's inbox today (the daily budget) and this one is among the lowest "
        "priorities: back on Thu 19 Nov, when their day starts"
    )
    assert late.entered_inbox_at is None


def test_deciding_on_todays_recommendations_does_not_make_room_for_more(rep):
    """A budget of new items a day, not a limit on how many wait at once: the old reading let a rep who
    worked fast get an endless stream."""
    set_budget(3)
    first, *_ = [offer(rep, p) for p in (60, 50, 40)]
    reject_recommendation(recommendation=first, user=rep, reason="not_relevant")
    assert offer(rep, 30).status == HELD


def test_a_more_urgent_one_arriving_later_takes_the_place_of_the_lowest(rep):
    set_budget(3)
    _, _, lowest = [offer(rep, p) for p in (60, 50, 40)]
    urgent = offer(rep, 90, action_type="speed_to_lead")
    lowest.refresh_from_db()
    assert (urgent.status, lowest.status, lowest.held_until) == (PENDING, HELD, THURSDAY)
    assert "; a more urgent one took its place: back on Thu 19 Nov" in lowest.held_reason
    assert entered_today(rep) == [50, 60, 90]
    assert offer(rep, 45).status == HELD  # lower than every one awaiting the rep: it waits


def test_the_held_come_back_the_next_day_highest_first(rep, frozen):
    set_budget(3)
    for p in (60, 50, 40, 30, 20):
        offer(rep, p)
    frozen.move_to(THURSDAY - dt.timedelta(minutes=5))
    assert analysis.sweep_due_accounts(time_budget=None).released == 0
    frozen.move_to(THURSDAY + dt.timedelta(minutes=5))
    assert analysis.sweep_due_accounts(time_budget=None).released == 2
    back = Recommendation.objects.filter(account__owner=rep, priority__in=(30, 20))
    assert {(r.status, r.entered_inbox_at) for r in back} == {(PENDING, THURSDAY + dt.timedelta(minutes=5))}
    assert offer(rep, 10).status == PENDING  # Thursday's budget: 2 of 3 used
    assert offer(rep, 5).status == HELD


def test_the_day_is_the_reps_local_day(frozen):
    berlin = UserFactory(username="bea", first_name="Bea", last_name="Berg", time_zone="Europe/Berlin")
    set_budget(2)
    frozen.move_to(dt.datetime(2026, 11, 18, 22, 30, tzinfo=dt.UTC))  # 23:30 in Berlin, Wednesday
    offer(berlin, 60)
    offer(berlin, 50)
    held = offer(berlin, 40)
    assert held.held_until == dt.datetime(2026, 11, 18, 23, 0, tzinfo=dt.UTC)  # Thursday 00:00 in Berlin
    frozen.move_to(dt.datetime(2026, 11, 18, 23, 5, tzinfo=dt.UTC))  # still Wednesday in UTC
    assert offer(berlin, 30).status == PENDING


def test_what_salesai_sends_on_its_own_neither_counts_nor_waits(rep):
    TrustPolicyFactory(domain="follow_up", review_sample_rate=0.0)
    give_record("follow_up", approved=80)
    set_budget(2)
    offer(rep, 60)
    offer(rep, 50)
    autonomous = offer(rep, 10, action_type="follow_up", playbook="unanswered_outreach", stakes=Decimal("1000"))
    assert autonomous.status == Recommendation.Status.SCHEDULED
    assert autonomous.entered_inbox_at is None


def test_an_update_of_one_already_awaiting_the_rep_is_never_held_by_the_budget(rep):
    set_budget(2)
    waiting = offer(rep, 20)
    offer(rep, 60)
    route_recommendation(recommendation=waiting)  # e.g. new evidence changed it: routed again
    waiting.refresh_from_db()
    assert waiting.status == PENDING


def test_a_flood_never_puts_more_than_the_budget_in_front_of_the_rep_and_keeps_the_most_urgent(rep):
    """Abuse: 60 findings in one day (a noisy integration, a bulk import) against the default budget of
    25: exactly the 25 most urgent await the rep, whatever order they came in; the rest wait a day."""
    priorities = list(range(60))
    random.Random(16).shuffle(priorities)
    for p in priorities:
        offer(rep, p)
    assert entered_today(rep) == list(range(35, 60))
    held = Recommendation.objects.filter(account__owner=rep, status=HELD)
    assert held.count() == 35 and set(held.values_list("held_until", flat=True)) == {THURSDAY}
    assert analysis.sweep_due_accounts(time_budget=None).released == 0  # not back the same day


def test_the_budget_is_at_least_one_in_the_admin(admin_client):
    policy = OutreachPolicy.current()
    form = {
        "contact_cap": 3, "contact_window_days": 7, "account_daily_cap": 2, "rep_daily_budget": 0,
        "working_hours_start": 9, "working_hours_end": 17, "human_reply_pause_days": 14,
        "ai_disclosure_text": "Written with an AI assistant.",
    }  # fmt: skip
    response = admin_client.post(f"/admin/recommendations/outreachpolicy/{policy.pk}/change/", form)
    assert response.status_code == 200 and "Ensure this value is greater than or equal to 1." in response.text
    policy.refresh_from_db()
    assert policy.rep_daily_budget == 25


def test_each_released_recommendation_commits_on_its_own(rep, frozen):
    """Routing locks the owner's row; a sweep holding several reps' rows in one transaction deadlocked
    with another sweep on PostgreSQL. One transaction per recommendation: what was released stays
    released when a later one fails."""
    from recommendations.services import caps
    from recommendations.services.review import route_recommendation as route

    other = UserFactory(username="otto")
    set_budget(1)
    offer(rep, 60), offer(other, 60)
    held = [offer(rep, 50), offer(other, 40)]
    assert [r.status for r in held] == [HELD, HELD]
    frozen.move_to(THURSDAY + dt.timedelta(minutes=5))
    calls = []

    def route_then_fail(*, recommendation):
        calls.append(recommendation.priority)
        if len(calls) == 2:
            raise RuntimeError("the second routing fails")
        return route(recommendation=recommendation)

    with pytest.raises(RuntimeError):
        caps.release_held(now=THURSDAY + dt.timedelta(minutes=5), route=route_then_fail)
    assert calls == [50, 40]  # highest first
    assert [Recommendation.objects.get(pk=r.pk).status for r in held] == [PENDING, HELD]
    assert caps.release_held(now=THURSDAY + dt.timedelta(minutes=5), route=route) == 1
