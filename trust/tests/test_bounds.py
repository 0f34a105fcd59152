"""The anytime-valid bound: agrees with an independent scipy computation, and survives optional stopping."""

from __future__ import annotations

import math
import random

import pytest
from scipy import optimize, special, stats

from trust import bounds


def scipy_lower_bound(s: float, f: float, alpha: float, a: float, b: float) -> float:
    """The same confidence sequence, solved independently with scipy's betaln and brentq."""

    def excess(p: float) -> float:
        return (
            special.betaln(a + s, b + f)
            - special.betaln(a, b)
            - s * math.log(p)
            - f * math.log1p(-p)
            - math.log(1 / alpha)
        )

    p_hat = min(s / (s + f), 1 - 1e-12)
    return optimize.brentq(excess, 1e-12, p_hat, xtol=1e-12)


@pytest.mark.parametrize(
    ("s", "f", "alpha", "a", "b"),
    [(47, 3, 0.05, 8.5, 1.5), (10, 0, 0.05, 1, 1), (200, 15, 0.01, 9, 1), (33.7, 2.4, 0.05, 9, 1), (5, 5, 0.1, 1, 1)],
)
def test_mixture_bound_matches_scipy(s, f, alpha, a, b):
    ours = bounds.mixture_lower_bound(s, f, alpha=alpha, a=a, b=b)
    assert ours == pytest.approx(scipy_lower_bound(s, f, alpha, a, b), abs=1e-9)


def test_bound_is_wider_than_fixed_sample_bounds():
    """Validity at every n costs width: below Clopper–Pearson and Wilson at the same data."""
    s, n = 47, 50
    ours = bounds.reliability_lower_bound(s, n - s, confidence=0.95, required=0.85)
    clopper_pearson = stats.beta.ppf(0.05, s, n - s + 1)
    assert ours < clopper_pearson
    assert ours < bounds.wilson_lower_bound(s, n, confidence=0.95)
    assert 0.75 < ours < 0.85


def test_no_evidence_means_no_bound():
    assert bounds.reliability_lower_bound(0, 0, confidence=0.95, required=0.9) == 0.0
    assert bounds.reliability_lower_bound(0, 12, confidence=0.95, required=0.9) == 0.0


def test_certifies_agrees_with_the_bound():
    for s in range(0, 120, 7):
        for f in range(0, 8):
            lower = bounds.reliability_lower_bound(s, f, confidence=0.95, required=0.9)
            assert bounds.certifies(s, f, confidence=0.95, required=0.9) == (lower >= 0.9 - 1e-12)


def test_clean_successes_needed_is_the_smallest_number_that_qualifies():
    needed = bounds.clean_successes_needed(20, 1, confidence=0.95, required=0.9)
    assert needed is not None and needed > 0
    assert bounds.reliability_lower_bound(20 + needed, 1, confidence=0.95, required=0.9) >= 0.9
    assert bounds.reliability_lower_bound(20 + needed - 1, 1, confidence=0.95, required=0.9) < 0.9
    assert bounds.clean_successes_needed(0, 0, confidence=0.95, required=0.9) == 46


def _false_promotions(true_p: float, required: float, horizon: int, trials: int, seed: int) -> tuple[float, float]:
    """Re-check after every observation (from the 20th, like min_reviews); count runs ever promoted."""
    rng = random.Random(seed)
    wilson = mixture = 0
    for _ in range(trials):
        s = 0
        wilson_crossed = mixture_crossed = False
        for n in range(1, horizon + 1):
            s += rng.random() < true_p
            if n < 20:
                continue
            if not wilson_crossed and bounds.wilson_lower_bound(s, n, confidence=0.95) >= required:
                wilson_crossed = True
            if not mixture_crossed and bounds.certifies(s, n - s, confidence=0.95, required=required):
                mixture_crossed = True
            if wilson_crossed and mixture_crossed:
                break
        wilson += wilson_crossed
        mixture += mixture_crossed
    return wilson / trials, mixture / trials


def test_optional_stopping_promotes_wilson_but_not_the_confidence_sequence():
    """True reliability 0.89 < 0.90 required, 95% confidence, checked after each of 1,000 reviews:
    the continuously monitored Wilson bound falsely promotes in ~17% of runs (> 3× α); ours ≤ α.
    (Measured at 1,000 runs, seed 1: Wilson 0.174, mixture 0.007.)"""
    wilson_rate, mixture_rate = _false_promotions(0.89, 0.90, horizon=1000, trials=1000, seed=1)
    assert wilson_rate > 3 * 0.05
    assert mixture_rate <= 0.05
