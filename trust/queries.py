"""The trust model's hand-written SQL: the statements every trust decision makes.

Each earned its place by measurement (a decision runs them all; building the querysets cost more than
running them, and reading a domain's outcomes into Python to weigh them cost more still). Parameters
are named, enum values travel as parameters, and each statement has a parity test against the ORM on
SQLite and PostgreSQL (``trust/tests/test_queries.py``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from salesai import sql
from trust.models import Outcome, TrustDecision, TrustPolicy, TrustSwitch


@dataclass(frozen=True)
class OutcomeTotals:
    """A domain's outcomes up to an instant: counts, and sums of their decay weights."""

    successes: int
    failures: int
    reviews: int
    reviews_since_demotion: int
    effective_successes: float
    effective_failures: float


@dataclass(frozen=True)
class RecentOutcome:
    kind: str
    success: bool


@dataclass(frozen=True)
class DecisionGate:
    """What every decision reads first: the global kill switch and the domain's autonomous count."""

    kill_switch: bool
    autonomous_since: int


def policy_by_domain(domain: str) -> TrustPolicy | None:
    """The domain's policy, or None (every trust decision starts here)."""
    statement = f"SELECT {sql.columns(TrustPolicy)} FROM {TrustPolicy._meta.db_table} WHERE domain = %(domain)s"
    return next(iter(TrustPolicy.objects.raw(statement, {"domain": domain})), None)


def outcome_totals(
    *,
    domain: str,
    now: dt.datetime,
    demoted_at: dt.datetime,
    half_life_days: float,
    review_kinds: Iterable[str],
) -> OutcomeTotals:
    """Counts and decayed sums (``0.5 ** (age_days / half_life_days)``) of the outcomes of ``domain`` at
    or before ``now``; ``reviews_since_demotion`` counts the reviews after ``demoted_at``."""
    kinds = sorted(review_kinds)
    placeholders, kind_params = sql.named_list("review_kind", kinds)
    params = {
        "domain": domain,
        "now": sql.param(now),
        "demoted_at": sql.param(demoted_at),
        "half_life_days": half_life_days,
        **kind_params,
    }
    ((successes, failures, reviews, since_demotion, eff_s, eff_f),) = sql.rows(
        _outcome_totals_sql(connection.vendor, placeholders), params
    )
    return OutcomeTotals(
        successes=successes or 0,
        failures=failures or 0,
        reviews=reviews or 0,
        reviews_since_demotion=since_demotion or 0,
        effective_successes=float(eff_s or 0.0),
        effective_failures=float(eff_f or 0.0),
    )


@functools.cache
def _outcome_totals_sql(vendor: str, review_kinds: str) -> str:
    """``POWER`` is native on PostgreSQL; Django registers it on SQLite."""
    if vendor == "postgresql":  # in floats: EXTRACT gives numeric, whose POWER is much slower
        age_days = "EXTRACT(EPOCH FROM (%(now)s::timestamptz - occurred_at))::float8 / 86400.0"
        weight = f"POWER(0.5::float8, {age_days} / %(half_life_days)s::float8)"
    else:
        weight = "POWER(0.5, (julianday(%(now)s) - julianday(occurred_at)) / %(half_life_days)s)"
    reviews = f"kind IN ({review_kinds})"
    return (
        f"SELECT COUNT(*) FILTER (WHERE success), COUNT(*) FILTER (WHERE NOT success), "
        f"COUNT(*) FILTER (WHERE {reviews}), COUNT(*) FILTER (WHERE {reviews} AND occurred_at > %(demoted_at)s), "
        f"SUM(w) FILTER (WHERE success), SUM(w) FILTER (WHERE NOT success) "
        f"FROM (SELECT kind, success, occurred_at, {weight} AS w FROM {Outcome._meta.db_table} "
        f"WHERE domain = %(domain)s AND occurred_at <= %(now)s) AS record"
    )


def newest_outcomes(*, domain: str, now: dt.datetime, limit: int) -> list[RecentOutcome]:
    """The newest ``limit`` outcomes of ``domain`` at or before ``now``, newest first."""
    statement = (
        f"SELECT kind, success FROM {Outcome._meta.db_table} WHERE domain = %(domain)s AND occurred_at <= %(now)s "
        "ORDER BY occurred_at DESC, id DESC LIMIT %(limit)s"
    )
    params = {"domain": domain, "now": sql.param(now), "limit": limit}
    return [RecentOutcome(kind, bool(success)) for kind, success in sql.rows(statement, params)]


_KILL_SWITCH_ON = f"EXISTS (SELECT 1 FROM {TrustSwitch._meta.db_table} WHERE singleton AND kill_switch)"


def kill_switch_on() -> bool:
    ((on,),) = sql.rows(f"SELECT {_KILL_SWITCH_ON}")
    return bool(on)


def decision_gate(*, domain: str, since: dt.datetime) -> DecisionGate:
    """The kill switch and the autonomous decisions of ``domain`` since ``since``, in one statement."""
    statement = (
        f"SELECT {_KILL_SWITCH_ON}, (SELECT COUNT(*) FROM {TrustDecision._meta.db_table} "
        "WHERE domain = %(domain)s AND verdict = %(verdict)s AND created_at >= %(since)s)"
    )
    params = {"domain": domain, "verdict": TrustDecision.Verdict.AUTONOMOUS.value, "since": sql.param(since)}
    ((killed, count),) = sql.rows(statement, params)
    return DecisionGate(kill_switch=bool(killed), autonomous_since=count)


def advisory_xact_lock(key: int) -> None:
    """PostgreSQL only: hold the advisory lock ``key`` until the transaction ends."""
    sql.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": key})
