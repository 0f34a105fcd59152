"""Retraining: close outcome windows, then fit every model from the outcome records and store each
as a new version with its metrics (only when it changed). Called by the beat task, the admin action
and ``manage.py retrain_learning``; does nothing while learning is off."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.db import transaction

from accounts.models import Account, AccountPicture, Opportunity
from recommendations.learning import calibration, contacts, fit, outcomes, peers, store
from recommendations.learning.models import LearnedModel, RecommendationOutcome
from recommendations.learning.timing import timing_params

logger = logging.getLogger(__name__)

#: Reviews older than this do not train the confidence (tastes drift; recency weights the rest).
TRAIN_DAYS = 28
CLOSED = [r for r in RecommendationOutcome.Result.values if r not in ("pending", "not_sent")]


def retrain(*, now: dt.datetime) -> dict:
    """Everything, in order. Returns what was trained (for the command, the admin and the logs)."""
    if not store.enabled():
        return {"skipped": "learning is off (LEARNING_ENABLED=false)"}
    closed = outcomes.close_windows(now=now)
    result = {"windows_closed": closed, "fit": train_fit(now=now), "confidence": train_confidence(now=now),
              "contact": train_contacts(now=now)}  # fmt: skip
    store.forget()
    logger.info("learning_retrained", extra={k: v for k, v in result.items() if k != "confidence"})
    return result


def _save_if_changed(*, kind: str, key: str = "", params: dict, metrics: dict, n: int, now: dt.datetime) -> bool:
    last = LearnedModel.objects.filter(kind=kind, key=key).order_by("-version").values_list("params", flat=True).first()
    if last == params:
        return False
    store.save_version(kind=kind, key=key, params=params, metrics=metrics, n_samples=n, now=now)
    return True


def _reviewed(now: dt.datetime):
    return RecommendationOutcome.objects.filter(
        review__in=["approved", "edited", "rejected"], reviewed_at__gte=now - dt.timedelta(days=TRAIN_DAYS)
    )


def train_confidence(*, now: dt.datetime) -> dict[str, int]:
    """One model per playbook with reviews; its params also carry the peers' outcome counts."""
    rows_by_playbook: dict[str, list[calibration.Labelled]] = defaultdict(list)
    for o in _reviewed(now).values("playbook", "features", "seniority", "review", "reject_reason", "reviewed_at"):
        features = o["features"] if isinstance(o["features"], dict) else {}
        rows_by_playbook[o["playbook"]].append(
            calibration.Labelled(playbook=o["playbook"], features=features, owner=features.get("owner"),
                                 seniority=o["seniority"], review=o["review"], reject_reason=o["reject_reason"],
                                 at=o["reviewed_at"])
        )  # fmt: skip
    peer_counts = _peer_counts(now)
    trained = {}
    for playbook in sorted(set(rows_by_playbook) | set(peer_counts)):
        rows = rows_by_playbook.get(playbook, [])
        prior = sum(calibration.as_number(r.features.get("prior"), 0.5) for r in rows) / len(rows) if rows else 0.5
        params, metrics = calibration.fit_playbook(rows, prior=prior, now=now)
        params.update(peer_counts.get(playbook, {"peers": {}, "sent": 0, "sent_positive": 0}))
        _save_if_changed(kind=LearnedModel.Kind.CONFIDENCE, key=playbook, params=params, metrics=metrics, n=len(rows),
                         now=now)  # fmt: skip
        trained[playbook] = len(rows)
    return trained


def _peer_counts(now: dt.datetime) -> dict[str, dict]:
    """Per playbook: sent outcomes with a known result in the last 90 days, by segment and seniority."""
    counts: dict[str, dict] = {}
    since = now - dt.timedelta(days=peers.PEER_DAYS)
    for o in RecommendationOutcome.objects.filter(sent=True, sent_at__gte=since, result__in=CLOSED).values(
        "playbook", "segment", "seniority", "result"
    ):
        entry = counts.setdefault(o["playbook"], {"peers": {}, "sent": 0, "sent_positive": 0})
        positive = int(o["result"] in RecommendationOutcome.POSITIVE)
        entry["sent"] += 1
        entry["sent_positive"] += positive
        for seg, sen in ((o["segment"], o["seniority"]), (o["segment"], ""), ("", o["seniority"])):
            pair = entry["peers"].setdefault(peers.peer_key(seg, sen), [0, 0])
            pair[0] += 1
            pair[1] += positive
    return counts


