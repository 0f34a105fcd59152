"""Turning what followed our actions (replies, bounces) into trust outcomes (``receivers`` calls it for
every stored batch).

Only e-mails the system sent *on its own* are labelled here: a person's approved e-mail was already
labelled by the review. A reply is matched to our e-mail by ``in_reply_to`` (the inbound service
threads it by Message-ID); a bounce by ``in_reply_to`` or its ``properties["message_id"]``.

Cost: one query per announced batch (the batch's replies and bounces, joined to the e-mail they
answer); only when one of them answers an e-mail we sent does a second query load the executions.
"""

from __future__ import annotations

from collections.abc import Iterable

from recommendations.learning.outcomes import NEGATIVE_SENTIMENT, POSITIVE_SENTIMENT
from recommendations.models import Execution
from signals.models import Signal
from trust import services as trust
from trust.models import Outcome

_INTENT_FAILURES = {
    "unsubscribe": Outcome.Kind.UNSUBSCRIBE,
    "wrong_person": Outcome.Kind.WRONG_PERSON,
    "not_interested": Outcome.Kind.NEGATIVE_REPLY,
}
_INTENT_SUCCESSES = {"interested", "question", "referral"}
_COMPLAINT_WORDS = {"complaint", "complained", "spam", "spamreport"}


def outcome_kind_for(
    *, kind: str, intent: str, sentiment: float | None, is_auto_reply: bool, properties: dict
) -> str | None:
    """The trust label of a reply or bounce to an autonomous e-mail, or None when it says nothing."""
    if kind == "email_bounced":
        event = str(properties.get("event") or properties.get("type") or "").lower()
        return Outcome.Kind.COMPLAINT if event in _COMPLAINT_WORDS else Outcome.Kind.BOUNCE
    if kind != "email_reply" or is_auto_reply or intent == "auto_reply":
        return None
    if intent in _INTENT_FAILURES:
        return _INTENT_FAILURES[intent]
    if sentiment is not None and sentiment <= NEGATIVE_SENTIMENT:
        return Outcome.Kind.NEGATIVE_REPLY
    if intent in _INTENT_SUCCESSES or (sentiment is not None and sentiment >= POSITIVE_SENTIMENT):
        # A success widens autonomy, so it counts only from a verified sender: a forged "interested"
        # must not earn salesai the right to send alone. A forged failure only slows autonomy down.
        return Outcome.Kind.POSITIVE_REPLY if properties.get("sender_verified") else None
    return None


def record_autonomous_outcomes(*, signal_ids: list[int], kinds: Iterable[str] | None = None) -> int:
    """Replies and bounces among ``signal_ids`` that answer an e-mail salesai sent on its own → trust
    outcomes; returns how many were recorded. ``kinds``, when the announcer says what it stored, spares
    the query for a batch that holds no reply or bounce."""
    if kinds is not None and not {"email_reply", "email_bounced"} & set(kinds):
        return 0  # the announcer told us what it stored: nothing here can be an outcome
    rows = list(
        Signal.objects.filter(pk__in=signal_ids, kind__in=["email_reply", "email_bounced"]).values(
            "kind", "intent", "sentiment", "is_auto_reply", "properties", "occurred_at", "in_reply_to__message_id"
        )
    )
    if not rows:
        return 0
    by_message: dict[str, list[dict]] = {}
    for row in rows:
        message_id = row["in_reply_to__message_id"] or str((row["properties"] or {}).get("message_id") or "")
        if message_id:
            by_message.setdefault(message_id, []).append(row)
    if not by_message:
        return 0
    executions = Execution.objects.filter(
        message_id__in=list(by_message), autonomous=True, status=Execution.Status.SUCCEEDED
    ).values("message_id", "recommendation_id", "recommendation__action_type")
    recorded = 0
    for execution in executions:
        for row in by_message[execution["message_id"]]:
            kind = outcome_kind_for(
                kind=row["kind"],
                intent=row["intent"] or "",
                sentiment=row["sentiment"],
                is_auto_reply=row["is_auto_reply"],
                properties=row["properties"] or {},
            )
            if kind is None:
                continue
            trust.record_outcome(
                domain=execution["recommendation__action_type"],
                kind=kind,
                reference=f"recommendation:{execution['recommendation_id']}",
                autonomous=True,
                occurred_at=row["occurred_at"],
            )
            recorded += 1
    return recorded
