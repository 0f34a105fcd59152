"""Shared pieces of the benchmarks: the figure type, timing helpers, and the run context."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPORT_DIR = Path(__file__).resolve().parent / "reports"


@dataclass
class Figure:
    """One measured number beside its ceiling/baseline from the same run.

    ``higher_is_better`` says how to read the ratio (throughput: higher; latency: lower)."""

    bench: str
    metric: str
    value: float
    unit: str
    ceiling: float | None = None
    ceiling_label: str = ""
    target: str = ""
    higher_is_better: bool = True
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.ceiling:
            return None
        return self.value / self.ceiling

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


@dataclass
class BenchContext:
    database_url: str = field(default_factory=lambda: os.environ.get("DATABASE_URL", ""))
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", ""))
    quick: bool = field(default_factory=lambda: os.environ.get("BENCH_QUICK", "") == "1")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def time_calls(fn: Callable[[], object], *, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn``."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")
