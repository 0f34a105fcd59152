"""The generator's hidden states produce the intended signal patterns (no database needed)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict

import pytest

from simulation import market, story, world


@pytest.fixture(scope="module")
def worlds() -> list[market.World]:
    return [world.generate(seed=seed, accounts=120, days=30) for seed in range(4)]


def _pricing_views_per_account_day(w: market.World) -> dict[str, list[float]]:
    """Pricing views (human, first deliveries) per account-day, grouped by the hidden state that day."""
    by_account = {a.domain: a for a in w.accounts}
    counts: Counter[tuple[str, int]] = Counter()
    for e in w.events:
        if e.is_pricing_view and not e.is_bot and not e.duplicate:
            counts[(e.account, (e.occurred_at - w.start).days)] += 1
    per_state: dict[str, list[float]] = defaultdict(list)
    for a in by_account.values():
        if a.customer:
            continue
        for day, state in enumerate(a.states):
            per_state[state].append(counts[(a.domain, day)])
    return per_state


def test_same_seed_same_world_and_other_seed_other_world():
    first, again, other = (world.generate(seed=s, accounts=30, days=10) for s in (5, 5, 6))
    assert [(e.id, e.deliver_at, e.kind) for e in first.events] == [(e.id, e.deliver_at, e.kind) for e in again.events]
    assert [m.id for m in first.moments] == [m.id for m in again.moments]
    assert [e.id for e in first.events] != [e.id for e in other.events]


def test_evaluating_accounts_view_pricing_far_more_than_cold_ones(worlds):
    cold, evaluating = [], []
    for w in worlds:
        per_state = _pricing_views_per_account_day(w)
        cold += per_state["cold"]
        evaluating += per_state["evaluating"] + per_state["ready_to_buy"]
    assert statistics.fmean(evaluating) > 5 * statistics.fmean(cold)
    assert statistics.fmean(evaluating) > 0.5


def test_every_pricing_moment_rests_on_a_burst_of_pricing_views_of_an_evaluating_account(worlds):
    for w in worlds:
        events = w.events_by_id()
        states = {a.domain: a.states for a in w.accounts}
        for m in (m for m in w.moments if m.kind == "pricing_interest"):
            views = [events[i] for i in m.deciding]
            assert len(views) >= market.PRICING_BURST_VIEWS
            assert all(v.is_pricing_view and not v.is_bot for v in views)
            assert states[m.account][(m.opens_at - w.start).days] in ("evaluating", "ready_to_buy")


def _weekly_active_users(w: market.World, account: market.SimAccount) -> list[int]:
    users: dict[int, set[str]] = defaultdict(set)
    for e in w.events:
        if e.account == account.domain and e.kind == "product_usage" and not e.duplicate:
            users[(e.occurred_at - w.start).days // 7].add(e.user_id)
    return [len(users[week]) for week in range(w.days // 7)]


def test_usage_declines_at_risk_and_rises_when_expanding():
    w = world.generate(seed=11, accounts=400, days=21)
    declines, rises = [], []
    for a in w.accounts:
        if not a.customer:
            continue
        weekly = _weekly_active_users(w, a)
        if all(s == "at_risk_of_churn" for s in a.states):
            declines.append(weekly[-1] - weekly[0])
        if all(s == "expanding" for s in a.states):
            rises.append(weekly[-1] - weekly[0])
    assert declines and rises
    assert statistics.fmean(declines) < 0
    assert sum(d < 0 for d in declines) > 0.8 * len(declines)
    assert statistics.fmean(rises) > 0


def test_expansion_moments_cite_usage_that_crosses_the_seat_goal(worlds):
    expansions = [(w, m) for w in worlds for m in w.moments if m.kind == "expansion"]
    assert expansions
    for w, m in expansions:
        events = w.events_by_id()
        assert all(events[i].kind == "product_usage" for i in m.deciding)


def test_duplicates_repeat_the_id_of_an_earlier_delivery(worlds):
    for w in worlds:
        firsts = {e.id: e for e in w.events if not e.duplicate}
        dupes = [e for e in w.events if e.duplicate]
        assert dupes
        for d in dupes:
            assert d.id in firsts
            assert d.deliver_at > firsts[d.id].deliver_at


def test_late_deliveries_arrive_out_of_order(worlds):
    w = worlds[0]
    late = [e for e in w.events if e.late]
    assert late
    assert all(e.deliver_at - e.occurred_at >= market.dt.timedelta(hours=1) for e in late)
    occurred = [e.occurred_at for e in w.events]  # events are in delivery order
    assert any(later < earlier for earlier, later in zip(occurred, occurred[1:], strict=False))


def test_bots_click_pricing_in_a_burst_and_never_make_a_moment(worlds):
    for w in worlds:
        bots = [e for e in w.events if e.is_bot]
        assert bots
        assert all(e.properties["user_agent"] not in market.HUMAN_USER_AGENTS for e in bots)
        deciding = {i for m in w.moments for i in m.deciding}
        assert not deciding & {e.id for e in bots}


def test_replies_vary_in_wording_and_cover_every_intent(worlds):
    replies = [e for w in worlds for e in w.events if e.kind == "email_reply" and not e.duplicate]
    intents = Counter(e.intent for e in replies)
    assert set(intents) >= {"interested", "question", "objection", "not_now", "auto_reply"}
    human = [e.body for e in replies if e.intent != "auto_reply"]
    assert len(set(human)) > 0.9 * len(human)
    assert all(e.headers.get("Auto-Submitted") == "auto-replied" for e in replies if e.intent == "auto_reply")


def test_replies_answer_an_outreach_e_mail_that_was_sent_first(worlds):
    for w in worlds:
        sent = {e.id: e for e in w.events if e.kind == "email_sent"}
        for reply in (e for e in w.events if e.kind == "email_reply"):
            assert reply.in_reply_to in sent
            assert reply.occurred_at > sent[reply.in_reply_to].occurred_at


def test_hidden_states_follow_their_chains(worlds):
    for w in worlds:
        for a in w.accounts:
            allowed = market.CUSTOMER_STATES if a.customer else market.PROSPECT_STATES
            assert len(a.states) == w.days
            assert set(a.states) <= set(allowed)
            chain = market.CUSTOMER_CHAIN if a.customer else market.PROSPECT_CHAIN
            assert all(b in chain[x] for x, b in zip(a.states, a.states[1:], strict=False))


def test_renewals_need_the_rep_from_each_window_until_the_next(worlds):
    for w in worlds:
        renewals = {a.domain: a.renewal_date for a in w.accounts if a.customer}
        for m in (m for m in w.moments if m.kind in ("renewal_window", "churn_risk") and not m.deciding):
            days_left = (renewals[m.account] - m.at.date()).days
            assert days_left in market.RENEWAL_WINDOWS_DAYS or m.at == w.start
            assert 0 < days_left <= max(market.RENEWAL_WINDOWS_DAYS)
            assert m.closes_at.date() <= renewals[m.account]
        inside = [a for a in w.accounts if a.customer and 0 < (a.renewal_date - w.start.date()).days <= 90]
        assert {a.domain for a in inside} <= {m.account for m in w.moments if m.at == w.start}


# --- the market answers what salesai sends ---------------------------------------------------------


def _sends(w: market.World, states: set[str]):
    """(account, instant) of a 10:00 send on every weekday an account is in one of ``states``."""
    for a in w.accounts:
        for day, state in enumerate(a.states):
            at = w.start + dt.timedelta(days=day, hours=10)
            if state in states and market.is_business_day(at.date()):
                yield a, at


def _react(w, a, at, touch=1, action="pricing_outreach"):
    return story.react_to_email(w, a, contact_email=a.contacts[0].email, message_id="<m1@salesai.example>",
                                subject="Plans", body="Hi", sent_at=at, touch=touch, action=action)  # fmt: skip


def test_ready_buyers_answer_salesai_s_e_mails_far_more_often_than_cold_accounts(worlds):
    w = worlds[0]
    rate = {}
    for label, states in (("cold", {"cold"}), ("warm", {"evaluating", "ready_to_buy"})):
        outcomes = [bool(_react(w, a, at)[0]) for a, at in _sends(w, states) if not a.customer]
        rate[label] = sum(outcomes) / len(outcomes)
    assert rate["cold"] < 0.12 < 0.3 < rate["warm"]


def test_an_answer_is_threaded_to_salesai_s_e_mail_and_silence_makes_a_follow_up_due(worlds):
    w = worlds[0]
    replies = silences = 0
    for a, at in list(_sends(w, {"evaluating", "ready_to_buy", "cold"}))[:400]:
        events, moments = _react(w, a, at)
        assert (events, moments) == _react(w, a, at)  # deterministic
        if events:
            replies += 1
            assert events[0].kind == "email_reply" and events[0].in_reply_to == "m1@salesai.example"
            assert events[0].deliver_at > at and events[0].contact == a.contacts[0].email
            assert all(m.deciding == (events[0].id,) for m in moments)
        else:
            silences += 1
            (due,) = moments
            assert due.kind == "follow_up_due" and due.deciding == ("m1@salesai.example",)
            assert due.at == market.add_business_days(at, market.FOLLOW_UP_AFTER_BUSINESS_DAYS)
    assert replies and silences


def test_after_the_last_unanswered_touch_the_market_wants_another_contact(worlds):
    w = worlds[0]
    silent = next((a, at) for a, at in _sends(w, {"cold"}) if not _react(w, a, at, touch=3)[0])
    _events, (moment,) = _react(w, *silent, touch=3)
    assert moment.kind == "sequence_exhausted"


def test_an_out_of_office_is_not_activity_that_keeps_an_account_from_going_dark():
    """One market, one rule: an auto-reply is not a person answering (the driver does not count it as an
    answer, salesai does not count it as engagement), so it does not push going dark back either."""
    w = world.generate(seed=2, accounts=2, days=1)
    teller = story.AccountStory(w, w.accounts[0], seed=2)
    day = w.start.date()
    for offset in range(5):  # engaged: page views on five days
        teller.emit(
            "page_view", "segment", dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(10), tzinfo=dt.UTC)
        )
    sent = teller.emit("email_sent", "signed", dt.datetime.combine(day + dt.timedelta(days=10), dt.time(9), tzinfo=dt.UTC),
                       contact=w.accounts[0].contacts[0].email)  # fmt: skip
    teller.auto_reply(sent, w.accounts[0].contacts[0])
    assert teller.activity_days == [day + dt.timedelta(days=n) for n in range(5)]
    teller.check_going_dark(day + dt.timedelta(days=4 + market.DARK_AFTER_DAYS))
    assert [m.kind for m in teller.moments] == ["going_dark"]


def test_the_reps_answer_to_a_reply_needs_a_follow_up_if_the_person_goes_quiet(worlds):
    """One market, one rule: an answer is an e-mail like any other; as after salesai's answers
    (react_to_email), silence makes a follow-up due three business days later."""
    for w in worlds:
        answers = [e for e in w.events if e.kind == "email_sent" and e.in_reply_to and not e.duplicate]
        assert answers
        follow_ups = {m.deciding[0]: m for m in w.moments if m.kind == "follow_up_due" and m.deciding}
        for answer in answers:
            if market.add_business_days(answer.occurred_at, market.FOLLOW_UP_AFTER_BUSINESS_DAYS) >= w.end:
                continue  # due after the world ends
            due = follow_ups[answer.id]
            assert due.opens_at == market.add_business_days(answer.occurred_at, market.FOLLOW_UP_AFTER_BUSINESS_DAYS)
            assert due.closes_at == due.opens_at + dt.timedelta(days=5)
