"""The quality report: salesai beside the reactive and naive baselines, as markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from simulation.learning_report import learning_section
from simulation.market import World
from simulation.scoring import Score


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    return f"{value}{unit}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def build(*, world: World, scores: list[Score], run: dict) -> dict:
    return {"world": world.summary(), "seed": world.seed, "start": world.start.isoformat(), "run": run,
            "systems": {s.system: s.as_dict() for s in scores}}  # fmt: skip


def markdown(report: dict) -> str:
    w, run, systems = report["world"], report["run"], report["systems"]
    names = list(systems)
    lines = [
        "# salesai simulation: quality report",
        "",
        f"World: seed {report['seed']}, {w['accounts']} accounts ({w['customers']} customers), {w['reps']} reps, "
        f"{w['days']} days from {report['start'][:10]}; {w['events']} events ({w['duplicates']} duplicate deliveries, "
        f"{w['late']} late, {w['bot_events']} from bots); {w['moments']} should-act moments.",
        f"Run: {_fmt(run.get('seconds'))} s wall clock, {run.get('requests', 0)} webhook requests, "
        f"{run.get('sweeps', 0)} sweeps, {run.get('processes', 1)} driver process(es), database `{run.get('database', '')}`. "
        + (
            f"Simulated reps reviewed every morning: {run['reviews']['approved']} approved, "
            f"{run['reviews']['rejected']} rejected."
            if run.get("reviews_on")
            else "Reviews off: no track record builds, so the trust model never acts alone (`--reviews`)."
        ),
        "",
        "| figure | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    rows = [
        ("precision at k (mean over morning inboxes)", "precision_at_k", _fmt),
        ("share of should-act moments surfaced", "recall", _fmt),
        ("median time to surface, event-driven", "median_seconds_to_surface_event_driven", _duration),
        ("p90 time to surface, event-driven", "p90_seconds_to_surface_event_driven", _duration),
        ("median time to surface, all", "median_seconds_to_surface", _duration),
        ("evidence cites the deciding signals", "evidence_cites_deciding_signals", _fmt),
        ("false alarms per rep per day", "false_alarms_per_rep_per_day", _fmt),
        ("autonomous actions (right)", None, None),
    ]
    for label, key, fmt in rows:
        if key is None:
            cells = [f"{s['autonomous_actions']} ({s['autonomous_right']})" for s in systems.values()]
        else:
            cells = [fmt(s[key]) for s in systems.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## By kind of moment", "", "| moment | count | " + " | ".join(f"{n}: surfaced, median, cites" for n in names) + " |",
              "|---|---|" + "---|" * len(names)]  # fmt: skip
    kinds = sorted({k for s in systems.values() for k in s["by_kind"]})
    for kind in kinds:
        cells = []
        count = 0
        for s in systems.values():
            k = s["by_kind"].get(kind)
            if not k:
                cells.append("—")
                continue
            count = k["moments"]
            cells.append(
                f"{k['recall']:.2f}, {_duration(k['median_seconds_to_surface'])}, {_fmt(k['evidence_cites_deciding_signals'])}"
            )
        marker = (
            " (event-driven)" if any(s["by_kind"].get(kind, {}).get("event_driven") for s in systems.values()) else ""
        )
        lines.append(f"| {kind}{marker} | {count} | " + " | ".join(cells) + " |")
    if "cap_breaches" in report:
        breaches = report["cap_breaches"]
        lines += ["", f"Caps: of {breaches['salesai_emails']} e-mails salesai sent, {breaches['contact']} broke a contact "
                  f"cap and {breaches['account']} an account's daily cap (counting the reps' own e-mails)"
                  + (f"; {breaches['answers_beyond_cap']} more were a rep's answers to the contact's own message, which "
                     "the caps leave alone" if breaches.get("answers_beyond_cap") else "") + "."]  # fmt: skip
    lines += ["", "## False alarms by action type", ""]
    for name, s in systems.items():
        parts = ", ".join(f"{action} {count}" for action, count in s["false_alarms_by_action"].items()) or "none"
        lines.append(f"- {name}: {parts}")
    lines += learning_section(report)
    if run.get("refused"):
        lines += ["", "## Requests salesai refused (first 20)", ""] + [f"- `{r}`" for r in run["refused"]]
    lines += [
        "",
        "Definitions: see `simulation/scoring.py`. Reactive = the rep checks a dashboard of active accounts at "
        "9:00 daily; naive = one alert per pricing-page view. Targets: precision at 10 ≥ 0.8, ≥ 90 % surfaced, "
        "median event-driven time to surface < 1 simulated minute, < 2 false alarms per rep per day.",
    ]
    return "\n".join(lines) + "\n"


def write(report: dict, directory: Path, name: str = "report") -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    md_path.write_text(markdown(report))
    return json_path, md_path