def train_contacts(*, now: dt.datetime) -> int:
    """Wrong-contact rejections by (rep, playbook, role) and by (account, person, playbook), and the
    wrong-timing counts by (playbook, segment), over the last 90 days."""
    roles: dict[str, list[int]] = {}
    people: dict[str, int] = {}
    rows = list(
        RecommendationOutcome.objects.filter(
            review__in=["approved", "edited", "rejected"], reviewed_at__gte=now - dt.timedelta(days=90)
        ).values("playbook", "features", "seniority", "review", "reject_reason", "account_id",
                 "recommendation__contact_id", "segment")
    )  # fmt: skip
    for o in rows:
        owner = o["features"].get("owner") if isinstance(o["features"], dict) else None
        key = contacts.role_key(owner, o["playbook"], o["seniority"])
        pair = roles.setdefault(key, [0, 0])
        wrong = o["reject_reason"] == "wrong_contact"
        pair[0] += wrong
        pair[1] += 1
        if wrong and o["recommendation__contact_id"]:
            person = contacts.person_key(o["account_id"], o["recommendation__contact_id"], o["playbook"])
            people[person] = people.get(person, 0) + 1
    params = {"roles": roles, "people": people}
    _save_if_changed(
        kind=LearnedModel.Kind.CONTACT, params=params, metrics={"reviews": len(rows)}, n=len(rows), now=now
    )
    _save_if_changed(kind="timing", params=timing_params(rows), metrics={"reviews": len(rows)}, n=len(rows), now=now)
    return len(rows)


def _account_rows(accounts) -> list[fit.AccountRow]:
    usage = dict(
        AccountPicture.objects.filter(account__in=[a.pk for a in accounts]).values_list("account_id", "features")
    )
    return [
        fit.AccountRow(id=a.pk, segment=a.segment, plan=a.plan, seats=a.seats, arr=float(a.arr),
                       usage_28d=(usage.get(a.pk) or {}).get("usage_events_28d"))
        for a in accounts
    ]  # fmt: skip


def train_fit(*, now: dt.datetime) -> dict:
    """Fit from each account's latest closed deal; score every account and keep the summary on it."""
    latest: dict[int, str] = {}
    for account_id, status in (
        Opportunity.objects.filter(status__in=[Opportunity.Status.WON, Opportunity.Status.LOST])
        .order_by("account_id", "stage_changed_at", "id")
        .values_list("account_id", "status")
    ):
        latest[account_id] = status
    accounts = list(Account.objects.only("id", "segment", "plan", "seats", "arr", "fit_score", "fit_summary"))
    rows = {row.id: row for row in _account_rows(accounts)}
    labelled = [rows[i] for i in latest if i in rows]
    labels = [int(latest[r.id] == Opportunity.Status.WON) for r in labelled]
    params, metrics = fit.train(labelled, labels)
    _save_if_changed(kind=LearnedModel.Kind.FIT, params=params, metrics=metrics, n=len(labels), now=now)
    changed = []
    for account in accounts:
        row = rows[account.pk]
        score, text = fit.score(params, row), fit.summary(params, row)
        score = None if score is None else round(score, 4)
        if (account.fit_score, account.fit_summary) != (score, text[:300]):
            account.fit_score, account.fit_summary = score, text[:300]
            changed.append(account)
    with transaction.atomic():
        Account.objects.bulk_update(changed, ["fit_score", "fit_summary"], batch_size=500)
    return {**metrics, "accounts_updated": len(changed)}
