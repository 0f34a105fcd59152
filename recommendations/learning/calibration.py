"""Calibrated confidence per playbook: P(a rep approves it), learnt from outcome records.

Pure functions over plain rows and JSON parameters (no database), so each rule is tested on small
hand-made histories. A playbook's model is a logistic regression over the finding's features and
its groups (kind of finding, action, rep, rep and role: one indicator each), shrunk towards a Beta
prior centred on the playbook's own hand-set confidence: with ``n`` labelled outcomes of the
finding's action the shown probability is ``(n · p_data + S · prior) / (n + S)``, so three outcomes
move it by at most 3 / (3 + S) of the way (S = :data:`PRIOR_STRENGTH`).

Reject reasons are read, not lumped together: ``bad_draft`` counts against the draft (kept out of the
trigger's label), ``wrong_contact`` teaches the contact choice (the rep-and-role indicators below and
:mod:`recommendations.learning.contacts`), ``wrong_timing`` re-times the playbook
(:mod:`recommendations.learning.timing`), and ``not_relevant`` / ``already_handled`` count against
the trigger's precision.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from recommendations.playbooks.base import SENIORITY_RANK

#: Pseudo-outcomes of the Beta prior: the data outweigh the hand-set value only past this many.
PRIOR_STRENGTH = 10
#: Pseudo-outcomes behind the installation's record (every playbook's reviews pooled): it gathers
#: labels many times faster than one playbook, so it outweighs the hand-set guess sooner.
POOL_STRENGTH = 5
#: A logistic regression is fitted only with this many labels, and this many of each class. Reps reject
#: rarely, so waiting for five rejections left a playbook on its average for weeks; with two, the
#: penalty (:data:`REGULARISATION_C`) and the Beta prior keep the early fits modest.
MIN_FIT = 30
MIN_CLASS = 2
#: Pseudo-counts behind a rep's own approval rates (towards the playbook's rate).
RATE_STRENGTH = 3
#: Recency: a label loses half its weight in this many days (reps' tastes and markets drift).
HALF_LIFE_DAYS = 14
#: The key of the installation-wide record, read for a playbook nobody reviewed yet.
POOLED = "*"
FEATURES = ("prior", "urgency", "intent", "seniority", "fit", "account_rate", "evidence", "evidence_days", "waited")
#: Inverse strength of the regression's L2 penalty (the Beta prior guards small samples; the penalty
#: keeps a group seen a few times from being read as certain either way).
REGULARISATION_C = 1.0
#: A group (kind of finding, action, rep, rep and role, tenth of the prior) gets its own indicator once
#: seen this many times.
MIN_GROUP = 5
#: Standardised inputs are clipped to this many standard deviations of the training data.
MAX_Z = 3.0
#: Caps of the count features (scaled to 0–1): more evidence than this says nothing more.
EVIDENCE_CAP, EVIDENCE_DAYS_CAP, WAITED_CAP_DAYS = 10, 7, 7
#: Reasons that say nothing about whether the trigger was right (they teach something else).
NOT_ABOUT_THE_TRIGGER = frozenset({"bad_draft"})
TRIGGER_MISSES = frozenset({"not_relevant", "already_handled"})


@dataclass(frozen=True)
class Labelled:
    """One reviewed recommendation as the learner sees it."""

    playbook: str
    features: dict
    owner: int | None
    seniority: str
    review: str  # approved | edited | rejected
    reject_reason: str
    at: dt.datetime

    @property
    def approved(self) -> bool:
        return self.review in ("approved", "edited")


def trigger_label(row: Labelled) -> int | None:
    """1 approved, 0 rejected, None when the reason is about something other than the trigger."""
    if row.approved:
        return 1
    if row.reject_reason in NOT_ABOUT_THE_TRIGGER:
        return None
    return 0


def seniority_score(seniority: str) -> float:
    return SENIORITY_RANK.get(seniority or "unknown", 0) / 5


def _key(*parts) -> str:
    return "|".join(str(p) for p in parts)


def _rate(counts: dict, key: str, base: float = 0.5) -> float:
    approved, total = counts.get(key, (0.0, 0.0))
    return (approved + RATE_STRENGTH * base) / (total + RATE_STRENGTH)


def as_number(value, default: float) -> float:
    """A stored feature as a number (a missing, null or malformed one reads as ``default``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def vector(features: dict, params: dict, *, owner, seniority: str, rates: dict | None = None) -> list[float]:
    """The model's inputs: :data:`FEATURES` in order (the account's record comes from ``rates``,
    default: the fitted counts decayed to the training time), then one indicator per group of the
    params' vocabulary (:func:`tokens`)."""
    base = params.get("base_rate", 0.5)
    rates = params.get("rates", {}) if rates is None else rates
    groups = tokens(features, owner=owner, seniority=seniority)
    return [
        as_number(features.get("prior"), 0.5),
        as_number(features.get("urgency"), 0.5),
        as_number(features.get("intent"), 0.0),
        seniority_score(seniority),
        as_number(features.get("fit"), 0.5),
        # this account's own record with the playbook (an account that keeps tripping it for nothing)
        _rate(rates, _key("account", features.get("account")), base),
        # what the evidence looks like: how much of it, over how many days (one burst or a trickle)
        min(as_number(features.get("evidence"), 1.0), EVIDENCE_CAP) / EVIDENCE_CAP,
        min(as_number(features.get("evidence_days"), 1.0), EVIDENCE_DAYS_CAP) / EVIDENCE_DAYS_CAP,
        # how long it had waited for a review when it was read (what waits is often handled already)
        min(max(as_number(features.get("waited_days"), 0.0), 0.0), WAITED_CAP_DAYS) / WAITED_CAP_DAYS,
    ] + [1.0 if token in groups else 0.0 for token in params.get("vocab", ())]


def tokens(features: dict, *, owner, seniority: str) -> set[str]:
    """The finding's groups, one indicator each in the model (a kind of finding, an action, a rep, a
    rep writing to one role, the playbook's own confidence by tenths): what a group's reviewers decide
    is learnt as its own effect. The tenths let the model bend where a straight line in the hand-set
    confidence cannot: a reply the intent model could barely read is rejected far more often than
    the line through the confident ones says."""
    prior = min(max(as_number(features.get("prior"), 0.5), 0.0), 0.99)
    return {f"code={features.get('code') or ''}", f"action={features.get('action') or ''}", f"rep={owner}",
            f"role={owner}|{seniority or ''}", f"prior={math.floor(prior * 10) / 10:.1f}"}  # fmt: skip


def vocabulary(rows: Sequence[Labelled]) -> list[str]:
    """The groups seen at least :data:`MIN_GROUP` times (rarer ones stay with the playbook's average)."""
    counts: dict[str, int] = {}
    for r in rows:
        for token in tokens(r.features, owner=r.owner, seniority=r.seniority):
            counts[token] = counts.get(token, 0) + 1
    return sorted(token for token, count in counts.items() if count >= MIN_GROUP)


def _rate_keys(r: Labelled) -> tuple[str, ...]:
    return (_key("account", r.features.get("account")),)


def running_rates(usable: Sequence[tuple[Labelled, int]], now: dt.datetime) -> tuple[list[dict], dict]:
    """For each row (in time order) the records as they stood *before* it, and the records at ``now``:
    counts decay with :data:`HALF_LIFE_DAYS`, so a row sees what a rep saw then (no look at its own
    label or the future), and prediction sees the same kind of number today."""
    order = sorted(range(len(usable)), key=lambda i: usable[i][0].at)
    counts: dict[str, list[float]] = {}
    stamp: dict[str, dt.datetime] = {}
    before: list[dict] = [{}] * len(usable)

    def decayed(key: str, at: dt.datetime) -> list[float]:
        pair = counts.get(key, [0.0, 0.0])
        factor = recency(stamp[key], at) if key in stamp else 1.0
        return [pair[0] * factor, pair[1] * factor]

    for i in order:
        r, y = usable[i]
        keys = _rate_keys(r)
        before[i] = {key: decayed(key, r.at) for key in keys}
        for key in keys:
            approved, total = before[i][key]
            counts[key], stamp[key] = [approved + y, total + 1.0], r.at
    return before, {key: decayed(key, now) for key in counts}


def recency(at: dt.datetime, now: dt.datetime) -> float:
    return 0.5 ** (max(0.0, (now - at).total_seconds()) / 86400 / HALF_LIFE_DAYS)


def pooled(rows: Iterable[Labelled], now: dt.datetime) -> list[float]:
    """[recency-weighted approvals, weight] over every playbook's trigger labels."""
    approved = weight = 0.0
    for r in rows:
        y = trigger_label(r)
        if y is not None:
            w = recency(r.at, now)
            approved, weight = approved + w * y, weight + w
    return [approved, weight]


def fit_playbook(rows: Sequence[Labelled], *, prior: float, now: dt.datetime,
                 pool: Sequence[float] = (0.0, 0.0)) -> tuple[dict, dict]:  # fmt: skip
    """Fit one playbook's model from its labelled rows → (params, metrics) as JSON-able dicts. ``pool``
    is the installation's record over all playbooks (:func:`pooled`), the prior's first source."""
    usable = [(r, y) for r in rows if (y := trigger_label(r)) is not None]
    weights = [recency(r.at, now) for r, _ in usable]
    n = len(usable)
    positives = sum(w * y for (_, y), w in zip(usable, weights, strict=True))
    weight_sum = sum(weights)
    target = shrink_target({"pooled": list(pool)}, prior)
    base = (positives + PRIOR_STRENGTH * target) / (weight_sum + PRIOR_STRENGTH)
    before, rates = running_rates(usable, now)
    actions: dict[str, int] = {}
    for r, _ in usable:
        action = str(r.features.get("action") or "")
        actions[action] = actions.get(action, 0) + 1
    params = {"features": list(FEATURES), "prior": prior, "prior_strength": PRIOR_STRENGTH, "n": n,
              "actions": actions, "pooled": list(pool), "base_rate": base, "rates": rates, "coef": None,
              "intercept": None}  # fmt: skip
    labels = [y for _, y in usable]
    params["vocab"] = vocabulary([r for r, _ in usable])
    if n >= MIN_FIT and min(labels.count(0), labels.count(1)) >= MIN_CLASS:
        x = np.array([
            vector(r.features, params, owner=r.owner, seniority=r.seniority, rates=seen)
            for (r, _), seen in zip(usable, before, strict=True)
        ])  # fmt: skip
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-9] = 1.0  # a constant feature (up to rounding) carries nothing
        model = LogisticRegression(C=REGULARISATION_C, max_iter=1000, random_state=0)
        model.fit((x - mean) / scale, labels, sample_weight=weights)
        params.update(coef=model.coef_[0].tolist(), intercept=float(model.intercept_[0]),
                      mean=mean.tolist(), scale=scale.tolist())  # fmt: skip
    metrics = _metrics(usable, params, rows)
    return params, metrics


