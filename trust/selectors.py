"""Reads of the trust model: a domain's track record, its progress toward autonomy, the manager page.

A track record is computed from ``Outcome`` rows each time (no cached counters to drift): the database
counts and weighs them in one statement, a second reads the newest few (both in ``trust.queries``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Q

from salesai import clock
from trust import bounds, queries
from trust.models import Outcome, TrustDecision, TrustPolicy, TrustSwitch

SUCCESS_KINDS = frozenset({Outcome.Kind.APPROVED, Outcome.Kind.EDITED_MINOR, Outcome.Kind.POSITIVE_REPLY})
SEVERE_KINDS = frozenset(
    {Outcome.Kind.UNSUBSCRIBE, Outcome.Kind.COMPLAINT, Outcome.Kind.BOUNCE, Outcome.Kind.WRONG_PERSON}
)
REVIEW_KINDS = frozenset(
    {Outcome.Kind.APPROVED, Outcome.Kind.EDITED_MINOR, Outcome.Kind.EDITED_MAJOR, Outcome.Kind.REJECTED}
)


def decay_weight(age_days: float, half_life_days: float) -> float:
    """Evidence ``half_life_days`` old counts half: 0.5 ** (age / half-life); future-dated counts 1."""
    return 0.5 ** (max(age_days, 0.0) / half_life_days)


@dataclass(frozen=True)
class TrackRecord(queries.OutcomeTotals):
    """A domain's record at one instant: raw counts for people, weighted counts for the bound."""

    domain: str
    lower_bound: float
    required: float
    confidence: float
    consecutive_failures: int
    clean_needed: int | None  # more clean approvals to reach the requirement (None: out of reach)
    reviews_needed: int  # more reviews to reach the minimum
    last_outcomes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.successes + self.failures

    @property
    def effective_n(self) -> float:
        return self.effective_successes + self.effective_failures

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.total if self.total else None

    @property
    def bound_met(self) -> bool:
        return self.lower_bound >= self.required

    @property
    def qualifies(self) -> bool:
        """The record alone would allow autonomy (the minimum reviews and the bound)."""
        return self.reviews_needed == 0 and self.bound_met

    def progress_sentence(self) -> str:
        """'17 more clean approvals, or equivalent' — what stands between the domain and autonomy."""
        if self.qualifies:
            return "Qualified: the lower bound meets the requirement."
        parts = []
        if self.clean_needed is None:
            parts.append("the requirement is out of reach with this record")
        elif self.clean_needed:
            parts.append(f"{self.clean_needed} more clean approval{'s' if self.clean_needed != 1 else ''}")
        if self.reviews_needed and (self.clean_needed is None or self.reviews_needed > (self.clean_needed or 0)):
            parts.append(f"at least {self.reviews_needed} more review{'s' if self.reviews_needed != 1 else ''}")
        return ("; ".join(parts) + ", or equivalent").capitalize() if parts else "Qualified."


def switch() -> TrustSwitch:
    """The kill switch row (created off on first use)."""
    return TrustSwitch.objects.get_or_create(singleton=True)[0]


def requalify_reviews(policy: TrustPolicy) -> int:
    """Reviews needed after a demotion before autonomy can return: half the minimum, at least 5."""
    return max(5, math.ceil(policy.min_reviews / 2))


