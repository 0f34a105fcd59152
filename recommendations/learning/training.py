"""Retraining: close outcome windows, then fit every model from the outcome records and store each
as a new version with its metrics (only when it changed). Called by the beat task, the admin action
and ``manage.py retrain_learning``; does nothing while learning is off."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.db import transaction

from accounts.models import Account, AccountPicture, Opportunity
from recommendations.learning import calibration, contacts, fit, outcomes, peers, store, thresholds
from recommendations.learning.judge import calibrated, learned_priority
from recommendations.learning.models import LearnedModel, RecommendationOutcome
from recommendations.learning.timing import timing_params
from recommendations.models import Recommendation

logger = logging.getLogger(__name__)

#: Reviews older than this do not train the confidence (tastes drift; recency weights the rest).
TRAIN_DAYS = 28
#: The confidence reps saw in these last days, against what they decided: out of sample by construction
#: (each was shown by an earlier version before the review that labels it).
SHOWN_DAYS = 7
CLOSED = [r for r in RecommendationOutcome.Result.values if r not in ("pending", "not_sent")]


def retrain(*, now: dt.datetime) -> dict:
    """Everything, in order. Returns what was trained (for the command, the admin and the logs)."""
    if not store.enabled():
        return {"skipped": "learning is off (LEARNING_ENABLED=false)"}
    closed = outcomes.close_windows(now=now)
    result = {"windows_closed": closed, "fit": train_fit(now=now), "confidence": train_confidence(now=now),
              "contact": train_contacts(now=now)}  # fmt: skip
    store.forget()
    result["refreshed"] = refresh_pending(now=now)
    reps = Account.objects.exclude(owner=None).values("owner").distinct().count()
    result["threshold_proposals"] = len(thresholds.propose(now=now, reps=reps))
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


def train_confidence(*, now: dt.datetime, playbooks: set[str] | None = None) -> dict[str, int]:
    """One model per playbook with reviews (only ``playbooks`` when given); its params also carry the
    peers' outcome counts. The installation's record (every playbook's) is read either way."""
    rows_by_playbook: dict[str, list[calibration.Labelled]] = defaultdict(list)
    shown: dict[str, list[tuple[float, int]]] = defaultdict(list)
    recent = now - dt.timedelta(days=SHOWN_DAYS)
    everyone = reviewed = _reviewed(now)
    if playbooks is not None:
        reviewed = reviewed.filter(playbook__in=playbooks)
    # in review order: a model fitted to the same rows in another order differs in the last digits
    for o in reviewed.order_by("reviewed_at", "pk").values("playbook", "features", "seniority", "review",
                                                           "reject_reason", "reviewed_at", "confidence_shown"):  # fmt: skip
        features = o["features"] if isinstance(o["features"], dict) else {}
        if o["reviewed_at"] >= recent and o["confidence_shown"] is not None:
            shown[o["playbook"]].append((o["confidence_shown"], int(o["review"] != "rejected")))
        rows_by_playbook[o["playbook"]].append(
            calibration.Labelled(playbook=o["playbook"], features=features, owner=features.get("owner"),
                                 seniority=o["seniority"], review=o["review"], reject_reason=o["reject_reason"],
                                 at=o["reviewed_at"])
        )  # fmt: skip
    if playbooks is None:  # every playbook's rows are loaded already
        pool = calibration.pooled((r for rows in rows_by_playbook.values() for r in rows), now)
    else:  # only what the record needs of the others
        pool = calibration.pooled(
            (calibration.Labelled(playbook="", features={}, owner=None, seniority="", review=review,
                                  reject_reason=reason, at=at)
             for review, reason, at in everyone.values_list("review", "reject_reason", "reviewed_at")),
            now,
        )  # fmt: skip
    peer_counts = _peer_counts(now, playbooks)
    trained = {}
    for playbook in sorted(set(rows_by_playbook) | set(peer_counts)):
        rows = rows_by_playbook.get(playbook, [])
        prior = sum(calibration.as_number(r.features.get("prior"), 0.5) for r in rows) / len(rows) if rows else 0.5
        params, metrics = calibration.fit_playbook(rows, prior=prior, now=now, pool=pool)
        metrics.update(calibration.shown_metrics(shown.get(playbook, [])))
        params.update(peer_counts.get(playbook, {"peers": {}, "sent": 0, "sent_positive": 0}))
        _save_if_changed(kind=LearnedModel.Kind.CONFIDENCE, key=playbook, params=params, metrics=metrics, n=len(rows),
                         now=now)  # fmt: skip
        trained[playbook] = len(rows)
    # playbooks nobody reviewed yet start from the installation's record
    _save_if_changed(kind=LearnedModel.Kind.CONFIDENCE, key=calibration.POOLED, params={"n": 0, "pooled": pool},
                     metrics={"pooled": pool}, n=0, now=now)  # fmt: skip
    return trained


def young(playbook: str) -> bool:
    """Whether the playbook's estimate still moves with each review: learning is on and its model has
    fewer labels than :data:`calibration.MIN_FIT` (or there is none yet)."""
    if not store.enabled():
        return False
    params = store.current().confidence.get(playbook)
    return not params or params.get("n", 0) < calibration.MIN_FIT


def after_review(*, playbook: str, now: dt.datetime, wrong_contact: bool = False) -> int:
    """Learn from one review at once where waiting for the hourly retrain would show the rep a stale
    number this very morning, and refresh the playbook's pending cards. Returns how many changed.

    - A playbook whose estimate is still :func:`young`: retrain it. While labels are few each one moves
      the estimate a lot, and a rep working through a morning's inbox should not read the hand-set guess
      on the twentieth card after approving the first nineteen.
    - ``wrong_contact``: the rep called the card's contact the wrong person. Retrain the contact record,
      so the next card of the playbook to that role reads this rep's verdict (rare, so cheap).

    Past that the hourly retrain is enough, so the cost stays bounded."""
    retrained = False
    if wrong_contact and store.enabled():
        train_contacts(now=now)
        retrained = True
    if young(playbook):
        train_confidence(now=now, playbooks={playbook})
        retrained = True
    if not retrained:
        return 0
    store.forget()
    return refresh_pending(now=now, playbooks={playbook})


def _peer_counts(now: dt.datetime, playbooks: set[str] | None = None) -> dict[str, dict]:
    """Per playbook: sent outcomes with a known result in the last 90 days, by segment and seniority."""
    counts: dict[str, dict] = {}
    since = now - dt.timedelta(days=peers.PEER_DAYS)
    sent = RecommendationOutcome.objects.filter(sent=True, sent_at__gte=since, result__in=CLOSED)
    if playbooks is not None:
        sent = sent.filter(playbook__in=playbooks)
    for o in sent.values("playbook", "segment", "seniority", "result"):
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
    people: dict[str, int] = {}
    recent: dict[str, list[bool]] = {}
    rows = list(
        RecommendationOutcome.objects.filter(
            review__in=["approved", "edited", "rejected"], reviewed_at__gte=now - dt.timedelta(days=90)
        )
        .order_by("reviewed_at", "pk")  # each role's window keeps its latest reviews: ties in one order
        .values("playbook", "features", "seniority", "review", "reject_reason", "account_id",
                "recommendation__contact_id", "segment", "reviewed_at")
    )  # fmt: skip
    for o in rows:
        owner = o["features"].get("owner") if isinstance(o["features"], dict) else None
        key = contacts.role_key(owner, o["playbook"], o["seniority"])
        wrong = o["reject_reason"] == "wrong_contact"
        recent[key] = [*recent.get(key, []), wrong][-contacts.ROLE_WINDOW :]
        if wrong and o["recommendation__contact_id"]:
            person = contacts.person_key(o["account_id"], o["recommendation__contact_id"], o["playbook"])
            people[person] = people.get(person, 0) + 1
    roles = {key: [sum(last), len(last)] for key, last in recent.items()}
    params = {"roles": roles, "people": people}
    _save_if_changed(
        kind=LearnedModel.Kind.CONTACT, params=params, metrics={"reviews": len(rows)}, n=len(rows), now=now
    )
    _save_if_changed(
        kind=LearnedModel.Kind.TIMING, params=timing_params(rows), metrics={"reviews": len(rows)}, n=len(rows), now=now
    )
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


def refresh_pending(*, now: dt.datetime, playbooks: set[str] | None = None) -> int:
    """Pending recommendations show the current model's probability (and the priority it feeds), not the
    one of the day they were composed: what a rep reads this morning is today's estimate, for one that
    has waited this long. The version does not move: what would be approved (draft, recipient,
    evidence) is unchanged."""
    models = store.current()
    changed = []
    pending = Recommendation.objects.filter(status=Recommendation.Status.PENDING)
    if playbooks is not None:
        pending = pending.filter(playbook__in=playbooks)
    for rec in pending.select_related(
        "account", "contact"
    ).only("id", "playbook", "findings", "stakes", "confidence", "confidence_note", "priority", "created_at",
           "account__owner_id", "account__fit_score", "contact__seniority"):  # fmt: skip
        lead = (
            rec.findings[0]
            if isinstance(rec.findings, list) and rec.findings and isinstance(rec.findings[0], dict)
            else {}
        )
        features = lead.get("features")
        params = models.confidence.get(rec.playbook) or models.confidence.get(calibration.POOLED)
        if not isinstance(features, dict) or not params:
            continue  # composed before learning, or nothing learnt: left as composed
        prior = calibration.as_number(features.get("prior"), 0.5)
        features = {**features, "waited_days": outcomes.waited_days(rec, now)}
        p, note = calibrated(params, prior=prior, features=features, owner=rec.account.owner_id,
                             seniority=rec.contact.seniority if rec.contact else "", contact=models.contact,
                             playbook=rec.playbook)  # fmt: skip
        priority = learned_priority(urgency=calibration.as_number(features.get("urgency"), 0.5), stakes=rec.stakes,
                                    intent=calibration.as_number(features.get("intent"), 0.0), confidence=p,
                                    fit=rec.account.fit_score)  # fmt: skip
        if (rec.confidence, rec.confidence_note, rec.priority) != (p, note[:300], priority):
            rec.confidence, rec.confidence_note, rec.priority = p, note[:300], priority
            changed.append(rec)
    Recommendation.objects.bulk_update(changed, ["confidence", "confidence_note", "priority"], batch_size=500)
    return len(changed)
