"""Keeping each recommendation's outcome record up to date (DESIGN.md §3, "Outcome").

Fed by receivers (``recommendations.learning.receivers``): a Review row (approved, edited, rejected
with its reason, cancelled = undone), a succeeded Execution (sent, by a person's approval or
autonomously), and the stored signals that answer what was sent (replies, bounces, meetings). When
the window closes, :func:`close_windows` reads the account's opportunities (created, advanced, won,
lost within the window) and labels the rest ``silence``. For sends a person approved as much as for
autonomous ones; the trust record (``services/outcomes.py``) stays as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from accounts.models import Opportunity
from recommendations.learning.models import RecommendationOutcome as O
from recommendations.models import Execution, Recommendation, Review
from salesai import clock
from signals.models import Signal

NEGATIVE_SENTIMENT = -0.3
POSITIVE_SENTIMENT = 0.3
#: How long after a send what follows still counts as its outcome.
WINDOW = dt.timedelta(days=14)
#: Strength order: a later, stronger result replaces a weaker one (a meeting beats a reply).
_RANK = {
    O.Result.PENDING: 0,
    O.Result.NOT_SENT: 0,
    O.Result.SILENCE: 1,
    O.Result.BOUNCE: 2,
    O.Result.NEGATIVE_REPLY: 3,
    O.Result.UNSUBSCRIBE: 4,
    O.Result.POSITIVE_REPLY: 5,
    O.Result.MEETING: 6,
    O.Result.OPPORTUNITY_CREATED: 7,
    O.Result.OPPORTUNITY_ADVANCED: 8,
    O.Result.LOST: 9,
    O.Result.WON: 10,
}
_NEGATIVE_INTENTS = {"not_interested": O.Result.NEGATIVE_REPLY, "wrong_person": O.Result.NEGATIVE_REPLY,
                     "unsubscribe": O.Result.UNSUBSCRIBE}  # fmt: skip
_POSITIVE_INTENTS = {"interested", "question", "referral"}


def reply_result(*, kind: str, intent: str, sentiment: float | None, is_auto_reply: bool) -> str | None:
    """What one returning signal says about the e-mail it answers, or None when it says nothing.

    Unlike the trust label, an unverified positive reply counts here: it cannot widen autonomy (the
    trust bound decides that), it only tells the learning what tends to be answered."""
    if kind == Signal.Kind.EMAIL_BOUNCED:
        return O.Result.BOUNCE
    if kind == Signal.Kind.MEETING_BOOKED:
        return O.Result.MEETING
    if kind != Signal.Kind.EMAIL_REPLY or is_auto_reply or intent == "auto_reply":
        return None
    if intent in _NEGATIVE_INTENTS:
        return _NEGATIVE_INTENTS[intent]
    if sentiment is not None and sentiment <= NEGATIVE_SENTIMENT:
        return O.Result.NEGATIVE_REPLY
    if intent in _POSITIVE_INTENTS or (sentiment is not None and sentiment >= POSITIVE_SENTIMENT):
        return O.Result.POSITIVE_REPLY
    return None


def _stronger(current: str, new: str) -> str:
    return new if _RANK.get(new, 0) > _RANK.get(current, 0) else current


def _snapshot(rec: Recommendation) -> dict:
    lead = (rec.findings or [{}])[0] if isinstance(rec.findings, list) and rec.findings else {}
    features = dict(lead.get("features") or {})
    features.setdefault("prior", lead.get("confidence", rec.confidence))
    features.setdefault("urgency", lead.get("urgency", 0.5))
    return features


def waited_days(recommendation: Recommendation, now: dt.datetime) -> float:
    """How long the recommendation has waited for a person (days since it was proposed)."""
    if recommendation.created_at is None:
        return 0.0
    return round(max(0.0, (now - recommendation.created_at).total_seconds() / 86400), 3)


def outcome_for(*, recommendation: Recommendation, now: dt.datetime) -> O:
    """The recommendation's outcome row, opened (with its snapshot) if it has none yet."""
    existing = O.objects.filter(recommendation=recommendation).first()
    if existing is not None:
        return existing
    account = recommendation.account
    contact = recommendation.contact
    outcome, _ = O.objects.get_or_create(
        recommendation=recommendation,
        defaults={
            "account": account,
            "playbook": recommendation.playbook,
            "action_type": recommendation.action_type,
            "segment": account.segment,
            "seniority": contact.seniority if contact else "",
            "features": {**_snapshot(recommendation), "owner": account.owner_id, "account": account.pk},
            "confidence_shown": recommendation.confidence,
            "created_at": now,
            "updated_at": now,
        },
    )
    return outcome


def record_review(*, review: Review) -> O:
    """A person decided: approved, edited, rejected (with its reason) or cancelled (undone)."""
    now = review.created_at or clock.now()
    with transaction.atomic():
        outcome = outcome_for(recommendation=review.recommendation, now=now)
        if review.decision == Review.Decision.SNOOZED:
            return outcome
        if review.decision == Review.Decision.CANCELLED:
            outcome.undone = True
        else:
            outcome.review = review.decision
            outcome.reject_reason = review.reason if review.decision == Review.Decision.REJECTED else ""
            outcome.reviewed_at = now
            outcome.confidence_shown = review.recommendation.confidence
            outcome.features = {**outcome.features, "waited_days": waited_days(review.recommendation, now)}
        if review.decision == Review.Decision.REJECTED:
            outcome.result = O.Result.NOT_SENT
        outcome.updated_at = now
        outcome.save()
    return outcome