def track_record(policy: TrustPolicy, *, now: dt.datetime | None = None) -> TrackRecord:
    """The record of ``policy.domain`` as of ``now`` (outcomes after ``now`` are ignored).

    At most two statements whatever the history: the database counts and sums the decay weights of every
    outcome (reading a busy domain's year of outcomes into Python would cost more than the decision),
    and the newest few give the current streak of failures and the last ten outcomes. The streak is
    counted over the newest ``max(10, demote_after_consecutive_failures + 1)``: enough to decide a
    demotion."""
    now = now or clock.now()
    totals = queries.outcome_totals(
        domain=policy.domain,
        now=now,
        demoted_at=policy.demoted_at or now,  # nothing is "since" a demotion that did not happen
        half_life_days=policy.half_life_days,
        review_kinds=REVIEW_KINDS,
    )
    newest = (
        queries.newest_outcomes(
            domain=policy.domain, now=now, limit=max(10, policy.demote_after_consecutive_failures + 1)
        )
        if totals.successes or totals.failures
        else []  # no record yet (a new installation, a new domain): nothing to read
    )
    consecutive = 0
    for outcome in newest:
        if outcome.success:
            break
        consecutive += 1
    eff_s, eff_f = totals.effective_successes, totals.effective_failures
    required, confidence = policy.required_reliability, policy.confidence_level
    lower = bounds.reliability_lower_bound(eff_s, eff_f, confidence=confidence, required=required)
    clean = bounds.clean_successes_needed(eff_s, eff_f, confidence=confidence, required=required)
    return TrackRecord(
        **dataclasses.asdict(totals),
        domain=policy.domain,
        lower_bound=lower,
        required=required,
        confidence=confidence,
        consecutive_failures=consecutive,
        clean_needed=clean,
        reviews_needed=max(0, policy.min_reviews - totals.reviews),
        last_outcomes=[outcome.kind for outcome in newest[:10]],
    )


def requalified(policy: TrustPolicy, record: TrackRecord) -> bool:
    """A demoted domain is trusted again once its bound is re-met with enough reviews after the demotion."""
    return record.qualifies and record.reviews_since_demotion >= requalify_reviews(policy)


def reliability_series(policy: TrustPolicy, *, days: int = 60, now: dt.datetime | None = None) -> list[dict]:
    """The lower bound and the success rate at the end of each of the last ``days`` days (for the chart).

    Decay is exact at every point without re-reading: w_i(t) = 0.5 ** ((t − t_i)/h) factors as
    0.5 ** ((T − t_i)/h) · 2 ** ((T − t)/h) with T the last point, so a running sum suffices."""
    now = now or clock.now()
    rows = list(
        Outcome.objects.filter(domain=policy.domain, occurred_at__lte=now)
        .order_by("occurred_at", "id")
        .values_list("success", "occurred_at")
    )
    h = policy.half_life_days
    points = []
    index = 0
    base_s = base_f = 0.0
    raw_s = raw_n = 0
    for day in range(days - 1, -1, -1):
        t = now - dt.timedelta(days=day)
        while index < len(rows) and rows[index][1] <= t:
            success, occurred_at = rows[index]
            base = decay_weight((now - occurred_at).total_seconds() / 86400, h)
            if success:
                base_s += base
                raw_s += 1
            else:
                base_f += base
            raw_n += 1
            index += 1
        scale = 2 ** (day / h)
        lower = bounds.reliability_lower_bound(
            base_s * scale, base_f * scale, confidence=policy.confidence_level, required=policy.required_reliability
        )
        points.append({"at": t, "lower_bound": lower, "rate": (raw_s / raw_n) if raw_n else None, "n": raw_n})
    return points


def shadow_counts(domains: Iterable[str], *, since: dt.datetime) -> dict[str, dict[str, int]]:
    """Per domain since ``since``: decisions, autonomous ones, and shadow ones (would have acted alone)."""
    rows = (
        TrustDecision.objects.filter(domain__in=list(domains), created_at__gte=since)
        .values("domain")
        .annotate(
            decisions=Count("id"),
            autonomous=Count("id", filter=Q(verdict=TrustDecision.Verdict.AUTONOMOUS)),
            shadow=Count("id", filter=Q(verdict=TrustDecision.Verdict.REVIEW, would_be_autonomous=True)),
            sampled=Count("id", filter=Q(sampled_for_review=True)),
        )
    )
    return {row["domain"]: row for row in rows}


def kill_switch_on() -> bool:
    return queries.kill_switch_on()


def kill_switch_and_autonomous_today(domain: str, *, now: dt.datetime) -> tuple[bool, int]:
    """The global kill switch, and the autonomous decisions in ``domain`` since midnight UTC (for the
    daily cap), in the one statement every decision makes."""
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    gate = queries.decision_gate(domain=domain, since=midnight)
    return gate.kill_switch, gate.autonomous_since
