"""Threshold proposals: from each tunable playbook's outcome record, the smallest raise of its
threshold that keeps false alarms under the manager's budget per rep per day, with the hits it would
still have surfaced, as a :class:`ThresholdProposal`. Nothing changes until a manager accepts one
(:func:`accept_proposal`, audited); declining is audited too.

The replay reads the findings stored on the last 90 days' reviewed recommendations (each keeps the
evidence that made it fire, e.g. the pricing visits counted): a higher threshold would have surfaced
exactly those whose count reaches it. Only raises can be judged this way (what a lower threshold
would add never fired), so only raises are proposed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from audit.services import audit_record
from recommendations.learning.calibration import TRIGGER_MISSES
from recommendations.learning.models import RecommendationOutcome, ThresholdProposal
from recommendations.models import PlaybookConfig
from recommendations.playbooks import find_playbook

REPLAY_DAYS = 90
MAX_RAISE = 3
MIN_KEPT_SHARE = 0.8  # a raise that loses more than a fifth of the hits is not proposed


@dataclass(frozen=True)
class Tunable:
    param: str
    score: Callable[[dict], float]  # the stored finding → the number the threshold is compared with


#: playbook → its tunable threshold and how to read it off a stored finding.
TUNABLE: dict[str, Tunable] = {
    "pricing_interest": Tunable("min_visits", lambda finding: len(finding.get("evidence") or ())),
}


@dataclass(frozen=True)
class Replayed:
    score: float
    hit: bool  # approved
    false_alarm: bool  # rejected as not relevant or already handled


def budget() -> float:
    """False alarms per rep per day a manager accepts (``LEARNING_FALSE_ALARM_BUDGET``)."""
    return float(getattr(settings, "LEARNING_FALSE_ALARM_BUDGET", 0.5))


def propose_for(rows: Iterable[Replayed], *, current: float, rep_days: float, limit: float) -> dict | None:
    """The smallest raise of ``current`` that brings false alarms per rep per day under ``limit`` and
    keeps at least :data:`MIN_KEPT_SHARE` of the hits, with its effect; None when none is needed or
    none would do."""
    rows = list(rows)
    if not rows or rep_days <= 0:
        return None

    def effect(threshold: float) -> tuple[float, int]:
        kept = [r for r in rows if r.score >= threshold]
        return sum(r.false_alarm for r in kept) / rep_days, sum(r.hit for r in kept)

    alarms, hits = effect(current)
    if alarms <= limit:
        return None
    for raise_by in range(1, MAX_RAISE + 1):
        new_alarms, new_hits = effect(current + raise_by)
        if new_alarms <= limit and (not hits or new_hits >= MIN_KEPT_SHARE * hits):
            return {"proposed": current + raise_by, "false_alarms_per_rep_day": [round(alarms, 3), round(new_alarms, 3)],
                    "hits": [hits, new_hits], "budget": limit, "reviews": len(rows)}  # fmt: skip
    return None


def propose(*, now: dt.datetime, reps: int) -> list[ThresholdProposal]:
    """Replay each tunable playbook's last 90 days; store a proposal where one would help (one open
    proposal per playbook and parameter: a newer one replaces the open one)."""
    created = []
    since = now - dt.timedelta(days=REPLAY_DAYS)
    configs = {c.code: c.params for c in PlaybookConfig.objects.filter(code__in=list(TUNABLE))}
    for code, tunable in TUNABLE.items():
        playbook = find_playbook(code)
        if playbook is None:
            continue
        current = float(playbook.params(configs.get(code)).get(tunable.param))
        rows = []
        first = None
        for review, reason, findings, at in RecommendationOutcome.objects.filter(
            playbook=code, review__in=["approved", "edited", "rejected"], reviewed_at__gte=since
        ).values_list("review", "reject_reason", "recommendation__findings", "reviewed_at"):
            lead = findings[0] if isinstance(findings, list) and findings and isinstance(findings[0], dict) else {}
            rows.append(
                Replayed(score=tunable.score(lead), hit=review != "rejected", false_alarm=reason in TRIGGER_MISSES)
            )
            first = at if first is None or at < first else first
        if first is None:
            continue
        days = max(1.0, (now - first).total_seconds() / 86400)
        found = propose_for(rows, current=current, rep_days=max(1, reps) * days, limit=budget())
        if found is None:
            continue
        before, after = found["false_alarms_per_rep_day"]
        summary = (f"{code}: {tunable.param} {current:g} → {found['proposed']:g} would cut false alarms from {before:.2f} "
                   f"to {after:.2f} per rep per day (budget {found['budget']:g}) and keep {found['hits'][1]} of "
                   f"{found['hits'][0]} approved ({found['reviews']} reviews, last {REPLAY_DAYS} days)")  # fmt: skip
        with transaction.atomic():
            ThresholdProposal.objects.filter(playbook=code, param=tunable.param,
                                             status=ThresholdProposal.Status.PROPOSED).delete()  # fmt: skip
            created.append(ThresholdProposal.objects.create(
                playbook=code, param=tunable.param, current_value=current, proposed_value=found["proposed"],
                effect=found, summary=summary[:500], created_at=now))  # fmt: skip
    return created


def accept_proposal(*, proposal: ThresholdProposal, user, now: dt.datetime) -> ThresholdProposal:
    """A manager accepts: the playbook's parameter changes (its PlaybookConfig), audited old → new."""
    with transaction.atomic():
        proposal = ThresholdProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.status != ThresholdProposal.Status.PROPOSED:
            return proposal
        config, _ = PlaybookConfig.objects.select_for_update().get_or_create(code=proposal.playbook)
        old = config.params.get(proposal.param)
        value = int(proposal.proposed_value) if float(proposal.proposed_value).is_integer() else proposal.proposed_value
        config.params = {**config.params, proposal.param: value}
        config.save(update_fields=["params", "updated_at"])
        proposal.status, proposal.decided_at, proposal.decided_by = ThresholdProposal.Status.ACCEPTED, now, user
        proposal.save(update_fields=["status", "decided_at", "decided_by"])
        audit_record(action="learning.threshold_accepted", actor=user, reference=f"playbook:{proposal.playbook}",
                     data={"param": proposal.param, "old": old, "new": value, "effect": proposal.effect})  # fmt: skip
    return proposal


def decline_proposal(*, proposal: ThresholdProposal, user, now: dt.datetime) -> ThresholdProposal:
    with transaction.atomic():
        updated = ThresholdProposal.objects.filter(pk=proposal.pk, status=ThresholdProposal.Status.PROPOSED).update(
            status=ThresholdProposal.Status.DECLINED, decided_at=now, decided_by=user
        )
        if updated:
            audit_record(action="learning.threshold_declined", actor=user, reference=f"playbook:{proposal.playbook}",
                         data={"param": proposal.param, "proposed": proposal.proposed_value})  # fmt: skip
    proposal.refresh_from_db()
    return proposal