def data_probability(params: dict, x: Sequence[float]) -> float:
    """What the data alone say (the regression, or the weighted base rate without one)."""
    if params.get("coef") is None or params.get("features") != list(FEATURES) or len(params["coef"]) != len(x):
        # no regression, or one fitted on other features (before an upgrade): the weighted base rate
        return params.get("base_rate", params.get("prior", 0.5))
    # a value far outside what the model was fitted on is read as the edge of it (no wild extrapolation)
    z = params["intercept"] + sum(
        c * max(-MAX_Z, min(MAX_Z, (v - m) / s))
        for c, v, m, s in zip(params["coef"], x, params["mean"], params["scale"], strict=True)
    )
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def shrink_target(params: dict | None, prior: float) -> float:
    """The prior the playbook's data are shrunk towards: the installation's approval record over every
    playbook (itself Beta-shrunk to the finding's hand-set ``prior``), so a playbook with few reviews
    starts from what reps here approve rather than from a guess."""
    approved, weight = (params or {}).get("pooled", (0.0, 0.0))
    return (approved + POOL_STRENGTH * prior) / (weight + POOL_STRENGTH)


def labelled_like(params: dict, features: dict) -> int:
    """How many labelled rows speak for this finding: those of its action when the model counts them
    per action (a playbook's second action with 3 reviews is shrunk like a playbook with 3), else all."""
    actions = params.get("actions")
    if not isinstance(actions, dict):
        return params.get("n", 0)
    return int(actions.get(str(features.get("action") or ""), 0))


