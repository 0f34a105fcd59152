"""Receiving one inbound e-mail (a reply or a bounce to our outreach), whichever doorway it came by
(``POST /api/v1/inbound/email`` or django-anymail's views):

1. thread it to the outreach it answers (``signals.inbound.threads``),
2. strip quoted history and signatures (``signals.inbound.text``),
3. recognise bounces (``signals.inbound.bounces``) and auto-replies (RFC 3834 and friends),
4. classify a human reply's intent and sentiment (``signals.intent.classify_reply``),
5. check who sent it (``signals.inbound.verification``),
6. store one signal with ``record_signal`` (dedupe on the Message-ID; analysis announced on commit),
7. and act on what the person said, only when the sender is verified (``signals.inbound.effects``).
   An unverified e-mail is stored all the same, with its intent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from salesai.text import single_line
from signals.autoreply import is_delivery_status_notification
from signals.inbound.bounces import record_bounce
from signals.inbound.effects import ReplyEffects, apply_reply_effects, plan_reply_effects
from signals.inbound.message import InboundEmail, base_properties, external_id_for, occurred_at_of
from signals.inbound.text import reply_text_of
from signals.inbound.threads import Thread, thread_email
from signals.inbound.verification import sender_verdict
from signals.intent import ReplyClassification, classify_reply
from signals.models import Signal, Source
from signals.storing import record_signal

logger = logging.getLogger(__name__)


@transaction.atomic
def receive_inbound_email(
    *, source: Source, email: InboundEmail, received_at: datetime | None = None
) -> tuple[Signal, bool]:
    """Store one inbound e-mail as an ``email_reply`` (or ``email_bounced``) signal and act on it.

    Returns ``(signal, created)``; a resend of the same Message-ID returns the stored signal and does
    nothing else. ``received_at`` is the provider's delivery time, used when the e-mail has no Date.
    The signal says whether its sender is verified (``sender_verified``, ``verification``) and what it
    asked for that was not done (``effect_withheld``)."""
    email = email.without_nul()
    occurred_at = occurred_at_of(email, received_at)
    if is_delivery_status_notification(headers=email.headers, subject=email.subject, from_address=email.from_email):
        return record_bounce(source=source, email=email, occurred_at=occurred_at)

    thread = thread_email(in_reply_to=email.in_reply_to, references=email.references, sender_email=email.from_email)
    text = reply_text_of(email)
    result = classify_reply(
        text, subject=email.subject, headers=email.headers, received_at=occurred_at, sender_email=email.from_email
    )
    verdict = sender_verdict(email, thread)
    effects = plan_reply_effects(result=result, verdict=verdict, thread=thread, sender_email=email.from_email)
    properties = (
        base_properties(email)
        | _classification_properties(result, text=text, thread=thread, effects=effects)
        | verdict.as_properties()
        | effects.as_properties()
    )
    signal, created = record_signal(
        source=source,
        kind=Signal.Kind.EMAIL_REPLY,
        external_id=external_id_for(email),
        occurred_at=occurred_at,
        account=thread.account,
        contact=thread.contact,
        properties=properties,
        message_id=email.message_id[:500],
        in_reply_to=thread.outreach,
        intent=result.intent,
        intent_confidence=round(result.confidence, 4) if result.intent else None,
        sentiment=result.sentiment,
        is_auto_reply=result.is_auto_reply,
    )
    if created:
        apply_reply_effects(signal=signal, result=result, effects=effects, occurred_at=occurred_at)
        if effects.withheld:
            logger.info(
                "inbound e-mail stored, its effect withheld",
                extra={"signal_id": signal.pk, "intent": result.intent, "sender_verified": verdict.verified},
            )
    return signal, created


def _classification_properties(
    result: ReplyClassification, *, text: str, thread: Thread, effects: ReplyEffects
) -> dict:
    properties: dict = {
        "text": text,
        "threaded_by": thread.threaded_by,
        "intent_method": result.method,
        "intent_reason": result.reason,
    }
    if result.probabilities:
        properties["probabilities"] = result.probabilities
    if result.is_auto_reply:
        properties["auto_reply_reason"] = result.reason
    if result.check_in_at:
        properties["check_in_at"] = result.check_in_at.isoformat()
        properties["check_in_phrase"] = single_line(result.check_in_phrase, max_length=200)
    if result.referral:
        properties["referral"] = result.referral.as_dict()
        if effects.referral_not_added:
            properties["referral"]["not_added"] = effects.referral_not_added
    return properties
