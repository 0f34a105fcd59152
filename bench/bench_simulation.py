"""The simulator at a fixed size, with the reps' morning reviews: salesai's quality figures beside the
reactive baseline (and naive alerting) scored on the same world in the same run, and how many actions
the trust model took alone once the reviews had built its record (and how many met a moment).

Runs in a throwaway database created like the test runner does (``test_…`` on PostgreSQL, in-memory
on SQLite), so the configured database is never written to. Size: 200 accounts × 30 days, seed 1
(``BENCH_QUICK=1``: 40 × 7). The full quality report is written to ``bench/reports/simulation/``."""

from __future__ import annotations

import os
import sys

from bench.common import REPORT_DIR, BenchContext, Figure

# A fixed size that keeps `make bench` short (about a minute and a half with the reviews) yet long
# enough for the reviews to earn the trust model some autonomy (a domain needs ~46 clean approvals);
# the full 1,000 × 60 world is the `simulate` command's (about 7 minutes on a 2-core machine).
ACCOUNTS, DAYS, SEED = 200, 30, 1


def run(ctx: BenchContext) -> list[Figure]:
    from django.db import connection

    from simulation import service

    accounts, days = (40, 7) if ctx.quick else (ACCOUNTS, DAYS)
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"test_bench_simulation_{os.getpid()}"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"   simulating {accounts} accounts × {days} days …", file=sys.stderr, flush=True)
        # with the reps' morning reviews: the trust model earns (or not) the right to act alone
        result = service.simulate(accounts=accounts, days=days, seed=SEED, report_dir=REPORT_DIR / "simulation",
                                  reviews=True)  # fmt: skip
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    s, reactive, naive = (result.scores[name] for name in ("salesai", "reactive", "naive"))
    size = f"{accounts} accounts × {days} days, seed {SEED}"
    baseline = "reactive baseline"

    def figure(metric: str, value, ceiling, unit: str, target: str, *, higher: bool, naive_value, notes: str = ""):
        return Figure(bench="simulation", metric=f"{metric} ({size})", value=float("nan") if value is None else value,
                      unit=unit, ceiling=ceiling, ceiling_label=baseline, target=target, higher_is_better=higher,
                      notes=notes, extra={"naive_alerting": naive_value})  # fmt: skip

    minutes = 60.0
    return [
        figure("precision at 10", s.precision_at_k, reactive.precision_at_k, "", "≥ 0.8", higher=True,
               naive_value=naive.precision_at_k,
               notes=f"naive alerting: {naive.precision_at_k or 0:.2f}; full report in bench/reports/simulation/report.md"),
        figure("should-act moments surfaced", s.recall, reactive.recall, "", "≥ 0.9", higher=True,
               naive_value=naive.recall, notes=f"naive alerting: {naive.recall:.2f}"),
        figure("median time to surface, event-driven",
               None if s.median_event_latency is None else s.median_event_latency / minutes,
               None if reactive.median_event_latency is None else reactive.median_event_latency / minutes,
               "simulated min", "< 1", higher=False, naive_value=naive.median_event_latency),
        figure("false alarms per rep per day", s.false_alarms_per_rep_day, reactive.false_alarms_per_rep_day, "",
               "< 2", higher=False, naive_value=naive.false_alarms_per_rep_day,
               notes=f"naive alerting: {naive.false_alarms_per_rep_day:.2f}"),
        figure("evidence cites the deciding signals", s.evidence_rate, reactive.evidence_rate, "", "", higher=True,
               naive_value=naive.evidence_rate),
        Figure(bench="simulation", metric=f"autonomous actions that met a moment ({size})",
               value=float(s.autonomous_right), unit="actions", ceiling=float(s.autonomous_actions),
               ceiling_label="autonomous actions in all", higher_is_better=True,
               notes=f"the reps reviewed {result.report['run']['reviews']['approved']} approved, "
               f"{result.report['run']['reviews']['rejected']} rejected; the baselines never act alone"),
        Figure(bench="simulation", metric=f"wall clock ({size})", value=result.report["run"]["seconds"], unit="s",
               higher_is_better=False, target="1,000 × 60 (no reviews) in < 600 s",
               notes=f"{result.report['run']['requests']} webhook requests, {result.report['run']['sweeps']} sweeps"),
    ]  # fmt: skip
