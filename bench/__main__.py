"""Run every benchmark in bench/ and write one report (JSON + markdown) to bench/reports/.

Usage: ``python -m bench [NAME ...]`` (names are module suffixes, e.g. ``ingestion``)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
import traceback
from pathlib import Path

from bench.common import REPORT_DIR, BenchContext, Figure


def _modules(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected or n in selected]
    return names


def _markdown(figures: list[Figure], errors: dict[str, str], started: str) -> str:
    lines = [
        "# salesai benchmark report",
        "",
        f"Run {started} on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}).",
        f"Database: `{os.environ.get('DATABASE_URL', 'sqlite (embedded)').split('@')[-1]}`; "
        f"broker: `{os.environ.get('REDIS_URL', 'filesystem (embedded)').split('@')[-1]}`.",
        "",
        "| bench | metric | value | ceiling / baseline (same run) | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        ceiling = f"{f.ceiling:,.2f} {f.unit} ({f.ceiling_label})" if f.ceiling is not None else "—"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "—"
        lines.append(f"| {f.bench} | {f.metric} | {f.value:,.2f} {f.unit} | {ceiling} | {ratio} | {f.target} |")
    notes = [f"- **{f.bench} / {f.metric}**: {f.notes}" for f in figures if f.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    if errors:
        lines += ["", "## Failed benchmarks", ""] + [
            f"- `{name}`: {err.splitlines()[-1]}" for name, err in errors.items()
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesai.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    ctx = BenchContext()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    for name in _modules(argv):
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            figures.extend(module.run(ctx))
        except Exception:
            errors[name] = traceback.format_exc()
            print(errors[name], file=sys.stderr)
    REPORT_DIR.mkdir(exist_ok=True)
    (REPORT_DIR / "report.json").write_text(
        json.dumps({"started": started, "figures": [f.as_dict() for f in figures], "errors": errors}, indent=2)
    )
    markdown = _markdown(figures, errors, started)
    (REPORT_DIR / "report.md").write_text(markdown)
    print(markdown)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
