"""The report's learning section: figures with learning on beside the same world with it off, and a
reliability diagram of the confidence the reps saw (inline SVG, no script, no CDN)."""

from __future__ import annotations

import json
from pathlib import Path

from django.utils.html import escape

NAMES = {True: "report", False: "report-no-learning"}
SIZE, PAD = 240, 30


def report_name(learning: bool) -> str:
    return NAMES[learning]


def _same_world(a: dict, b: dict) -> bool:
    keys = ("accounts", "days")
    return a.get("seed") == b.get("seed") and all(a["world"].get(k) == b["world"].get(k) for k in keys)


def attach_other(data: dict, directory: Path) -> None:
    """Put the other variant's learning figures (same seed and size) beside this run's, if there is one."""
    other = directory / f"{report_name(not data['learning']['enabled'])}.json"
    try:
        previous = json.loads(other.read_text())
    except (OSError, ValueError):
        return
    if previous.get("learning") and _same_world(data, previous):
        data["learning_other"] = {**previous["learning"], "precision_at_k": previous["systems"]["salesai"]["precision_at_k"],
                                  "recall": previous["systems"]["salesai"]["recall"],
                                  "false_alarms_per_rep_per_day": previous["systems"]["salesai"]["false_alarms_per_rep_per_day"],
                                  "seconds": previous["run"].get("seconds")}  # fmt: skip


def reliability_svg(rows: list[dict]) -> str:
    """Predicted (x) against observed (y) approval rate per bin; the diagonal is perfect calibration."""
    inner = SIZE - 2 * PAD

    def pos(x: float, y: float) -> tuple[float, float]:
        return PAD + x * inner, SIZE - PAD - y * inner

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" role="img" '
             'aria-label="Reliability diagram: shown confidence against the share approved">',
             f'<rect x="{PAD}" y="{PAD}" width="{inner}" height="{inner}" fill="none" stroke="#999"/>',
             '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#bbb" stroke-dasharray="4"/>'.format(*pos(0, 0), *pos(1, 1)),
             f'<text x="{SIZE / 2}" y="{SIZE - 6}" font-size="11" text-anchor="middle">confidence shown</text>',
             f'<text x="10" y="{SIZE / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 10 {SIZE / 2})">'
             "share approved</text>"]  # fmt: skip
    biggest = max((r["n"] for r in rows), default=1)
    points = [pos(r["predicted"], r["observed"]) for r in rows]
    if len(points) > 1:
        parts.append('<polyline fill="none" stroke="#1f6feb" points="{}"/>'.format(
            " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))  # fmt: skip
    for (x, y), r in zip(points, rows, strict=True):
        radius = 2 + 6 * (r["n"] / biggest) ** 0.5
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="#1f6feb" fill-opacity="0.6">'
                     f"<title>{escape(r['bin'])}: {r['n']} reviews, {r['observed']:.0%} approved</title></circle>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def learning_section(report: dict) -> list[str]:
    here = report.get("learning")
    if not here:
        return []
    other = report.get("learning_other")
    on, off = (here, other) if here["enabled"] else (other, here)
    salesai = report["systems"]["salesai"]
    here_extra = {"precision_at_k": salesai["precision_at_k"], "recall": salesai["recall"],
                  "false_alarms_per_rep_per_day": salesai["false_alarms_per_rep_per_day"],
                  "seconds": report["run"].get("seconds")}  # fmt: skip
    if here["enabled"]:
        on = {**here, **here_extra}
    else:
        off = {**here, **here_extra}
    lines = ["", "## Learning", "",
             f"Learning was **{'on' if here['enabled'] else 'off'}** in this run. Brier: the confidence each rep saw "
             "against whether they approved; base rate: a constant at the approval rate. Fit AUC: salesai's fit "
             "score on accounts held out of training, against the hidden fit.",
             "", "| figure | learning on | learning off |", "|---|---|---|"]  # fmt: skip
    rows = [("reviews", "reviews"), ("approval rate", "approval_rate"), ("Brier", "brier"),
            ("Brier, base rate", "brier_base_rate"), ("rejections", "rejections"),
            ("Brier and base rate after the first morning", "brier_after_first_morning"),
            ("precision at 10 by week", "precision_at_10_by_week"),
            ("precision at 10 (all mornings)", "precision_at_k"), ("share of moments surfaced", "recall"),
            ("false alarms per rep per day", "false_alarms_per_rep_per_day"), ("fit AUC (held out)", "fit_auc"),
            ("threshold changes proposed", "threshold_changes_proposed"), ("run time, s", "seconds")]  # fmt: skip
    for label, key in rows:
        lines.append(f"| {label} | {_fmt((on or {}).get(key))} | {_fmt((off or {}).get(key))} |")
    if other is None:
        lines += ["", f"(Run `simulate` {'with' if here['enabled'] else 'without'} `--no-learning` on the same seed and "
                  "size to fill the other column.)"]  # fmt: skip
    if here.get("reliability"):
        lines += ["", "Reliability of the confidence shown (this run; dot size = reviews):", "",
                  reliability_svg(here["reliability"])]  # fmt: skip
    return lines
