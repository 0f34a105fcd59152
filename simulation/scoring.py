"""The scorer: what a system surfaced, compared with the moments the hidden world says mattered.

Pure functions over plain data (no database), so a perfect, an empty and a noisy system can be scored
in tests, and salesai and the baselines are scored by the same code.

Inputs:
- :class:`~simulation.market.Moment` s (the ground truth);
- :class:`Sighting` s: each state a recommendation was seen in (its status from a simulated instant
  on, the action type, the world event ids and named facts its evidence cited);
- :class:`InboxSnapshot` s: what each rep's inbox showed (in order) at each simulated morning.

Definitions (kept deliberately strict; do not tune them to flatter a system):
- A recommendation is *in front of the rep* from a sighting with status pending or scheduled until its
  next sighting; an executed sighting counts at its instant only. It *surfaces* a moment when it is for
  the moment's account, of an acceptable action type, and in front of the rep at some instant of the
  moment's window ``[opens_at, closes_at]``; time to surface = that instant − ``moment.at`` (≥ 0).
- Evidence *cites what mattered* when it names one of the moment's deciding events (or, for moments
  time decides, one of its named facts such as the contract).
- A *surfacing episode* (a recommendation coming into view, at creation or re-opening) that surfaces
  no moment is a false alarm.
- Precision at k: in each morning snapshot, the share of the top k items that match a moment open at
  that instant; empty inboxes are left out of the mean (and counted).
- Autonomous actions: recommendations executed by the trust model alone; *right* when the execution
  surfaces a moment.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from simulation.market import EVENT_DRIVEN, Moment

IN_VIEW = frozenset({"pending", "scheduled"})
EXECUTED = "executed"


@dataclass(frozen=True)
class Sighting:
    rec_id: str
    account: str
    rep: str
    action_type: str
    status: str
    at: dt.datetime
    evidence: frozenset[str] = frozenset()
    facts: frozenset[str] = frozenset()
    autonomous: bool = False
    priority: int = 50


@dataclass(frozen=True)
class InboxSnapshot:
    rep: str
    at: dt.datetime
    items: tuple[tuple[str, str, str], ...]  # (rec_id, account, action_type), inbox order


@dataclass(frozen=True)
class _Interval:
    rec_id: str
    account: str
    rep: str
    action_type: str
    start: dt.datetime
    end: dt.datetime | None  # None: still in view at the end of the run
    evidence: frozenset[str]
    facts: frozenset[str]
    executed: bool
    autonomous: bool
    episode: int


@dataclass
class MomentResult:
    moment: Moment
    surfaced_at: dt.datetime | None = None
    rec_id: str = ""
    cited: bool | None = None

    @property
    def latency(self) -> float | None:
        if self.surfaced_at is None:
            return None
        return max(0.0, (self.surfaced_at - self.moment.at).total_seconds())


@dataclass
class Score:
    system: str
    k: int
    reps: int
    days: int
    moments: int = 0
    surfaced: int = 0
    cited: int = 0
    citable: int = 0
    latencies: list[float] = field(default_factory=list)
    event_latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, dict] = field(default_factory=dict)
    precision_samples: list[float] = field(default_factory=list)
    #: what the irrelevant items of the morning top k were: "<action type>: <stale|early|no moment>"
    precision_misses: dict[str, int] = field(default_factory=dict)
    #: each of those items: when, whose inbox, the card, and why it matched no open moment
    precision_miss_items: list[dict] = field(default_factory=list)
    empty_snapshots: int = 0
    episodes: int = 0
    false_alarms: int = 0
    false_alarms_by_action: dict[str, int] = field(default_factory=dict)
    autonomous_actions: int = 0
    autonomous_right: int = 0
    missed: list[MomentResult] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.surfaced / self.moments if self.moments else 0.0

    @property
    def precision_at_k(self) -> float | None:
        return statistics.fmean(self.precision_samples) if self.precision_samples else None

    @property
    def false_alarms_per_rep_day(self) -> float:
        return self.false_alarms / (self.reps * self.days) if self.reps and self.days else 0.0

    @property
    def evidence_rate(self) -> float | None:
        return self.cited / self.citable if self.citable else None

    @staticmethod
    def _median(samples: list[float]) -> float | None:
        return statistics.median(samples) if samples else None

    @property
    def median_latency(self) -> float | None:
        return self._median(self.latencies)

    @property
    def median_event_latency(self) -> float | None:
        return self._median(self.event_latencies)

    def as_dict(self) -> dict:
        return {
            "system": self.system,
            "k": self.k,
            "moments": self.moments,
            "surfaced": self.surfaced,
            "recall": self.recall,
            "precision_at_k": self.precision_at_k,
            "inbox_snapshots": len(self.precision_samples),
            "empty_inbox_snapshots": self.empty_snapshots,
            "precision_misses": self.precision_misses,
            "median_seconds_to_surface": self.median_latency,
            "median_seconds_to_surface_event_driven": self.median_event_latency,
            "p90_seconds_to_surface_event_driven": _quantile(self.event_latencies, 0.9),
            "evidence_cites_deciding_signals": self.evidence_rate,
            "surfacing_episodes": self.episodes,
            "false_alarms": self.false_alarms,
            "false_alarms_per_rep_per_day": self.false_alarms_per_rep_day,
            "false_alarms_by_action": self.false_alarms_by_action,
            "autonomous_actions": self.autonomous_actions,
            "autonomous_right": self.autonomous_right,
            "by_kind": self.by_kind,
        }


def _quantile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def intervals(sightings: Iterable[Sighting]) -> list[_Interval]:
    """When each recommendation was in front of the rep (or executed), from its sightings in order."""
    by_rec: dict[str, list[Sighting]] = defaultdict(list)
    for s in sightings:
        by_rec[s.rec_id].append(s)
    result: list[_Interval] = []
    for rec_id, seen in by_rec.items():
        seen.sort(key=lambda s: s.at)
        episode = 0
        previous_in_view = False
        for index, s in enumerate(seen):
            following = seen[index + 1].at if index + 1 < len(seen) else None
            in_view = s.status in IN_VIEW
            if s.status == EXECUTED or in_view:
                if not previous_in_view:
                    episode += 1
                result.append(
                    _Interval(rec_id, s.account, s.rep, s.action_type, s.at, s.at if s.status == EXECUTED else following,
                              s.evidence, s.facts, s.status == EXECUTED, s.autonomous, episode)
                )  # fmt: skip
            previous_in_view = in_view
    return result


def _overlap(interval: _Interval, moment: Moment) -> dt.datetime | None:
    """The first instant the interval is in view inside the moment's window, or None."""
    if interval.executed:
        return interval.start if moment.opens_at <= interval.start <= moment.closes_at else None
    start = max(interval.start, moment.opens_at)
    in_view = interval.end is None or start < interval.end
    return start if in_view and start <= moment.closes_at else None


