"""Each learning rule on small hand-made histories, without the database or the simulator."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from recommendations.learning import calibration, contacts, fit, peers, timing
from recommendations.learning.calibration import Labelled

NOW = dt.datetime(2026, 3, 30, 9, tzinfo=dt.UTC)


def _row(review="approved", reason="", *, owner=1, seniority="vp", prior=0.6, days_ago=1.0, **features):
    return Labelled(playbook="pricing_interest", features={"prior": prior, "urgency": 0.5, **features}, owner=owner,
                    seniority=seniority, review=review, reject_reason=reason, at=NOW - dt.timedelta(days=days_ago))  # fmt: skip


def _shown(params, prior=0.6, owner=1, seniority="vp"):
    return calibration.probability(params, prior=prior, features={"prior": prior, "urgency": 0.5}, owner=owner,
                                   seniority=seniority)  # fmt: skip


def test_three_outcomes_do_not_swing_the_confidence():
    params, _ = calibration.fit_playbook([_row("rejected", "not_relevant")] * 3, prior=0.6, now=NOW)
    assert params["coef"] is None  # far too few to fit a regression
    assert 0.5 < _shown(params) < 0.6  # pulled a little, not to zero


def test_no_model_shows_the_playbooks_own_confidence():
    assert calibration.probability(None, prior=0.7, features={}, owner=1, seniority="vp") == 0.7


def test_many_rejections_bring_it_down_and_approvals_up():
    low, _ = calibration.fit_playbook([_row("rejected", "not_relevant")] * 200, prior=0.6, now=NOW)
    high, _ = calibration.fit_playbook([_row()] * 200, prior=0.6, now=NOW)
    assert _shown(low) < 0.15 and _shown(high) > 0.9


def test_bad_draft_counts_against_the_draft_not_the_trigger():
    rows = [_row("rejected", "bad_draft")] * 50
    params, metrics = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert params["n"] == 0 and _shown(params) == 0.6
    assert metrics["reject_reasons"] == {"bad_draft": 50}
    assert metrics["trigger_precision"] is None


def test_not_relevant_and_already_handled_count_against_the_triggers_precision():
    rows = [_row()] * 6 + [_row("rejected", "not_relevant")] * 3 + [_row("rejected", "already_handled")]
    rows += [_row("rejected", "wrong_contact")] * 5  # about the person, not the trigger
    _, metrics = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert metrics["trigger_precision"] == pytest.approx(0.6)


def test_a_reps_rejections_of_one_role_are_learnt_and_the_rest_stays_high():
    rng = random.Random(3)
    rows = []
    for _ in range(300):
        owner, seniority = rng.choice([1, 2]), rng.choice(["vp", "director"])
        rejects = owner == 1 and seniority == "director"
        rows.append(_row("rejected" if rejects else "approved", "wrong_contact" if rejects else "", owner=owner,
                         seniority=seniority, days_ago=rng.uniform(0, 20)))  # fmt: skip
    params, metrics = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert params["coef"] is not None
    assert _shown(params, owner=1, seniority="director") < 0.25
    assert _shown(params, owner=2, seniority="director") > 0.75
    assert metrics["brier"] < 0.8 * metrics["brier_base_rate"]


def _probability(params, **features):
    return calibration.probability(params, prior=0.6, features={"prior": 0.6, "urgency": 0.5, **features}, owner=1,
                                   seniority="vp")  # fmt: skip


def test_evidence_spread_over_many_days_is_learnt_apart_from_a_burst():
    rng = random.Random(5)
    rows = []
    for _ in range(240):
        days = rng.choice([1, 1, 2, 4, 5])
        trickle = days >= 4  # three pricing visits over most of a week: mostly not a buying moment
        rejected = rng.random() < (0.8 if trickle else 0.05)
        rows.append(_row("rejected" if rejected else "approved", "not_relevant" if rejected else "", evidence=3,
                         evidence_days=days, days_ago=rng.uniform(0, 20)))  # fmt: skip
    params, metrics = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert _probability(params, evidence=3, evidence_days=1) > 0.85
    assert _probability(params, evidence=3, evidence_days=5) < 0.4
    assert metrics["brier"] < 0.8 * metrics["brier_base_rate"]


def test_what_waited_long_is_learnt_to_be_handled_already():
    rng = random.Random(6)
    rows = []
    for _ in range(240):
        waited = rng.choice([0.0, 0.0, 1.0, 3.0, 6.0])
        stale = waited >= 3 and rng.random() < 0.7
        rows.append(_row("rejected" if stale else "approved", "already_handled" if stale else "", waited_days=waited,
                         days_ago=rng.uniform(0, 20)))  # fmt: skip
    params, _ = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert _probability(params, waited_days=0) > _probability(params, waited_days=6) + 0.3


def test_one_action_of_a_playbook_is_judged_apart_from_the_other():
    rows = [_row(action="follow_up", days_ago=i / 20) for i in range(120)]
    rows += [_row("rejected", "not_relevant", action="change_contact", days_ago=i / 10) for i in range(60)]
    params, _ = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert _probability(params, action="follow_up") > 0.8 > 0.3 > _probability(params, action="change_contact")


def test_one_kind_of_finding_is_judged_apart_from_the_others_of_its_playbook():
    rows = [_row(code="reply_question", days_ago=i / 20) for i in range(100)]
    rows += [_row("rejected", "not_relevant", code="reply_objection", days_ago=i / 10) for i in range(40)]
    rows += [_row(code="reply_objection", days_ago=i / 10) for i in range(10)]
    params, _ = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert _probability(params, code="reply_question") > 0.85 > 0.4 > _probability(params, code="reply_objection")


def test_a_new_action_of_a_known_playbook_is_shrunk_like_a_new_playbook():
    rows = [_row(action="follow_up", days_ago=i / 20) for i in range(200)]
    rows += [_row("rejected", "not_relevant", action="change_contact", days_ago=0.5)] * 3
    params, _ = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert params["actions"] == {"follow_up": 200, "change_contact": 3}
    assert _probability(params, action="change_contact") > 0.5  # three reviews do not swing it
    assert _probability(params, action="never_seen") == calibration.shrink_target(params, 0.6)


def test_a_value_far_outside_the_training_data_does_not_extrapolate_wildly():
    rng = random.Random(8)
    rows = []
    for _ in range(300):  # a third more evidence, a little more often approved: a gentle slope
        evidence = rng.choice([2, 3])
        rejected = rng.random() < (0.5 if evidence == 2 else 0.3)
        rows.append(_row("rejected" if rejected else "approved", "not_relevant", evidence=evidence,
                         days_ago=rng.uniform(0, 10)))  # fmt: skip
    params, _ = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    # ten items lie 15 standard deviations out: read as 3, not as near-certainty
    assert _probability(params, evidence=10) < 0.9


def test_the_features_read_the_shape_of_the_evidence():
    from types import SimpleNamespace

    from recommendations.learning.judge import features_of
    from recommendations.playbooks.base import EvidenceItem

    day = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    evidence = tuple(EvidenceItem(statement="", kind="page_view", occurred_at=day + dt.timedelta(hours=h))
                     for h in (0, 1, 50))  # fmt: skip
    finding = SimpleNamespace(
        confidence=0.6, urgency=0.5, evidence=evidence, action_type="pricing_outreach", code="pricing_burst"
    )
    features = features_of(finding, SimpleNamespace(intent_score=0.4), SimpleNamespace(fit_score=None, pk=7))
    assert (features["evidence"], features["evidence_days"], features["action"]) == (3, 2, "pricing_outreach")
    assert features["code"] == "pricing_burst"


def test_recent_reviews_outweigh_old_ones_after_a_drift():
    old = [_row("rejected", "not_relevant", days_ago=25)] * 60
    recent = [_row(days_ago=1)] * 40
    params, _ = calibration.fit_playbook(old + recent, prior=0.5, now=NOW)
    assert params["base_rate"] > 0.6  # 40 % approvals overall, but the recent ones all approved


def _accounts(n, rng):
    rows, labels = [], []
    for i in range(n):
        segment = rng.choice(["smb", "mid_market", "enterprise"])
        seats = rng.choice([None, 10, 80, 400])
        usage = rng.choice([0, 50])
        good = (segment == "mid_market") + (seats == 80) + (usage > 0)
        rows.append(fit.AccountRow(id=i, segment=segment, plan="", seats=seats, arr=0.0, usage_28d=usage))
        labels.append(int(rng.random() < [0.05, 0.3, 0.7, 0.95][good]))
    return rows, labels


def test_fit_is_neutral_with_too_few_won_and_lost_deals_and_says_so():
    rows, labels = _accounts(10, random.Random(1))
    params, _ = fit.train(rows, labels)
    assert fit.score(params, rows[0]) is None
    assert "neutral" in fit.summary(params, rows[0]) and "20 needed" in fit.summary(params, rows[0])


def test_fit_learns_from_won_and_lost_deals_and_names_its_factors():
    rows, labels = _accounts(300, random.Random(2))
    params, metrics = fit.train(rows, labels)
    assert metrics["auc_train"] > 0.75
    best = fit.AccountRow(id=0, segment="mid_market", plan="", seats=80, arr=0.0, usage_28d=50)
    worst = fit.AccountRow(id=1, segment="smb", plan="", seats=None, arr=0.0, usage_28d=0)
    assert fit.score(params, best) > 0.8 > 0.2 > fit.score(params, worst)
    assert fit.summary(params, best).startswith("fits: ")
    assert "mid-market" in fit.summary(params, best) and "40–200 seats" in fit.summary(params, best)
    assert "against: " in fit.summary(params, worst) and "no product usage" in fit.summary(params, worst)


def test_peers_rationale_counts_positive_outcomes_of_the_closest_peers():
    params = {"peers": {"mid_market|director": [14, 6], "mid_market|": [30, 10], "|director": [40, 12]}}
    text = peers.rationale(params, noun="pricing-interest e-mails", segment="mid_market", seniority="director")
    assert text.startswith("Of 14 pricing-interest e-mails to mid-market directors in the last 90 days, 6 got")
    assert "(43%)" in text
    fewer = {"peers": {"smb|vp": [3, 1], "smb|": [12, 3]}}
    assert "Of 12 pricing-interest e-mails to SMB accounts" in peers.rationale(
        fewer, noun="pricing-interest e-mails", segment="smb", seniority="vp"
    )


def test_peers_rationale_says_plainly_when_there_is_not_enough_history():
    text = peers.rationale({"peers": {"smb|vp": [3, 1]}}, noun="check-ins", segment="smb", seniority="vp")
    assert text.startswith("Not enough history yet: 3 similar check-ins") and "10 needed" in text


def test_confidence_note_says_what_it_is_the_probability_of():
    assert peers.confidence_note(0.72, {"sent": 100, "sent_positive": 31}) == (
        "72% chance a rep approves it; 31% of these got a positive reply or better"
    )
    assert "too few sent yet" in peers.confidence_note(0.5, {"sent": 2, "sent_positive": 1})


def test_wrong_contact_is_learnt_by_role_for_that_rep_and_by_person():
    params = {"roles": {contacts.role_key(1, "pricing_interest", "director"): [3, 4]},
              "people": {contacts.person_key(9, 77, "pricing_interest"): 1}}  # fmt: skip
    args = {"playbook": "pricing_interest", "account_id": 5, "contact_id": 1}
    assert contacts.avoided(params, owner=1, seniority="director", **args)
    assert not contacts.avoided(params, owner=2, seniority="director", **args)  # another rep's taste
    assert not contacts.avoided(params, owner=1, seniority="vp", **args)
    assert contacts.avoided(params, owner=2, playbook="pricing_interest", account_id=9, contact_id=77, seniority="vp")


def test_a_single_wrong_contact_rejection_of_a_role_does_not_ban_it():
    params = {"roles": {contacts.role_key(1, "pricing_interest", "director"): [1, 1]}, "people": {}}
    assert not contacts.avoided(params, owner=1, playbook="pricing_interest", account_id=5, contact_id=1,
                                seniority="director")  # fmt: skip


def test_wrong_timing_retimes_that_playbook_for_that_kind_of_account_only():
    rows = [{"playbook": "renewal", "segment": "smb", "reject_reason": "wrong_timing"}] * 3
    rows += [{"playbook": "renewal", "segment": "smb", "reject_reason": ""}] * 4
    rows += [{"playbook": "renewal", "segment": "enterprise", "reject_reason": ""}] * 9
    params = timing.timing_params(rows)
    assert timing.delay_for(params, playbook="renewal", segment="smb") == dt.timedelta(days=timing.DELAY_DAYS)
    assert timing.delay_for(params, playbook="renewal", segment="enterprise") is None
    assert timing.delay_for(params, playbook="check_in", segment="smb") is None


def test_an_account_that_keeps_tripping_a_playbook_for_nothing_is_learnt():
    rng = random.Random(5)
    rows = []
    for _ in range(300):
        account = rng.randint(1, 30)
        curious = account <= 5  # looks at pricing, never buys: its reps reject every time
        rows.append(_row("rejected" if curious else "approved", "not_relevant" if curious else "",
                         account=account, days_ago=rng.uniform(0, 20)))  # fmt: skip
    params, _ = calibration.fit_playbook(rows, prior=0.6, now=NOW)

    def shown(account):
        return calibration.probability(params, prior=0.6, features={"prior": 0.6, "urgency": 0.5, "account": account},
                                       owner=1, seniority="vp")  # fmt: skip

    assert shown(3) < 0.3 and shown(20) > 0.8
    assert 0.5 < shown(99) < 0.95  # an account never seen: the playbook's rate


def _replayed(n: int, *, hit: bool, fires_at: dict[tuple[str, float], bool]):
    from recommendations.learning.thresholds import Replayed

    return [Replayed(hit=hit, false_alarm=not hit, fires=fires_at)] * n


def test_threshold_raise_proposed_keeps_false_alarms_under_budget_and_the_hits():
    from recommendations.learning.thresholds import Tunable, propose_for

    visits = Tunable("min_visits", 1, 3, 10)
    three = {("min_visits", 4.0): False, ("min_visits", 5.0): False, ("min_visits", 6.0): False}
    four = {("min_visits", 4.0): True, ("min_visits", 5.0): False, ("min_visits", 6.0): False}
    rows = _replayed(12, hit=False, fires_at=three) + _replayed(2, hit=True, fires_at=three)
    rows += _replayed(10, hit=True, fires_at=four) + _replayed(2, hit=False, fires_at=four)
    found = propose_for(rows, current={"min_visits": 3}, tunables=[visits], rep_days=10, limit=0.5)
    assert (found["param"], found["proposed"], found["over_budget"]) == ("min_visits", 4, True)
    assert found["false_alarms_per_rep_day"] == [1.4, 0.2] and found["hits"] == [12, 10]


def test_the_change_that_leaves_fewest_false_alarms_wins_among_parameters():
    from recommendations.learning.thresholds import Tunable, propose_for

    tunables = [Tunable("min_visits", 1, 1, 10), Tunable("window_days", -1, 5, 1)]
    # scattered visits (false alarms) stop firing once the window is 3 days or less; a burst always fires
    scattered = {("min_visits", 4.0): False, **{("window_days", d): d >= 4 for d in (6.0, 5.0, 4.0, 3.0, 2.0)}}
    burst = {("min_visits", 4.0): False, **{("window_days", d): True for d in (6.0, 5.0, 4.0, 3.0, 2.0)}}
    rows = _replayed(15, hit=False, fires_at=scattered) + _replayed(20, hit=True, fires_at=burst)
    found = propose_for(rows, current={"min_visits": 3, "window_days": 7}, tunables=tunables, rep_days=10, limit=0.5)
    assert (found["param"], found["proposed"]) == ("window_days", 3)  # the smallest step with none left
    assert found["false_alarms"] == [15, 0] and found["hits"] == [20, 20]


def test_under_budget_only_a_nearly_free_cut_is_proposed():
    from recommendations.learning.thresholds import Tunable, propose_for

    window = [Tunable("window_days", -1, 1, 1)]
    noise = {("window_days", 6.0): False}
    kept = {("window_days", 6.0): True}
    free = _replayed(4, hit=False, fires_at=noise) + _replayed(40, hit=True, fires_at=kept)
    found = propose_for(free, current={"window_days": 7}, tunables=window, rep_days=100, limit=0.5)
    assert found["over_budget"] is False and found["false_alarms"] == [4, 0]
    costly = free + _replayed(5, hit=True, fires_at=noise)  # it would lose 5 of 45 hits (over 5 %)
    assert propose_for(costly, current={"window_days": 7}, tunables=window, rep_days=100, limit=0.5) is None
    tiny = _replayed(2, hit=False, fires_at=noise) + _replayed(40, hit=True, fires_at=kept)
    assert propose_for(tiny, current={"window_days": 7}, tunables=window, rep_days=100, limit=0.5) is None


def test_no_threshold_proposal_when_it_would_lose_the_hits_or_the_sample_is_small():
    from recommendations.learning.thresholds import Tunable, propose_for

    visits = [Tunable("min_visits", 1, 1, 10)]
    never = {("min_visits", 4.0): False}
    costly = _replayed(10, hit=True, fires_at=never) + _replayed(20, hit=False, fires_at=never)
    assert propose_for(costly, current={"min_visits": 3}, tunables=visits, rep_days=10, limit=0.5) is None
    few = _replayed(5, hit=True, fires_at={("min_visits", 4.0): True}) + _replayed(10, hit=False, fires_at=never)
    assert propose_for(few, current={"min_visits": 3}, tunables=visits, rep_days=10, limit=0.5) is None


def test_candidates_stop_at_the_strictest_value():
    from recommendations.learning.thresholds import Tunable

    assert Tunable("window_days", -1, 6, 1).candidates(3) == [2, 1]
    assert Tunable("min_visits", 1, 3, 10).candidates(3) == [4, 5, 6]
    assert Tunable("min_amount", 5000, 5, 30000).candidates(25000) == [30000]


def test_a_model_fitted_on_other_features_falls_back_to_its_base_rate():
    params = {"n": 100, "features": ["prior"], "coef": [3.0], "intercept": 0.0, "mean": [0.0], "scale": [1.0],
              "base_rate": 0.7, "rates": {}}  # fmt: skip
    assert calibration.data_probability(params, [0.5] * len(calibration.FEATURES)) == 0.7


def test_the_shown_confidence_is_scored_against_the_decisions_it_preceded():
    metrics = calibration.shown_metrics([(0.9, 1), (0.9, 1), (0.2, 0), (0.9, 1)])
    assert metrics["shown_reviews"] == 4
    assert metrics["shown_brier"] == pytest.approx((3 * 0.01 + 0.04) / 4)
    assert metrics["shown_brier_base_rate"] == pytest.approx(0.1875)
    assert calibration.shown_metrics([]) == {"shown_reviews": 0}


def test_a_band_of_the_playbooks_own_confidence_is_learnt_where_a_straight_line_cannot_bend():
    """Findings the playbook gave 0.5 are rejected a third of the time; those it gave 0.45, 0.75 or 0.95
    are approved. A line in the prior cannot be low at 0.5 and high on both sides of it; a band can."""
    rows = [_row(prior=p, account=f"{p}-{i}") for p in (0.95, 0.75) for i in range(150)]
    rows += [_row(prior=0.45, account=f"low-{i}") for i in range(40)]
    rows += [_row(prior=0.5, account=f"mid-{i}") for i in range(20)]
    rows += [_row("rejected", "not_relevant", prior=0.5, account=f"mid-{i}") for i in range(20, 30)]
    params, _ = calibration.fit_playbook(rows, prior=0.8, now=NOW)
    assert {"prior=0.4", "prior=0.5"} <= set(params["vocab"])
    assert 0.55 < _shown(params, prior=0.5) < 0.85  # about the 2 in 3 they were approved
    assert _shown(params, prior=0.45) > 0.9 and _shown(params, prior=0.75) > 0.95


def test_two_rejections_are_enough_to_fit_a_regression_and_it_stays_modest():
    rows = [_row(owner=1)] * 40 + [_row("rejected", "not_relevant", owner=2)] * 2 + [_row(owner=2)] * 8
    params, _ = calibration.fit_playbook(rows, prior=0.6, now=NOW)
    assert params["coef"] is not None
    assert 0.7 < _shown(params, owner=2) < _shown(params, owner=1)  # two in ten: lower, not condemned


def test_a_role_the_rep_called_the_wrong_contact_lowers_the_confidence_and_the_card_says_so():
    from recommendations.learning.judge import calibrated

    params, _ = calibration.fit_playbook([_row()] * 60, prior=0.6, now=NOW)
    record = {"roles": {contacts.role_key(1, "pricing_interest", "director"): [1, 1]}}
    features = {"prior": 0.6, "urgency": 0.5}

    def shown(owner, seniority):
        return calibrated(params, prior=0.6, features=features, owner=owner, seniority=seniority, contact=record,
                          playbook="pricing_interest")  # fmt: skip

    clean, _ = shown(1, "vp")
    wrong, note = shown(1, "director")
    assert wrong == pytest.approx(clean * 0.5, abs=0.002)  # 1 of 1: even odds it is wrong again
    assert note.endswith("this rep called 1 of their last 1 such e-mails to this role the wrong contact")
    assert shown(2, "director")[0] == clean  # another rep's directors are not this rep's
    assert [contacts.wrong_contact_chance(w, t) for w, t in ((0, 0), (0, 4), (1, 1), (2, 4), (4, 4))] == [
        0.0, 0.0, 0.5, 0.4, 0.8,
    ]  # fmt: skip