def record_sent(*, execution: Execution) -> O | None:
    """A succeeded execution: the recommendation was sent (opens the window)."""
    if execution.status != Execution.Status.SUCCEEDED:
        return None
    now = execution.finished_at or clock.now()
    with transaction.atomic():
        outcome = outcome_for(recommendation=execution.recommendation, now=now)
        if outcome.sent:
            return outcome
        outcome.sent, outcome.sent_at, outcome.autonomous = True, now, execution.autonomous
        outcome.message_id = execution.message_id or ""
        outcome.window_ends_at = now + WINDOW
        if outcome.result in (O.Result.PENDING, O.Result.NOT_SENT):
            outcome.result = O.Result.PENDING
        outcome.updated_at = now
        outcome.save()
    return outcome


def record_followups(*, signal_ids: list[int], kinds: Iterable[str] | None = None) -> int:
    """Replies, bounces and meetings among ``signal_ids`` → the outcomes of what they answer; returns
    how many outcomes changed. A reply or bounce is matched by the e-mail it answers; a meeting by the
    account's open window. One query for the batch, one for the matching outcomes."""
    watched = {Signal.Kind.EMAIL_REPLY, Signal.Kind.EMAIL_BOUNCED, Signal.Kind.MEETING_BOOKED}
    if kinds is not None and not watched & set(kinds):
        return 0
    rows = list(
        Signal.objects.filter(pk__in=signal_ids, kind__in=watched).values(
            "kind", "intent", "sentiment", "is_auto_reply", "properties", "occurred_at", "account_id",
            "in_reply_to__message_id",
        )
    )  # fmt: skip
    if not rows:
        return 0
    by_message: dict[str, list[tuple[dict, str]]] = {}
    by_account: dict[int, list[tuple[dict, str]]] = {}
    for row in rows:
        result = reply_result(kind=row["kind"], intent=row["intent"] or "", sentiment=row["sentiment"],
                              is_auto_reply=row["is_auto_reply"])  # fmt: skip
        if result is None:
            continue
        message_id = row["in_reply_to__message_id"] or str((row["properties"] or {}).get("message_id") or "")
        if message_id and row["kind"] != Signal.Kind.MEETING_BOOKED:
            by_message.setdefault(message_id, []).append((row, result))
        elif row["account_id"]:
            by_account.setdefault(row["account_id"], []).append((row, result))
    if not by_message and not by_account:
        return 0
    earliest = min(row["occurred_at"] for pairs in by_account.values() for row, _ in pairs) if by_account else None
    match = Q(message_id__in=list(by_message))
    if by_account:
        match |= Q(account_id__in=list(by_account), window_ends_at__gte=earliest)
    with transaction.atomic():  # announced after commit, outside any transaction: one for the row locks
        return _apply_followups(match, by_message, by_account)


def _apply_followups(match: Q, by_message: dict, by_account: dict) -> int:
    """Add what followed to the matching sent outcomes (locked), keeping the strongest result."""
    changed = 0
    for outcome in O.objects.filter(match, sent=True).select_for_update():
        found = by_message.get(outcome.message_id, []) if outcome.message_id in by_message else []
        found += [
            pair for pair in by_account.get(outcome.account_id, ())
            if outcome.sent_at and outcome.sent_at <= pair[0]["occurred_at"] <= (outcome.window_ends_at or pair[0]["occurred_at"])
        ]  # fmt: skip
        if not found:
            continue
        for row, result in found:
            outcome.followed = [*outcome.followed, {"result": result, "at": row["occurred_at"].isoformat()}]
            outcome.result = _stronger(outcome.result, result)
        outcome.updated_at = clock.now()
        outcome.save(update_fields=["followed", "result", "updated_at"])
        changed += 1
    return changed


def close_windows(*, now: dt.datetime) -> int:
    """Outcomes whose window ended: the account's opportunities in the window decide, else silence
    (when nothing else followed). Returns how many were closed."""
    due = list(O.objects.filter(sent=True, window_ends_at__lte=now, result=O.Result.PENDING))
    if not due:
        return 0
    opportunities: dict[int, list[Opportunity]] = {}
    for opp in Opportunity.objects.filter(account_id__in={o.account_id for o in due}):
        opportunities.setdefault(opp.account_id, []).append(opp)
    for outcome in due:
        outcome.result = opportunity_result(outcome, opportunities.get(outcome.account_id, ())) or O.Result.SILENCE
        outcome.updated_at = now
    O.objects.bulk_update(due, ["result", "updated_at"])
    return len(due)


def opportunity_result(outcome: O, opportunities: Iterable[Opportunity]) -> str | None:
    """What the account's deals did inside the outcome's window: won, lost, advanced or created."""
    start, end = outcome.sent_at, outcome.window_ends_at
    best: str | None = None
    for opp in opportunities:
        moved = opp.stage_changed_at is not None and start <= opp.stage_changed_at <= end
        if moved and opp.status == Opportunity.Status.WON:
            result = O.Result.WON
        elif moved and opp.status == Opportunity.Status.LOST:
            result = O.Result.LOST
        elif start <= opp.created_at <= end:
            result = O.Result.OPPORTUNITY_CREATED
        elif moved:
            result = O.Result.OPPORTUNITY_ADVANCED
        else:
            continue
        best = result if best is None else _stronger(best, result)
    return best
