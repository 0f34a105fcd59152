"""Benchmarks: run by ``make bench`` (``python -m bench``), apart from the tests.

Each ``bench/bench_*.py`` module exposes ``run(ctx: BenchContext) -> list[Figure]``. Every figure is
measured beside a ceiling or baseline from the same run, because these machines are noisy: the report
gives medians and ratios, not one absolute time."""
