"""Account fit: P(an account like this buys), learnt from closed-won vs closed-lost opportunities
over the account's attributes (segment, plan, seats, ARR, product usage), kept apart from intent and
engagement (those are the picture's scores; priority combines them).

Pure functions over :class:`AccountRow` values and JSON parameters. The summary names the strongest
factors with their signs ("fits: mid-market, 40–200 seats; against: no product usage"); with fewer
than :data:`MIN_LABELS` closed deals (or too few of either kind) fit is neutral and says so."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

MIN_LABELS = 20
MIN_CLASS = 5
TOP_FACTORS = 2
SEGMENT_LABELS = {"smb": "SMB", "mid_market": "mid-market", "enterprise": "enterprise"}


@dataclass(frozen=True)
class AccountRow:
    id: int
    segment: str
    plan: str
    seats: int | None
    arr: float
    usage_28d: float | None


def seats_bucket(seats: int | None) -> str:
    if not seats:
        return "no seats bought"
    if seats < 40:
        return "under 40 seats"
    if seats <= 200:
        return "40–200 seats"
    return "over 200 seats"


def usage_bucket(usage: float | None) -> str:
    if not usage:
        return "no product usage"
    return "active product usage" if usage >= 20 else "light product usage"


def factors(row: AccountRow) -> list[str]:
    """The account's attributes as named, readable factors (one-hot)."""
    names = [SEGMENT_LABELS.get(row.segment, row.segment or "no segment"), seats_bucket(row.seats),
             usage_bucket(row.usage_28d)]  # fmt: skip
    if row.plan:
        names.append(f"{row.plan} plan")
    if row.arr > 0:
        names.append("over $50k ARR" if row.arr >= 50_000 else "under $50k ARR")
    return names


def train(rows: Sequence[AccountRow], labels: Sequence[int]) -> tuple[dict, dict]:
    """Fit on closed deals (1 won, 0 lost) → (params, metrics). Too few labels → neutral params."""
    n, won = len(labels), sum(labels)
    if n < MIN_LABELS or min(won, n - won) < MIN_CLASS:
        return {"neutral": True, "n": n, "won": won}, {"labelled": n, "won": won}
    vocabulary = sorted({name for row in rows for name in factors(row)})
    index = {name: i for i, name in enumerate(vocabulary)}
    x = np.zeros((n, len(vocabulary)))
    for i, row in enumerate(rows):
        for name in factors(row):
            x[i, index[name]] = 1.0
    model = LogisticRegression(C=1.0, max_iter=500, random_state=0).fit(x, labels)
    params = {"neutral": False, "n": n, "won": won, "factors": vocabulary, "coef": model.coef_[0].tolist(),
              "intercept": float(model.intercept_[0])}  # fmt: skip
    train_scores = [score(params, row) for row in rows]
    metrics = {"labelled": n, "won": won, "auc_train": float(roc_auc_score(labels, train_scores))}
    return params, metrics


def score(params: dict, row: AccountRow) -> float | None:
    """P(buys) for one account, or None while fit is neutral."""
    if params.get("neutral", True):
        return None
    weights = dict(zip(params["factors"], params["coef"], strict=True))
    z = params["intercept"] + sum(weights.get(name, 0.0) for name in factors(row))
    return 1 / (1 + math.exp(-z))


def summary(params: dict, row: AccountRow) -> str:
    """The top factors for and against, with their signs, or why fit is neutral."""
    if params.get("neutral", True):
        return (f"Fit is neutral: {params.get('n', 0)} won or lost deals so far, {MIN_LABELS} needed "
                f"(at least {MIN_CLASS} of each) before salesai learns what fits.")  # fmt: skip
    weights = dict(zip(params["factors"], params["coef"], strict=True))
    present = sorted(((weights.get(name, 0.0), name) for name in factors(row)), reverse=True)
    fits = [name for w, name in present if w > 0.1][:TOP_FACTORS]
    against = [name for w, name in reversed(present) if w < -0.1][:TOP_FACTORS]
    parts = []
    if fits:
        parts.append("fits: " + ", ".join(fits))
    if against:
        parts.append("against: " + ", ".join(against))
    return "; ".join(parts) or "no attribute stands out for or against"
