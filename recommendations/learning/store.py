"""The current version of each learnt model, as this process sees it.

Reading models must not cost the analysis a query each time: the latest version of every (kind, key)
is loaded once and kept for :data:`RELOAD_SECONDS` of real time (a worker sees a retrain within that),
and :func:`forget` drops it at once in the process that trained."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Subquery

from recommendations.learning.models import LearnedModel

RELOAD_SECONDS = 30.0
#: Two processes may store a version of one model at once (a review's quick retrain beside the hourly
#: one): the loser of the unique (kind, key, version) reads the new latest and tries again.
SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class Models:
    confidence: dict[str, dict] = field(default_factory=dict)  # playbook → params
    contact: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)


_cache: dict[str, tuple[float, Models]] = {}


def enabled() -> bool:
    """Whether learning acts (``LEARNING_ENABLED``; ``simulate --no-learning`` turns it off)."""
    return getattr(settings, "LEARNING_ENABLED", True)


def current() -> Models:
    """The latest version of every model (empty while learning is off or nothing was trained)."""
    if not enabled():
        return Models()
    cached = _cache.get("models")
    if cached is not None and time.monotonic() - cached[0] < RELOAD_SECONDS:
        return cached[1]
    latest = LearnedModel.objects.filter(kind=OuterRef("kind"), key=OuterRef("key")).order_by("-version")
    rows = LearnedModel.objects.filter(version=Subquery(latest.values("version")[:1])).values("kind", "key", "params")
    confidence: dict[str, dict] = {}
    singles: dict[str, dict] = {}
    for row in rows:
        if row["kind"] == LearnedModel.Kind.CONFIDENCE:
            confidence[row["key"]] = row["params"]
        else:
            singles[row["kind"]] = row["params"]
    models = Models(confidence=confidence, contact=singles.get(LearnedModel.Kind.CONTACT, {}),
                    timing=singles.get(LearnedModel.Kind.TIMING, {}), fit=singles.get(LearnedModel.Kind.FIT, {}))  # fmt: skip
    _cache["models"] = (time.monotonic(), models)
    return models


def forget() -> None:
    _cache.clear()


def latest_version(kind: str, key: str) -> int:
    return LearnedModel.objects.filter(kind=kind, key=key).aggregate(last=Max("version"))["last"] or 0


def save_version(*, kind: str, key: str = "", params: dict, metrics: dict, n_samples: int,
                 now: dt.datetime) -> LearnedModel:  # fmt: skip
    """Store a new version of one model (never overwrite an old one)."""
    for attempt in range(SAVE_ATTEMPTS):
        try:
            with transaction.atomic():
                row = LearnedModel.objects.create(kind=kind, key=key, version=latest_version(kind, key) + 1, params=params,
                                                  metrics=metrics, n_samples=n_samples, trained_at=now)  # fmt: skip
            break
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS - 1:
                raise
    transaction.on_commit(forget)
    return row