def probability(params: dict | None, *, prior: float, features: dict, owner, seniority: str) -> float:
    """The calibrated P(approve): the data's estimate shrunk towards the finding's own prior."""
    if not params:
        return prior
    target = shrink_target(params, prior)
    n = labelled_like(params, features)
    if not n:
        return target
    p_data = data_probability(params, vector(features, params, owner=owner, seniority=seniority))
    return (n * p_data + PRIOR_STRENGTH * target) / (n + PRIOR_STRENGTH)


def shown_metrics(pairs: Sequence[tuple[float, int]]) -> dict:
    """Brier of the confidence reps were shown against their decisions, beside a constant at the
    approval rate (the honest, out-of-sample score of the earlier versions)."""
    if not pairs:
        return {"shown_reviews": 0}
    labels = [y for _, y in pairs]
    rate = sum(labels) / len(labels)
    return {"shown_reviews": len(pairs), "shown_brier": float(brier_score_loss(labels, [p for p, _ in pairs])),
            "shown_brier_base_rate": float(brier_score_loss(labels, [rate] * len(labels)))}  # fmt: skip


def _metrics(usable: list[tuple[Labelled, int]], params: dict, rows: Iterable[Labelled]) -> dict:
    rows = list(rows)
    reasons: dict[str, int] = {}
    for r in rows:
        if not r.approved:
            reasons[r.reject_reason or "other"] = reasons.get(r.reject_reason or "other", 0) + 1
    metrics: dict = {"labelled": len(usable), "reviewed": len(rows), "reject_reasons": reasons,
                     "approval_rate": sum(r.approved for r in rows) / len(rows) if rows else None}  # fmt: skip
    judged = [r for r in rows if r.approved or r.reject_reason in TRIGGER_MISSES]
    metrics["trigger_precision"] = sum(r.approved for r in judged) / len(judged) if judged else None
    if usable:
        labels = [y for _, y in usable]
        shown = [
            probability(params, prior=as_number(r.features.get("prior"), 0.5), features=r.features, owner=r.owner,
                        seniority=r.seniority)
            for r, _ in usable
        ]  # fmt: skip
        mean = sum(labels) / len(labels)
        metrics["brier"] = float(brier_score_loss(labels, shown))
        metrics["brier_base_rate"] = float(brier_score_loss(labels, [mean] * len(labels)))
    return metrics
