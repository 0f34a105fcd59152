"""The anytime-valid lower bound on a domain's reliability (a confidence sequence).

Why not Wilson or Clopper–Pearson: those bounds hold for ONE look at a sample size fixed in advance.
The trust record is re-checked after every review, and a domain is promoted the first time the bound
crosses the requirement — the textbook optional-stopping trap: a 95% fixed-sample bound, watched
continuously, crosses a requirement above the true rate far more often than 5% of the time
(``trust/tests/test_bounds.py`` measures it).

What we use instead: the beta-binomial mixture confidence sequence (Robbins' method of mixtures), as
given in Howard, Ramdas, McAuliffe & Sekhon (2021), "Time-uniform, nonparametric, nonasymptotic
confidence sequences", Annals of Statistics 49(2), 1055–1080, §3 / Prop. 6 (the beta-binomial mixture).

For Bernoulli(p) observations with S successes and F failures, and any prior Beta(a, b) chosen before
the data, the mixture likelihood ratio

    M_t(p) = ∫ q^S (1-q)^F dBeta(q; a, b) / (p^S (1-p)^F) = B(a+S, b+F) / B(a, b) / (p^S (1-p)^F)

is a non-negative martingale with M_0 = 1 under p, so by Ville's inequality P(∃t: M_t(p) ≥ 1/α) ≤ α.
Hence, simultaneously for all t, with probability ≥ 1 − α, p lies in

    C_t = { p : log B(a+S, b+F) − log B(a, b) − S·log p − F·log(1−p) < log(1/α) }.

``log M_t(p)`` is convex in p with its minimum (≤ 0) at p̂ = S/(S+F), so the lower end of C_t is the
unique root of ``log M_t(p) = log(1/α)`` on (0, p̂), found by bisection with ``math.lgamma``.

Prior: Beta(k·r, k·(1−r)) centred on the required reliability r with strength k = 10 (``PRIOR_STRENGTH``).
It is fixed by the policy, not by the data, so validity holds for any choice; centring it where the
decision is made tightens the bound there (about 46 clean approvals to certify 0.90 at 95%, against
about 68 with a uniform prior).

Time decay: the trust model feeds the *decay-weighted* counts (each outcome weighs
0.5 ** (age_days / half_life_days)), so S and F may be fractional; the formula is continuous in them.
Weighting only ever shrinks the counts (every weight ≤ 1), so the bound is never more optimistic than
the undecayed one computed on the same outcomes — decay trades some power for recency.
"""

from __future__ import annotations

import math
from statistics import NormalDist

PRIOR_STRENGTH = 10.0
_BISECTION_STEPS = 80


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def prior_for(required: float, strength: float = PRIOR_STRENGTH) -> tuple[float, float]:
    """The Beta(a, b) mixing prior centred on the required reliability."""
    required = min(max(required, 0.01), 0.99)
    return strength * required, strength * (1.0 - required)


def log_mixture_ratio(p: float, successes: float, failures: float, a: float, b: float) -> float:
    """log M_t(p): the log of the beta-binomial mixture martingale at p."""
    value = _log_beta(a + successes, b + failures) - _log_beta(a, b)
    if successes:
        value -= successes * math.log(p)
    if failures:
        value -= failures * math.log1p(-p)
    return value


def mixture_lower_bound(successes: float, failures: float, *, alpha: float, a: float = 1.0, b: float = 1.0) -> float:
    """The lower end of the (1 − alpha) beta-binomial mixture confidence sequence at (S, F).

    Valid at every sample size at once (anytime-valid), for any stopping rule."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    if successes < 0 or failures < 0:
        raise ValueError("counts must be non-negative")
    if successes <= 0:
        return 0.0
    threshold = math.log(1.0 / alpha)
    p_hat = successes / (successes + failures)
    if log_mixture_ratio(p_hat, successes, failures, a, b) >= threshold:
        return 0.0  # the interval is empty only in theory; say "nothing known"
    low, high = 0.0, p_hat  # log M(low→0) = +inf ≥ threshold > log M(high)
    for _ in range(_BISECTION_STEPS):
        mid = (low + high) / 2
        if mid <= 0:
            break
        if log_mixture_ratio(mid, successes, failures, a, b) >= threshold:
            low = mid
        else:
            high = mid
    return high


def reliability_lower_bound(successes: float, failures: float, *, confidence: float, required: float) -> float:
    """The trust model's bound: the mixture confidence sequence with the prior centred on ``required``."""
    a, b = prior_for(required)
    return mixture_lower_bound(successes, failures, alpha=1.0 - confidence, a=a, b=b)


def certifies(successes: float, failures: float, *, confidence: float, required: float) -> bool:
    """Whether the bound is at or above ``required`` — in O(1): by convexity of log M_t, the lower end
    is ≥ r exactly when r ≤ p̂ and r lies outside the confidence sequence (log M_t(r) ≥ log 1/α)."""
    if successes <= 0:
        return False
    if successes / (successes + failures) < required:
        return False
    a, b = prior_for(required)
    return log_mixture_ratio(required, successes, failures, a, b) >= math.log(1.0 / (1.0 - confidence))


def clean_successes_needed(
    successes: float, failures: float, *, confidence: float, required: float, limit: int = 100_000
) -> int | None:
    """How many more successes in a row (no failure) lift the bound to ``required``.

    The bound grows with S, so the smallest such number is found by doubling then bisection.
    ``None`` if not reachable within ``limit`` (e.g. a requirement of 0.999 after many failures)."""

    def qualifies(extra: int) -> bool:
        return certifies(successes + extra, failures, confidence=confidence, required=required)

    if qualifies(0):
        return 0
    high = 1
    while not qualifies(high):
        high *= 2
        if high > limit:
            return None
    low = high // 2  # does not qualify (or is 0)
    while high - low > 1:
        mid = (low + high) // 2
        if qualifies(mid):
            high = mid
        else:
            low = mid
    return high


def wilson_lower_bound(successes: float, n: float, *, confidence: float) -> float:
    """The one-sided Wilson score lower bound (fixed-sample; shown only for comparison in tests)."""
    if n <= 0:
        return 0.0
    z = NormalDist().inv_cdf(confidence)
    p_hat = successes / n
    denominator = 1 + z * z / n
    centre = p_hat + z * z / (2 * n)
    margin = z * math.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denominator)