def score(
    *,
    system: str,
    moments: Sequence[Moment],
    sightings: Iterable[Sighting],
    snapshots: Iterable[InboxSnapshot],
    reps: int,
    days: int,
    k: int = 10,
) -> Score:
    """Score one system's sightings and inbox snapshots against the world's moments."""
    result = Score(system=system, k=k, reps=reps, days=days, moments=len(moments))
    spans = intervals(sightings)
    by_account: dict[str, list[_Interval]] = defaultdict(list)
    for span in spans:
        by_account[span.account].append(span)
    matched_episodes: set[tuple[str, int]] = set()
    kinds: dict[str, dict] = defaultdict(
        lambda: {"moments": 0, "surfaced": 0, "latencies": [], "cited": 0, "citable": 0}
    )
    for moment in moments:
        outcome = MomentResult(moment)
        candidates = [s for s in by_account.get(moment.account, ()) if s.action_type in moment.acceptable]
        cited_ids: set[str] = set()
        cited_facts: set[str] = set()
        for span in candidates:
            when = _overlap(span, moment)
            if when is None:
                continue
            matched_episodes.add((span.rec_id, span.episode))
            cited_ids |= span.evidence
            cited_facts |= span.facts
            if outcome.surfaced_at is None or when < outcome.surfaced_at:
                outcome.surfaced_at, outcome.rec_id = when, span.rec_id
        kind = kinds[moment.kind]
        kind["moments"] += 1
        if outcome.surfaced_at is not None:
            if moment.deciding or moment.facts:
                outcome.cited = bool(cited_ids & set(moment.deciding)) or bool(cited_facts & set(moment.facts))
                result.citable += 1
                kind["citable"] += 1
                result.cited += outcome.cited
                kind["cited"] += outcome.cited
            result.surfaced += 1
            kind["surfaced"] += 1
            result.latencies.append(outcome.latency)
            kind["latencies"].append(outcome.latency)
            if moment.event_driven:
                result.event_latencies.append(outcome.latency)
        else:
            result.missed.append(outcome)
    for name, kind in sorted(kinds.items()):
        latencies = kind.pop("latencies")
        result.by_kind[name] = {
            **kind,
            "recall": kind["surfaced"] / kind["moments"] if kind["moments"] else 0.0,
            "median_seconds_to_surface": statistics.median(latencies) if latencies else None,
            "evidence_cites_deciding_signals": kind["cited"] / kind["citable"] if kind["citable"] else None,
            "event_driven": name in EVENT_DRIVEN,
        }
    episodes = {(s.rec_id, s.episode): s for s in spans}
    result.episodes = len(episodes)
    unmatched = [span for key, span in episodes.items() if key not in matched_episodes]
    result.false_alarms = len(unmatched)
    by_action: dict[str, int] = defaultdict(int)
    for span in unmatched:
        by_action[span.action_type] += 1
    result.false_alarms_by_action = dict(sorted(by_action.items(), key=lambda item: -item[1]))
    autonomous = [s for s in spans if s.executed and s.autonomous]
    result.autonomous_actions = len(autonomous)
    result.autonomous_right = sum(1 for s in autonomous if (s.rec_id, s.episode) in matched_episodes)
    result.precision_samples, result.empty_snapshots, result.precision_miss_items = _precision(moments, snapshots, k)
    result.precision_misses = dict(Counter(item["why"] for item in result.precision_miss_items).most_common())
    return result


