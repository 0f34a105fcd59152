"""The scorer counts a perfect, an empty and a noisy system correctly (no database needed)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from simulation import baselines, market, scoring, world


@pytest.fixture(scope="module")
def w() -> market.World:
    return world.generate(seed=21, accounts=150, days=28)


def perfect(w: market.World) -> tuple[list[scoring.Sighting], list[scoring.InboxSnapshot]]:
    """Exactly one fitting recommendation per moment, at the moment, citing what decided it, gone when
    the moment closes; each morning's inbox shows exactly the open moments."""
    sightings = []
    for m in w.moments:
        common = {"rec_id": m.id, "account": m.account, "rep": m.rep, "action_type": m.acceptable[0]}
        sightings.append(
            scoring.Sighting(
                **common, status="pending", at=m.at, evidence=frozenset(m.deciding), facts=frozenset(m.facts)
            )
        )
        sightings.append(scoring.Sighting(**common, status="withdrawn", at=m.closes_at))
    snapshots = []
    for morning in baselines.mornings(w):
        for rep in w.reps:
            items = tuple(
                (m.id, m.account, m.acceptable[0]) for m in w.moments if m.rep == rep and m.at <= morning <= m.closes_at
            )
            snapshots.append(scoring.InboxSnapshot(rep=rep, at=morning, items=items))
    return sightings, snapshots


def _score(w, name, sightings, snapshots):
    return scoring.score(system=name, moments=w.moments, sightings=sightings, snapshots=snapshots,
                         reps=len(w.reps), days=w.days)  # fmt: skip


def test_a_perfect_system_scores_full_marks(w):
    result = _score(w, "perfect", *perfect(w))
    assert result.moments > 100
    assert result.recall == 1.0
    assert result.precision_at_k == 1.0
    assert result.false_alarms == 0
    assert result.median_latency == 0.0
    assert result.evidence_rate == 1.0
    assert all(kind["recall"] == 1.0 for kind in result.by_kind.values())


def test_an_empty_system_surfaces_nothing(w):
    result = _score(w, "empty", [], [scoring.InboxSnapshot(rep=r, at=w.start, items=()) for r in w.reps])
    assert result.recall == 0.0
    assert result.surfaced == 0
    assert result.precision_at_k is None
    assert result.empty_snapshots == len(w.reps)
    assert result.false_alarms == 0
    assert len(result.missed) == result.moments


def test_a_noisy_system_scores_in_between(w):
    rng = random.Random(1)
    sightings, snapshots = perfect(w)
    kept = [s for s in sightings if rng.random() < 0.6 or s.status != "pending"]
    noise = []
    for n in range(200):
        account = rng.choice([a for a in w.accounts if not a.customer])
        at = w.start + dt.timedelta(hours=rng.randint(0, 24 * w.days))
        common = {"rec_id": f"noise{n}", "account": account.domain, "rep": account.rep, "action_type": "expansion"}
        noise += [
            scoring.Sighting(**common, status="pending", at=at),
            scoring.Sighting(**common, status="rejected", at=at + dt.timedelta(hours=1)),
        ]
    noisy_snapshots = [
        scoring.InboxSnapshot(rep=s.rep, at=s.at, items=(("noise", w.accounts[0].domain, "check_in"), *s.items))
        for s in snapshots
    ]
    result = _score(w, "noisy", kept + noise, noisy_snapshots)
    assert 0.4 < result.recall < 0.8
    assert 0 < result.precision_at_k < 1
    assert result.false_alarms == 200
    assert result.false_alarms_per_rep_day == pytest.approx(200 / (len(w.reps) * w.days))
    # every morning's planted check-in is a miss, named with its card, so a kept run can be looked up
    assert len(result.precision_miss_items) == sum(1 for s in noisy_snapshots if s.items)
    assert {item["rec_id"] for item in result.precision_miss_items} == {"noise"}
    assert sum(result.precision_misses.values()) == len(result.precision_miss_items)


def test_late_recommendations_count_their_delay_and_wrong_types_do_not_count(w):
    m = next(m for m in w.moments if m.kind == "reply_needs_answer")
    common = {"account": m.account, "rep": m.rep}
    sightings = [
        scoring.Sighting(
            rec_id="late", action_type="reply", status="pending", at=m.at + dt.timedelta(minutes=30), **common
        ),
        scoring.Sighting(rec_id="wrong", action_type="expansion", status="pending", at=m.at, **common),
    ]
    result = scoring.score(system="x", moments=[m], sightings=sightings, snapshots=[], reps=1, days=1)
    assert result.surfaced == 1
    assert result.median_latency == 30 * 60
    assert result.evidence_rate == 0.0
    assert result.false_alarms == 1  # the expansion card matched nothing
    assert result.false_alarms_by_action == {"expansion": 1}


def test_a_recommendation_withdrawn_before_the_moment_opens_does_not_surface_it(w):
    m = next(m for m in w.moments if m.kind == "pricing_interest")
    common = {"rec_id": "r", "account": m.account, "rep": m.rep, "action_type": "pricing_outreach"}
    sightings = [
        scoring.Sighting(**common, status="pending", at=m.opens_at - dt.timedelta(days=2)),
        scoring.Sighting(**common, status="withdrawn", at=m.opens_at - dt.timedelta(days=1)),
    ]
    result = scoring.score(system="x", moments=[m], sightings=sightings, snapshots=[], reps=1, days=1)
    assert result.surfaced == 0
    assert result.false_alarms == 1


def test_autonomous_actions_are_right_only_when_they_meet_a_moment(w):
    m = next(m for m in w.moments if m.kind == "follow_up_due")
    common = {"account": m.account, "rep": m.rep, "action_type": "follow_up"}
    sightings = [
        scoring.Sighting(rec_id="good", status="executed", at=m.at, autonomous=True, **common),
        scoring.Sighting(
            rec_id="bad", status="executed", at=m.closes_at + dt.timedelta(days=3), autonomous=True, **common
        ),
    ]
    result = scoring.score(system="x", moments=[m], sightings=sightings, snapshots=[], reps=1, days=1)
    assert (result.autonomous_actions, result.autonomous_right) == (2, 1)


def test_baselines_trade_speed_for_noise(w):
    reactive = _score(w, "reactive", *baselines.reactive(w))
    naive = _score(w, "naive", *baselines.naive(w))
    # the reactive rep sees nothing before the next morning check
    assert reactive.median_event_latency > 3600
    # naive alerting is instant on pricing but blind to every other kind of moment
    assert naive.by_kind["pricing_interest"]["recall"] > 0.9
    assert naive.by_kind["pricing_interest"]["median_seconds_to_surface"] == 0
    assert all(v["surfaced"] == 0 for k, v in naive.by_kind.items() if k != "pricing_interest")
    assert naive.false_alarms > 0 and reactive.false_alarms > 0


def test_the_learning_report_scores_the_shown_confidence_beside_a_constant():
    from simulation.learning import _brier_pair

    assert _brier_pair([(0.9, 1), (0.2, 0)]) == pytest.approx([(0.01 + 0.04) / 2, 0.25])
    assert _brier_pair([]) is None
