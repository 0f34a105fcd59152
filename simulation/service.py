"""The simulation's two entry points: a scored run (``simulate``) and demo history (``run_history``)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from django.db.models import Prefetch
from django.test import override_settings

from accounts.models import Account, Contact
from salesai import clock
from simulation import baselines, deals_rows, driver, learning_report, market, report, run, scoring, stage, world
from simulation import learning as sim_learning


@dataclass
class SimulationResult:
    report: dict
    markdown: str
    json_path: Path | None
    markdown_path: Path | None
    scores: dict[str, scoring.Score]
    observed: driver.Observed | None = None
    world: market.World | None = None


def _database() -> str:
    settings_dict = connection.settings_dict
    return f"{connection.vendor}:{settings_dict.get('NAME')}"


def simulate(
    *,
    accounts: int,
    days: int,
    seed: int,
    k: int = 10,
    force: bool = False,
    keep: bool = False,
    report_dir: Path | None = None,
    progress: bool = True,
    processes: int | None = None,
    reviews: bool = False,
    learning: bool = True,
    log: Callable[[str], object] = lambda _m: None,
) -> SimulationResult:
    """Generate the world, drive salesai with it, score salesai and both baselines on the same world.
    ``processes``: driver processes in step (default: two on PostgreSQL, one on SQLite or with ``reviews``,
    so that a scored run repeats for its seed). ``reviews``:
    the reps review every morning, the trust model earns autonomy and the market answers what salesai
    sends (about three times the work: every approved e-mail makes more of the world). ``learning``
    off (``--no-learning``): the same world with ``LEARNING_ENABLED`` false; its report is written
    beside the learning one (``report-no-learning.*``) and each shows the other's figures."""
    w = world.generate(seed=seed, accounts=accounts, days=days)
    processes = processes or run.default_processes(reviews=reviews)
    log(f"World: {w.summary()['events']} events, {len(w.moments)} should-act moments; {processes} driver process(es).")
    params_before = sim_learning.playbook_params()
    try:
        with override_settings(LEARNING_ENABLED=learning):  # the forked driver processes inherit it
            observed = run.drive(w, force=force, progress=progress, k=k, processes=processes, reviews=reviews,
                                 on_ready=lambda: sim_learning.set_up_deals(w))  # fmt: skip
    finally:
        sim_learning.restore_playbook_params(params_before)
    # the market's answers to what salesai sent are moments too (a reply to answer, a follow-up due)
    # and an answer to one of its e-mails ends the follow-ups the person no longer needs
    kept = [observed.ended.get(m.id, m) for m in w.moments]
    w.moments = sorted([m for m in kept if m is not None] + observed.moments, key=lambda m: (m.at, m.id))
    common = {"moments": w.moments, "reps": len(w.reps), "days": w.days, "k": k}
    scores = {
        "salesai": scoring.score(system="salesai", sightings=observed.sightings, snapshots=observed.snapshots, **common)
    }
    for name, baseline in (("reactive", baselines.reactive), ("naive", baselines.naive)):
        sightings, snapshots = baseline(w, k=k)
        scores[name] = scoring.score(system=name, sightings=sightings, snapshots=snapshots, **common)
    run_data = {"seconds": observed.seconds, "requests": observed.requests, "sweeps": observed.sweeps,
           "refused": observed.refused, "database": _database(), "processes": processes,
           "reviews": observed.reviews, "reviews_on": reviews}  # fmt: skip
    data = report.build(world=w, scores=list(scores.values()), run=run_data)
    data["cap_breaches"] = deals_rows.cap_breaches(domains={a.domain for a in w.accounts})
    data["missed_examples"] = [
        {"kind": r.moment.kind, "account": r.moment.account, "at": r.moment.at.isoformat(), "deciding": list(r.moment.deciding)}
        for r in scores["salesai"].missed[:50]
    ]  # fmt: skip
    data["learning"] = sim_learning.scores(w, observed.snapshots, k=k, learning=learning)
    json_path = md_path = None
    if report_dir is not None:
        learning_report.attach_other(data, report_dir)
        json_path, md_path = report.write(data, report_dir, name=learning_report.report_name(learning))
    if not keep:
        stage.clean(force=True)
    return SimulationResult(data, report.markdown(data), json_path, md_path, scores, observed, w)


def run_history(*, accounts: list | None = None, days: int = 21, seed: int = 7, end: dt.datetime | None = None,
                analyse_at_simulated_time: bool = False, progress: bool = False) -> driver.Observed:  # fmt: skip
    """Give existing accounts (all, or the demo's) ``days`` of believable history ending at ``end`` (now).

    Each account gets a hidden state and the signals it causes (page views with pricing bursts,
    product usage, outreach and varied replies, demo requests, meetings), delivered through the real
    webhooks, each at its simulated instant. Nothing is cleaned up or scored.

    By default (fast) analysis is left to Celery as configured: the
    webhooks queue it and bursts coalesce, so the worker analyses each account about once when it
    starts, at real time. ``analyse_at_simulated_time=True`` runs Celery eagerly and sweeps every
    simulated hour, so recommendations are also created, updated and withdrawn along the way (full
    fidelity, but every analysis runs in the command: far slower for the demo)."""
    end = end or clock.now()
    rows = accounts if accounts is not None else list(Account.objects.select_related("owner"))
    rows = list(Account.objects.filter(pk__in=[a.pk for a in rows]).select_related("owner").prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.order_by("email"))).order_by("domain"))  # fmt: skip
    rng = random.Random(seed)
    sim_accounts = []
    for index, a in enumerate(rows):
        people = [market.SimContact(c.email, c.name or c.email.split("@")[0].title(), c.title, c.seniority,
                                   c.user_id or f"demo-{a.pk}-{c.pk}") for c in a.contacts.all()]  # fmt: skip
        if not people:
            continue
        renewal = a.contracts.filter(status="active").order_by("renewal_date").first()
        customer = renewal is not None and rng.random() < 0.6
        sim_accounts.append(market.SimAccount(
            index=index, name=a.name, domain=a.domain, rep=a.owner.username if a.owner else "unassigned",
            segment=a.segment, arr=int(a.arr), customer=customer, seats=min(a.seats or len(people), len(people)) or None,
            contacts=people, renewal_date=renewal.renewal_date if customer and renewal else None,
            contract_value=int(renewal.value) if customer and renewal else 0, curious=rng.random() < 0.15))  # fmt: skip
    start = (end - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    w = world.generate(seed=seed, accounts=sim_accounts, days=days, start=start)
    w.events = [e for e in w.events if e.deliver_at <= end]
    creds = stage.set_up(w, create_rows=False)
    return driver.Driver(w, creds, observe=False).run(
        progress=progress, analyse_at_simulated_time=analyse_at_simulated_time
    )
