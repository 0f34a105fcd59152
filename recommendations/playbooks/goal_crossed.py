"""Goal crossed: a Goal's metric crossed its threshold (edge-triggered: once per crossing, re-armed when
the metric falls back), e.g. seat use ≥ 80% → propose an expansion."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    Criterion,
    EvidenceItem,
    Finding,
    GoalFact,
    PictureFacts,
    fmt_day,
    fmt_money,
)

CODE = "goal_crossed"
EXPANSION = Action(
    code="expansion",
    label="Propose an expansion",
    template="recommendations/drafts/expansion.txt",
)
DEFAULTS = {"expansion_share": 0.2, "expires_days": 14}
RATIO_METRICS = {"seat_utilization", "engagement_score"}


def fmt_metric(metric: str, value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:.0%}" if metric in RATIO_METRICS else f"{value:,.0f}"


def crossing_number(goal: GoalFact, value: float | None) -> int | None:
    """Which crossing this is when the goal holds now (the stored state is from before this analysis)."""
    if not goal.holds_for(value):
        return None
    return goal.crossings if goal.is_met else goal.crossings + 1


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    for goal in picture.goals:
        value = picture.metrics.get(goal.metric)
        number = crossing_number(goal, value)
        if number is None:
            continue
        crossed_at = goal.last_crossed_at if goal.is_met and goal.last_crossed_at else now
        shown = fmt_metric(goal.metric, value)
        threshold = fmt_metric(goal.metric, goal.threshold)
        detail = ""
        stakes = max(picture.open_opportunity_amount, picture.arr * Decimal(str(p["expansion_share"])))
        extra_seats = 0
        if goal.metric == "seat_utilization" and picture.seats:
            detail = f" ({picture.active_users_7d} of {picture.seats} seats active in 7 days)"
            extra_seats = max(1, math.ceil(picture.seats * float(p["expansion_share"])))
            if picture.arr:
                stakes = (picture.arr / picture.seats * extra_seats).quantize(Decimal("1"))
        summary = f"{goal.name.lower() if goal.name else goal.metric}: {shown}{detail}, past the goal of {threshold}"
        contact_id = picture.best_contact()
        return Finding(
            playbook=CODE,
            code=f"goal_{goal.metric}",
            action_type=EXPANSION.code,
            title=f"{picture.account_name} crossed “{goal.name}” — propose an expansion",
            summary=f"{picture.account_name}'s {summary}",
            contact_id=contact_id,
            criteria=(
                Criterion("goal_crossed", f"{goal.name} ({goal.comparator} {threshold})", MET, (f"goal:{goal.id}",)),
            ),
            evidence=(
                EvidenceItem(
                    statement=f"Goal “{goal.name}” crossed on {fmt_day(crossed_at)}: {shown}{detail}, threshold {threshold}",
                    kind="goal",
                    occurred_at=crossed_at,
                    fact_type="goal",
                    fact_id=goal.id,
                ),
            ),
            urgency=0.55,
            confidence=0.65,
            why_now=f"The metric crossed the goal's threshold ({threshold}) on {fmt_day(crossed_at)}.",
            counterfactual=f"If {goal.metric.replace('_', ' ')} fell back past {threshold}.",
            expires_at=crossed_at + dt.timedelta(days=int(p["expires_days"])),
            dedupe_key=f"{CODE}:{goal.id}:{number}",
            stakes=stakes,
            stated_reason="Teams that outgrow their plan expand when asked at the moment they feel the limit.",
            draft_context={
                "goal": goal.name,
                "value": shown,
                "extra_seats": extra_seats,
                "stakes": fmt_money(stakes),
            },
        )
    return None


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Goal crossed",
        actions=(EXPANSION,),
        evaluate=evaluate,
        story_order=5,
        history_noun="expansion proposals",
        defaults=DEFAULTS,
        param_help={
            "expansion_share": "Share of current seats to propose adding (sets the stakes). Example: 0.2",
            "expires_days": "Days after the crossing before the recommendation expires. Example: 14",
        },
        explain_drop=lambda picture, now, params=None: "The goal's metric fell back across its threshold.",
        order=50,
    )
)
