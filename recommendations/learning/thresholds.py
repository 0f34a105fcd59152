"""Threshold proposals: replay the last 90 days of stored signals through each tunable playbook with
stricter parameters, and propose the change that keeps its false alarms under the manager's budget
(:class:`~recommendations.learning.models.LearningPolicy`) while keeping what it surfaced that reps
approved, as a :class:`ThresholdProposal` with the expected effect in numbers. Nothing changes until a
manager accepts one (:func:`accept_proposal`, audited); declining is audited too.

The replay: for each recommendation of the playbook reviewed in the last 90 days, the account's
picture is rebuilt from the stored signals as of the moment it was proposed (``build_facts`` reads
signals up to ``now`` and decisions taken by then), and the playbook is evaluated again with each
candidate value. A reviewed one labels the replay: approved is a hit, rejected as not relevant or
already handled a false alarm (other reasons say nothing about the trigger). Only stricter values are
judged (a count threshold raised, a window shortened, an amount raised): what a looser one would add
never fired, so nobody reviewed it. A parameter that only delays a trigger (days of silence) is not
tuned this way: at the replayed moment a later firing would look like none.

Two kinds of proposal: over budget, the smallest change that brings the playbook under it and keeps
:data:`MIN_KEPT_SHARE` of the hits; under budget, a change that cuts at least :data:`FREE_CUT_SHARE`
of its false alarms while keeping :data:`FREE_KEPT_SHARE` of the hits (fewer interruptions at almost
no cost). Either way a manager decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction

from accounts.models import Account
from audit.services import audit_record
from recommendations.learning.calibration import TRIGGER_MISSES
from recommendations.learning.models import LearningPolicy, RecommendationOutcome, ThresholdProposal
from recommendations.models import PlaybookConfig
from recommendations.picture import build_facts, playbook_settings
from recommendations.playbooks import Playbook, find_playbook

REPLAY_DAYS = 90
#: The newest reviewed recommendations replayed per playbook (each costs one picture, a few queries).
REPLAY_LIMIT = 300
#: Replays below this many labelled rows prove nothing.
MIN_REPLAYED = 20
MIN_KEPT_SHARE = 0.8  # over budget: a change that loses more than a fifth of the hits is not proposed
FREE_CUT_SHARE = 0.25  # under budget: proposed only when it cuts a quarter of the false alarms …
FREE_KEPT_SHARE = 0.95  # … and keeps 95 % of the hits
MIN_FREE_CUT = 3  # … and at least this many false alarms


@dataclass(frozen=True)
class Tunable:
    """One parameter and its stricter direction: ``step`` is added per step (negative: shortened)."""

    param: str
    step: float
    steps: int
    limit: float  # the strictest value proposed (a window of at least a day …)

    def candidates(self, current: float) -> list[float]:
        values = []
        for n in range(1, self.steps + 1):
            value = round(current + n * self.step, 4)
            if (self.step > 0 and value > self.limit) or (self.step < 0 and value < self.limit):
                break
            values.append(value)
        return values


#: playbook → its tunable parameters (counts, windows and amounts: stricter means a subset fires).
TUNABLE: dict[str, tuple[Tunable, ...]] = {
    "pricing_interest": (Tunable("min_visits", 1, 3, 10), Tunable("window_days", -1, 6, 1)),
    "going_dark": (Tunable("min_prior_signals", 5, 4, 100), Tunable("min_active_days", 1, 3, 20)),
    "multi_thread": (Tunable("min_amount", 5000, 5, 1_000_000),),
}
#: A change a manager declined is not proposed again for this long.
DECLINED_QUIET_DAYS = 30


@dataclass(frozen=True)
class Replayed:
    """One reviewed recommendation replayed: whether each candidate value would still have fired."""

    hit: bool  # approved
    false_alarm: bool  # rejected as not relevant or already handled
    fires: dict[tuple[str, float], bool]  # (param, value) → fired at the replayed moment


def budget() -> float:
    """False alarms per rep per day one playbook may bring (the manager's, in the admin)."""
    return float(LearningPolicy.current().false_alarm_budget)


def propose_for(rows: Sequence[Replayed], *, current: dict[str, float], tunables: Iterable[Tunable],
                rep_days: float, limit: float) -> dict | None:  # fmt: skip
    """The change to propose from replayed rows, with its effect, or None (see the module docstring).
    Among the changes that qualify: the fewest false alarms left, then the most hits kept, then the
    smallest step."""
    if len(rows) < MIN_REPLAYED or rep_days <= 0:
        return None
    alarms = sum(r.false_alarm for r in rows)
    hits = sum(r.hit for r in rows)
    over = alarms / rep_days > limit
    best: tuple | None = None
    for tunable in tunables:
        for step, value in enumerate(tunable.candidates(current[tunable.param]), start=1):
            kept = [r for r in rows if r.fires.get((tunable.param, value), False)]
            new_alarms, new_hits = sum(r.false_alarm for r in kept), sum(r.hit for r in kept)
            if over:
                ok = new_alarms / rep_days <= limit and new_hits >= MIN_KEPT_SHARE * hits
            else:
                cut = alarms - new_alarms
                ok = cut >= max(MIN_FREE_CUT, FREE_CUT_SHARE * alarms) and new_hits >= FREE_KEPT_SHARE * hits
            if ok:
                rank = (new_alarms, -new_hits, step)
                if best is None or rank < best[0]:
                    best = (rank, tunable.param, value, new_alarms, new_hits)
    if best is None:
        return None
    _, param, value, new_alarms, new_hits = best
    return {"param": param, "current": current[param], "proposed": value, "over_budget": over, "budget": limit,
            "false_alarms": [alarms, new_alarms],
            "false_alarms_per_rep_day": [round(alarms / rep_days, 3), round(new_alarms / rep_days, 3)],
            "hits": [hits, new_hits], "replayed": len(rows)}  # fmt: skip


def replay(*, playbook: Playbook, since: dt.datetime, configs: dict[str, dict], values: dict[str, list[float]],
           current: dict) -> tuple[list[Replayed], dt.datetime | None]:  # fmt: skip
    """Replay the playbook's reviewed recommendations since ``since`` (newest :data:`REPLAY_LIMIT`)
    from the stored signals; rows whose current parameters do not fire again (the data changed since)
    are left out. Returns the rows and the oldest replayed moment."""
    outcomes = list(
        RecommendationOutcome.objects.filter(
            playbook=playbook.code, review__in=["approved", "edited", "rejected"], reviewed_at__gte=since
        )
        .order_by("-reviewed_at", "-pk")
        .values_list("account_id", "recommendation__created_at", "review", "reject_reason")[:REPLAY_LIMIT]
    )
    accounts = Account.objects.in_bulk({account_id for account_id, *_ in outcomes})
    rows: list[Replayed] = []
    first: dt.datetime | None = None
    for account_id, at, review, reason in outcomes:
        hit, false_alarm = review != "rejected", review == "rejected" and reason in TRIGGER_MISSES
        if (not hit and not false_alarm) or account_id not in accounts or at is None:
            continue
        facts = build_facts(account=accounts[account_id], now=at, configs=configs)
        if playbook.evaluate(facts, at, current) is None:
            continue
        fires = {
            (param, value): playbook.evaluate(facts, at, {**current, param: value}) is not None
            for param, options in values.items()
            for value in options
        }
        rows.append(Replayed(hit=hit, false_alarm=false_alarm, fires=fires))
        first = at if first is None or at < first else first
    return rows, first


def propose(*, now: dt.datetime, reps: int) -> list[ThresholdProposal]:
    """Replay each tunable playbook's last 90 days; store a proposal where one would help (one open
    proposal per playbook: a newer one replaces the open one)."""
    created = []
    since = now - dt.timedelta(days=REPLAY_DAYS)
    configs = playbook_settings()  # as analysis reads them: the replay sees the pages the playbooks read
    limit = budget()
    for code, tunables in TUNABLE.items():
        playbook = find_playbook(code)
        if playbook is None:
            continue
        current = playbook.params(configs.get(code, {}).get("params"))
        numbers = {t.param: float(current[t.param]) for t in tunables}
        values = {t.param: t.candidates(numbers[t.param]) for t in tunables}
        rows, first = replay(playbook=playbook, since=since, configs=configs, values=values, current=current)
        if first is None:
            continue
        days = max(1.0, (now - first).total_seconds() / 86400)
        found = propose_for(rows, current=numbers, tunables=tunables, rep_days=max(1, reps) * days, limit=limit)
        if found is None or _declined_lately(code=code, found=found, now=now):
            continue
        created.append(_store(code=code, found=found, now=now))
    return created


def _declined_lately(*, code: str, found: dict, now: dt.datetime) -> bool:
    return ThresholdProposal.objects.filter(
        playbook=code, param=found["param"], proposed_value=found["proposed"], status=ThresholdProposal.Status.DECLINED,
        decided_at__gte=now - dt.timedelta(days=DECLINED_QUIET_DAYS),
    ).exists()  # fmt: skip


def _store(*, code: str, found: dict, now: dt.datetime) -> ThresholdProposal:
    (before, after), (kept_before, kept_after) = found["false_alarms_per_rep_day"], found["hits"]
    why = "over" if found["over_budget"] else "under"
    summary = (f"{code}: {found['param']} {found['current']:g} → {found['proposed']:g} would cut false alarms from "
               f"{before:.2f} to {after:.2f} per rep per day ({why} the budget of {found['budget']:g}) and keep "
               f"{kept_after} of {kept_before} approved (replay of {found['replayed']} reviewed, last "
               f"{REPLAY_DAYS} days)")  # fmt: skip
    with transaction.atomic():
        ThresholdProposal.objects.filter(playbook=code, status=ThresholdProposal.Status.PROPOSED).delete()
        return ThresholdProposal.objects.create(
            playbook=code, param=found["param"], current_value=found["current"], proposed_value=found["proposed"],
            effect=found, summary=summary[:500], created_at=now,
        )  # fmt: skip


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


def policy_save(*, policy: LearningPolicy, actor=None, changed: Iterable[str] = ()) -> LearningPolicy:
    """Save the learning policy (the admin's doorway), with its audit row."""
    policy.full_clean()
    policy.save()
    audit_record(action="learning_policy.updated", actor=actor, reference=f"learning_policy:{policy.pk}",
                 data={name: str(getattr(policy, name)) for name in changed})  # fmt: skip
    return policy