def _miss(moments: Sequence[Moment], action_type: str, at: dt.datetime) -> str:
    """Why an item of a morning top k matched no open moment: its moment had closed (``stale``), was
    still to open (``early``), or the account never had one it answers (``no moment``)."""
    fitting = [m for m in moments if action_type in m.acceptable]
    if any(m.closes_at < at for m in fitting):
        return f"{action_type}: stale"
    if fitting:
        return f"{action_type}: early"
    return f"{action_type}: no moment"


def _precision(
    moments: Sequence[Moment], snapshots: Iterable[InboxSnapshot], k: int
) -> tuple[list[float], int, list[dict]]:
    by_account: dict[str, list[Moment]] = defaultdict(list)
    for m in moments:
        by_account[m.account].append(m)
    samples: list[float] = []
    misses: list[dict] = []
    empty = 0
    for snap in snapshots:
        top = snap.items[:k]
        if not top:
            empty += 1
            continue
        relevant = 0
        for _rec, account, action_type in top:
            mine = by_account.get(account, ())
            if any(m.opens_at <= snap.at <= m.closes_at and action_type in m.acceptable for m in mine):
                relevant += 1
            else:
                misses.append({"at": snap.at.isoformat(), "rep": snap.rep, "rec_id": _rec, "account": account,
                               "why": _miss(mine, action_type, snap.at)})  # fmt: skip
        samples.append(relevant / len(top))
    return samples, empty, misses
